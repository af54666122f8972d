"""Reference rankers for the ReDial benchmark that need no model: the floor a real system must beat.

Every ranker follows :class:`Ranker`: ``rank(turn, k, exclude)`` returns up to ``k`` canonical catalogue
ids, best first, none of them in ``exclude``. BM25-only and dense-only baselines built on the
retrieval API are added beside this one by the benchmark runner.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from typing import Protocol

from eval.redial_turns import RedialTurn

log = logging.getLogger(__name__)


class Ranker(Protocol):
    """Anything that ranks catalogue ids for a ReDial turn."""

    def rank(self, turn: RedialTurn, k: int, exclude: Collection[str] = ()) -> list[str]: ...


class PopularityRanker:
    """Ranks every item by how often the human recommenders suggested it; ignores the conversation.

    :meth:`fit` counts, over the training turns, how often each catalogue item occurs in ``rec`` (once
    per turn) and in how many dialogues it is mentioned (``entity`` lists are cumulative within a
    dialogue, so a mention is counted once per dialogue, not once per later turn). The ranking orders
    items by rec count, then mention count, then id (for determinism): items that were only ever
    mentioned come after every recommended one.

    Fitting and scoring on the same turns (as on the dev split, where no training split is at hand)
    is *in-sample* and therefore optimistic: the ranker has seen the very answers it is scored on. Fit
    on one split and score on another for an honest number.
    """

    def __init__(self) -> None:
        self.rec_counts: Counter[str] = Counter()
        self.mention_counts: Counter[str] = Counter()
        self._order: list[str] = []

    def fit(self, turns: Iterable[RedialTurn], id_of_name: Mapping[str, str]) -> PopularityRanker:
        """Count recommendations and mentions in ``turns``; names are resolved with ``id_of_name``.

        Names (in ``rec`` and ``entity``) that do not resolve are ignored: ``entity`` also holds genres
        and people. Returns ``self``.
        """
        rec_counts: Counter[str] = Counter()
        mentioned: dict[str, set[str]] = {}
        n_turns = 0
        for turn in turns:
            n_turns += 1
            rec_ids = {id_of_name[name] for name in turn.rec if name in id_of_name}
            rec_counts.update(rec_ids)
            seen = mentioned.setdefault(turn.dialog_id, set())
            seen.update(id_of_name[name] for name in turn.entity if name in id_of_name)
        mention_counts: Counter[str] = Counter(i for ids in mentioned.values() for i in ids)
        self.rec_counts = rec_counts
        self.mention_counts = mention_counts
        self._order = sorted(
            set(rec_counts) | set(mention_counts),
            key=lambda i: (-rec_counts[i], -mention_counts[i], _id_key(i)),
        )
        log.info(
            "popularity fitted on %d turns: %d recommended items, %d ranked in all",
            n_turns,
            len(rec_counts),
            len(self._order),
        )
        return self

    @property
    def ranking(self) -> list[str]:
        """The full fitted order (a copy)."""
        return list(self._order)

    def rank(self, turn: RedialTurn, k: int, exclude: Collection[str] = ()) -> list[str]:
        """The ``k`` most popular items not in ``exclude``; ``turn`` is ignored (context-free).

        Returns fewer than ``k`` ids when fewer items were counted at fit time.
        """
        if not self._order:
            raise RuntimeError("PopularityRanker.rank called before fit (or fitted on turns without items)")
        if k < 1:
            raise ValueError(f"k must be positive, got {k}")
        skip = exclude if isinstance(exclude, (set, frozenset)) else set(exclude)
        out: list[str] = []
        for item in self._order:
            if item not in skip:
                out.append(item)
                if len(out) == k:
                    break
        return out


def _id_key(item_id: str) -> tuple[int, str]:
    return (int(item_id), item_id) if item_id.isdigit() else (1 << 62, item_id)


__all__ = ["PopularityRanker", "Ranker"]
