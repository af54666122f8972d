"""Interaction counts of the ReDial-only learned reranker (:mod:`retrieval.rerank`): how often items were
recommended and mentioned in training conversations, and recommended after or alongside other items,
laid out over an item table; and each conversation's own contribution, removed when featurising its own
turns (leave-one-conversation-out)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from retrieval.itemstore import ItemTable


@dataclass(frozen=True)
class ConversationTurn:
    """One recommendation moment of a recorded conversation: what had been mentioned, what came next.

    ``conversation`` groups turns (counts are per conversation, and leave-one-out removes a whole
    conversation); ``mentioned`` are item ids mentioned before the turn; ``recommended`` the item ids
    recommended in it; ``wanted`` what had been asked for before it (:func:`wish_keys`).
    """

    conversation: str
    mentioned: tuple[str, ...]
    recommended: tuple[str, ...]
    wanted: tuple[str, ...] = ()


def wish_keys(genres: Iterable[str], people: Iterable[str]) -> tuple[str, ...]:
    """The keys a conversation's wishes are counted under: ``genre:<name>`` and ``person:<name>``
    (case-folded), e.g. ``("genre:horror", "person:jim carrey")``."""
    keys = [f"genre:{g.casefold()}" for g in genres] + [f"person:{p.casefold()}" for p in people]
    return tuple(dict.fromkeys(keys))


@dataclass(frozen=True)
class Contribution:
    """What one conversation adds to :class:`InteractionStats` (each item and pair once)."""

    recommended: frozenset[str]
    mentioned: frozenset[str]
    seeds: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    comentions: frozenset[tuple[str, str]] = frozenset()
    wishes: frozenset[str] = frozenset()
    wish_pairs: frozenset[tuple[str, str]] = frozenset()


def contributions(turns: Iterable[ConversationTurn]) -> dict[str, Contribution]:
    """Per conversation: the items recommended, mentioned, used as seeds, and (seed, item) pairs.

    A seed is an item mentioned before some recommendation of the conversation; a pair links a seed
    to each item recommended after it (the item itself excluded); co-mentions are all ordered pairs of
    distinct items that came up in the same conversation (recommended or not). A wish is a key of
    :func:`wish_keys` asked for before some recommendation; a wish pair links it to each item
    recommended after it that had not been mentioned yet.
    """
    rec: dict[str, set[str]] = {}
    wishes: dict[str, set[str]] = {}
    wish_pairs: dict[str, set[tuple[str, str]]] = {}
    men: dict[str, set[str]] = {}
    seeds: dict[str, set[str]] = {}
    pairs: dict[str, set[tuple[str, str]]] = {}
    for t in turns:
        key = t.conversation
        rec.setdefault(key, set()).update(t.recommended)
        men.setdefault(key, set()).update(t.mentioned)
        men[key].update(t.recommended)
        if t.recommended:
            seeds.setdefault(key, set()).update(t.mentioned)
            pairs.setdefault(key, set()).update((s, r) for s in t.mentioned for r in t.recommended if s != r)
            if t.wanted:
                new = [r for r in t.recommended if r not in t.mentioned]
                wishes.setdefault(key, set()).update(t.wanted)
                wish_pairs.setdefault(key, set()).update((w, r) for w in t.wanted for r in new)
    return {
        key: Contribution(
            recommended=frozenset(rec.get(key, ())),
            mentioned=frozenset(men.get(key, ())),
            seeds=frozenset(seeds.get(key, ())),
            pairs=frozenset(pairs.get(key, ())),
            comentions=frozenset((a, b) for a in men[key] for b in men[key] if a != b),
            wishes=frozenset(wishes.get(key, ())),
            wish_pairs=frozenset(wish_pairs.get(key, ())),
        )
        for key in men
    }


@dataclass
class InteractionStats:
    """Counts over training conversations, every count being a number of conversations.

    ``recommended[i]``: conversations where ``i`` was recommended; ``mentioned[i]``: where it came up
    at all; ``seeds[s]``: where ``s`` was mentioned before a recommendation; ``pairs[(s, i)]``: where
    ``i`` was recommended after ``s`` had been mentioned; ``comentions[(a, b)]``: where both came up;
    ``wishes[w]``: where wish ``w`` (:func:`wish_keys`) was asked for before a recommendation;
    ``wish_pairs[(w, i)]``: where a new item ``i`` was recommended after wish ``w``.
    """

    conversations: int = 0
    recommended: Counter[str] = field(default_factory=Counter)
    mentioned: Counter[str] = field(default_factory=Counter)
    seeds: Counter[str] = field(default_factory=Counter)
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    comentions: Counter[tuple[str, str]] = field(default_factory=Counter)
    wishes: Counter[str] = field(default_factory=Counter)
    wish_pairs: Counter[tuple[str, str]] = field(default_factory=Counter)

    @classmethod
    def from_contributions(cls, contribs: Iterable[Contribution]) -> InteractionStats:
        out = cls()
        for c in contribs:
            out.conversations += 1
            out.recommended.update(c.recommended)
            out.mentioned.update(c.mentioned)
            out.seeds.update(c.seeds)
            out.pairs.update(c.pairs)
            out.comentions.update(c.comentions)
            out.wishes.update(c.wishes)
            out.wish_pairs.update(c.wish_pairs)
        return out

    @classmethod
    def from_turns(cls, turns: Iterable[ConversationTurn]) -> InteractionStats:
        return cls.from_contributions(contributions(turns).values())


_TITLE_WORD = re.compile(r"[a-z0-9]+")
_TITLE_STOP = frozenset(["the", "a", "an", "of", "and", "in", "on", "to", "at", "for", "with", "part", "vol", "chapter", "episode", "movie"])


def title_words(title: str) -> list[str]:
    """Lower-case title words without articles and series words: "The Dark Knight Rises" -> dark, knight,
    rises. Shared words flag sequels and franchises ("Guardians of the Galaxy Vol. 2")."""
    return [w for w in _TITLE_WORD.findall(title.casefold()) if w not in _TITLE_STOP and not w.isdigit()]


def _pair_matrix(pairs: Mapping[tuple[str, str], float], pos: Mapping[str, int], n: int,
                 row_pos: Mapping[str, int] | None = None) -> sparse.csr_matrix:
    """``pairs`` as a sparse matrix: rows by ``row_pos`` (default ``pos``), columns by ``pos``."""
    row_pos = pos if row_pos is None else row_pos
    rows, cols, vals = [], [], []
    for (a, b), count in pairs.items():
        pa, pb = row_pos.get(a), pos.get(b)
        if pa is not None and pb is not None:
            rows.append(pa)
            cols.append(pb)
            vals.append(count)
    shape = (len(row_pos) if row_pos is not pos else n, n)
    return sparse.csr_matrix((np.asarray(vals, dtype=np.float64), (rows, cols)), shape=shape)


class StatsArrays:
    """:class:`InteractionStats` laid out over one item table's positions (ids not in it are dropped)."""

    def __init__(self, stats: InteractionStats, table: ItemTable) -> None:
        n = len(table)
        pos = table.pos
        self.table_size = n
        self.rec = np.zeros(n, dtype=np.float64)
        self.mention = np.zeros(n, dtype=np.float64)
        self.seed = np.zeros(n, dtype=np.float64)
        for counter, arr in ((stats.recommended, self.rec), (stats.mentioned, self.mention),
                             (stats.seeds, self.seed)):
            for item_id, count in counter.items():
                p = pos.get(item_id)
                if p is not None:
                    arr[p] = count
        self.cooc = _pair_matrix(stats.pairs, pos, n)
        self.comention = _pair_matrix(stats.comentions, pos, n)
        # wishes: one row per wish key (``wish_row``), counts in ``wish``
        wishes = sorted(stats.wishes)
        self.wish_row = {w: j for j, w in enumerate(wishes)}
        self.wish = np.array([stats.wishes[w] for w in wishes], dtype=np.float64)
        self.wish_rec = _pair_matrix(stats.wish_pairs, pos, n, self.wish_row)
        self.title_words = [frozenset(title_words(it.title)) for it in table.items]
        # popularity order for candidate expansion: recommended, then mentioned, then position
        order = np.lexsort((np.arange(n), -self.mention, -self.rec))
        self.popular_order = order[self.rec[order] + self.mention[order] > 0]


@dataclass(frozen=True)
class Minus:
    """A conversation's own contribution in table positions, removed from the counts when featurising
    its own turns during training (leave-one-conversation-out), so that no turn sees its answer."""

    rec: np.ndarray
    mention: np.ndarray
    seed: np.ndarray
    pairs: frozenset[tuple[int, int]]
    comentions: frozenset[tuple[int, int]] = frozenset()
    wishes: frozenset[str] = frozenset()
    wish_pairs: frozenset[tuple[str, int]] = frozenset()

    @classmethod
    def of(cls, contrib: Contribution, table: ItemTable) -> Minus:
        pos = table.pos

        def arr(ids: Iterable[str]) -> np.ndarray:
            return np.array(sorted(pos[i] for i in ids if i in pos), dtype=np.int64)

        def pairs(ps: Iterable[tuple[str, str]]) -> frozenset[tuple[int, int]]:
            return frozenset((pos[a], pos[b]) for a, b in ps if a in pos and b in pos)

        return cls(arr(contrib.recommended), arr(contrib.mentioned), arr(contrib.seeds), pairs(contrib.pairs),
                   pairs(contrib.comentions), contrib.wishes,
                   frozenset((w, pos[i]) for w, i in contrib.wish_pairs if i in pos))



__all__ = ["Contribution", "ConversationTurn", "InteractionStats", "Minus", "StatsArrays", "contributions",
           "title_words", "wish_keys"]
