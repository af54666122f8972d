"""A learned reranker: a gradient-boosted scorer over features of each candidate and the query.

No reranker model is packaged, so this one is trained here, on recorded conversations (for movies:
the ReDial dialogues, see ``recbot train-reranker``). It plugs into
:class:`retrieval.retriever.Retriever` through the ``Reranker`` protocol and does two things:

1. **adds candidates** the content lists cannot find: the items people recommended most often in the
   training conversations (ReDial's human recommenders favour well-known films, so popularity alone
   beats plain dense retrieval there), and items often recommended in conversations that mentioned
   the same items as this one ("co-recommended"). Added items obey the query exactly like retrieved
   ones: hard constraints (:func:`retrieval.filters.mask`) and exclusions (shown, seen, liked,
   disliked) always hold.
2. **scores every candidate** with a :class:`~sklearn.ensemble.HistGradientBoostingClassifier` trained
   on (conversation turn, candidate) pairs labelled by whether the candidate was then recommended.

The features (:data:`FEATURES`; :data:`FEATURE_VERSION` changes whenever their meaning does) mix
content and prior signals:

- retrieval: fused RRF score, raw dense and BM25 scores, whether a neighbour list found it, its
  position in the fused list;
- content: cosine of the query text to the item, max / mean cosine to the liked items and to every
  item mentioned so far, max cosine to disliked items, wanted genre / people match, genre overlap
  with the liked items, year distance to the liked items, the item's year;
- priors learned from the training conversations (:class:`InteractionStats`): how often the item was
  recommended and mentioned, and how often it was recommended after the items mentioned here
  (``P(recommended | seed mentioned)``, summed and maxed over seeds) or mentioned in the same
  conversations (co-mention, denser than co-recommendation);
- context: how many liked / mentioned items, words of free text and genres the query has.

Missing values are NaN (the boosted trees route them natively). A trained :class:`RerankerArtifact`
is cached under ``<cache>/rerankers/<catalogue>/`` and named by the catalogue fingerprint (every
item's content hash and the embedder) and the feature version, so a changed catalogue or feature set
never loads a stale model: :func:`load_reranker` simply finds nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from retrieval.embeddings import Embedder
from retrieval.filters import mask
from retrieval.itemstore import ItemTable
from retrieval.schema import Candidate, Query

log = logging.getLogger(__name__)

FEATURE_VERSION = 1
FEATURES: tuple[str, ...] = (
    # retrieval signals of the fused list (NaN for items the reranker added)
    "rrf", "dense", "lexical", "in_neighbour", "fused_rank",
    # content
    "text_sim", "liked_max", "liked_mean", "context_max", "dislike_max",
    "genre_match", "people_match", "profile_match", "liked_genre_overlap", "seed_people_overlap",
    "seed_title_overlap", "year", "year_gap_liked",
    # priors from training conversations
    "rec_log", "mention_log", "cooc_sum", "cooc_max", "comention_sum", "comention_max", "catalogue_pop",
    # the query itself
    "n_liked", "n_context", "text_words", "n_genres",
)
ARTIFACT_DIR = "rerankers"


# --------------------------------------------------------------------------------------------------
# priors learned from conversations


@dataclass(frozen=True)
class ConversationTurn:
    """One recommendation moment of a recorded conversation: what had been mentioned, what came next.

    ``conversation`` groups turns (counts are per conversation, and leave-one-out removes a whole
    conversation); ``mentioned`` are item ids mentioned before the turn; ``recommended`` the item ids
    recommended in it.
    """

    conversation: str
    mentioned: tuple[str, ...]
    recommended: tuple[str, ...]


@dataclass(frozen=True)
class Contribution:
    """What one conversation adds to :class:`InteractionStats` (each item and pair once)."""

    recommended: frozenset[str]
    mentioned: frozenset[str]
    seeds: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    comentions: frozenset[tuple[str, str]] = frozenset()


def contributions(turns: Iterable[ConversationTurn]) -> dict[str, Contribution]:
    """Per conversation: the items recommended, mentioned, used as seeds, and (seed, item) pairs.

    A seed is an item mentioned before some recommendation of the conversation; a pair links a seed
    to each item recommended after it (the item itself excluded); co-mentions are all ordered pairs of
    distinct items that came up in the same conversation (recommended or not).
    """
    rec: dict[str, set[str]] = {}
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
    return {
        key: Contribution(
            recommended=frozenset(rec.get(key, ())),
            mentioned=frozenset(men.get(key, ())),
            seeds=frozenset(seeds.get(key, ())),
            pairs=frozenset(pairs.get(key, ())),
            comentions=frozenset((a, b) for a in men[key] for b in men[key] if a != b),
        )
        for key in men
    }


@dataclass
class InteractionStats:
    """Counts over training conversations, every count being a number of conversations.

    ``recommended[i]``: conversations where ``i`` was recommended; ``mentioned[i]``: where it came up
    at all; ``seeds[s]``: where ``s`` was mentioned before a recommendation; ``pairs[(s, i)]``: where
    ``i`` was recommended after ``s`` had been mentioned; ``comentions[(a, b)]``: where both came up.
    """

    conversations: int = 0
    recommended: Counter[str] = field(default_factory=Counter)
    mentioned: Counter[str] = field(default_factory=Counter)
    seeds: Counter[str] = field(default_factory=Counter)
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    comentions: Counter[tuple[str, str]] = field(default_factory=Counter)

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
        return out

    @classmethod
    def from_turns(cls, turns: Iterable[ConversationTurn]) -> InteractionStats:
        return cls.from_contributions(contributions(turns).values())


_TITLE_WORD = re.compile(r"[a-z0-9]+")
_TITLE_STOP = frozenset("the a an of and in on to at for with part vol chapter episode movie".split())


def title_words(title: str) -> list[str]:
    """Lower-case title words without articles and series words: "The Dark Knight Rises" -> dark, knight,
    rises. Shared words flag sequels and franchises ("Guardians of the Galaxy Vol. 2")."""
    return [w for w in _TITLE_WORD.findall(title.casefold()) if w not in _TITLE_STOP and not w.isdigit()]


def _pair_matrix(pairs: Mapping[tuple[str, str], float], pos: Mapping[str, int], n: int) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for (a, b), count in pairs.items():
        pa, pb = pos.get(a), pos.get(b)
        if pa is not None and pb is not None:
            rows.append(pa)
            cols.append(pb)
            vals.append(count)
    return sparse.csr_matrix((np.asarray(vals, dtype=np.float64), (rows, cols)), shape=(n, n))


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

    @classmethod
    def of(cls, contrib: Contribution, table: ItemTable) -> Minus:
        pos = table.pos

        def arr(ids: Iterable[str]) -> np.ndarray:
            return np.array(sorted(pos[i] for i in ids if i in pos), dtype=np.int64)

        def pairs(ps: Iterable[tuple[str, str]]) -> frozenset[tuple[int, int]]:
            return frozenset((pos[a], pos[b]) for a, b in ps if a in pos and b in pos)

        return cls(arr(contrib.recommended), arr(contrib.mentioned), arr(contrib.seeds), pairs(contrib.pairs),
                   pairs(contrib.comentions))


# --------------------------------------------------------------------------------------------------
# candidates and features


@dataclass
class RerankConfig:
    # Measured on the ReDial dev turns (5-fold OOF, new-only): a pool of 800 / 200 / 150 holds 66.8% of
    # the rec items instead of 60.3%, but scores the same (R@10 .174 vs .176, R@50 .351 vs .352) at 2.5x
    # the training time and a slower turn, so the smaller pool stays.
    popular: int = 300  # most-recommended items added to the pool
    genre_popular: int = 150  # most-recommended items of the wanted genres (or the liked items' genres)
    co_recommended: int = 100  # items most often recommended after this conversation's items
    max_seeds: int = 20  # most recent mentioned items used as seeds
    profile_genres: int = 2  # without wanted genres: this many of the liked items' commonest genres


def _positions(table: ItemTable, ids: Iterable[str]) -> list[int]:
    pos = table.pos
    return list(dict.fromkeys(pos[i] for i in ids if i in pos))


def seed_positions(query: Query, table: ItemTable, max_seeds: int = 20) -> list[int]:
    """Items this conversation mentioned: shown, seen, disliked and liked ones.

    Disliked items are seeds too: the counts they are looked up in come from every item mentioned in
    a training conversation, whatever was said about it (and negation is easy to misread: "I haven't
    seen X" is not a dislike). Closeness to disliked items is a feature of its own.
    """
    return _positions(table, (*query.exclude_ids, *query.disliked_ids, *query.liked_ids))[-max_seeds:]


def genre_profile(query: Query, table: ItemTable, n_liked_genres: int = 2) -> frozenset[str]:
    """Genres the conversation points at (lower case): the wanted ones, else the liked items' commonest."""
    if query.genres:
        return frozenset(g.casefold() for g in query.genres)
    counts: Counter[str] = Counter()
    for p in _positions(table, query.liked_ids):
        counts.update(table.genre_sets[p])
    return frozenset(g for g, _ in counts.most_common(n_liked_genres))


def _pair_scores(matrix: sparse.csr_matrix, counts: np.ndarray, seeds: Sequence[int], cols: np.ndarray | None,
                 own_pairs: frozenset[tuple[int, int]] = frozenset(),
                 own_counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(sum, max) over seeds of ``matrix[s, i] / (counts[s] + 1)`` for columns ``cols`` (all if None).

    ``own_pairs`` / ``own_counts`` (a training conversation's own) are subtracted first.
    """
    width = matrix.shape[1] if cols is None else len(cols)
    if not seeds:
        return np.zeros(width), np.zeros(width)
    block = matrix[list(seeds)]
    dense = (block.toarray() if cols is None else block[:, cols].toarray()).astype(np.float64)
    denom = counts[list(seeds)].copy()
    if own_pairs:
        by_seed: dict[int, list[int]] = {}
        for ps, pi in own_pairs:
            by_seed.setdefault(ps, []).append(pi)
        col_index = None if cols is None else {int(c): j for j, c in enumerate(cols)}
        for r, s in enumerate(seeds):
            for pi in by_seed.get(s, ()):
                j = pi if col_index is None else col_index.get(pi)
                if j is not None:
                    dense[r, j] -= 1
    if own_counts is not None and own_counts.size:
        own = set(own_counts.tolist())
        denom -= np.array([1.0 if s in own else 0.0 for s in seeds])
    prob = np.maximum(dense, 0.0) / (np.maximum(denom, 0.0) + 1.0)[:, None]
    return prob.sum(axis=0), prob.max(axis=0)


def _cooc_scores(stats: StatsArrays, seeds: Sequence[int], cols: np.ndarray | None,
                 minus: Minus | None) -> tuple[np.ndarray, np.ndarray]:
    """``P(recommended | seed mentioned)`` summed and maxed over seeds."""
    if minus is None:
        return _pair_scores(stats.cooc, stats.seed, seeds, cols)
    return _pair_scores(stats.cooc, stats.seed, seeds, cols, minus.pairs, minus.seed)


def _comention_scores(stats: StatsArrays, seeds: Sequence[int], cols: np.ndarray | None,
                      minus: Minus | None) -> tuple[np.ndarray, np.ndarray]:
    """``P(mentioned in the same conversation | seed mentioned)`` summed and maxed over seeds."""
    if minus is None:
        return _pair_scores(stats.comention, stats.mention, seeds, cols)
    return _pair_scores(stats.comention, stats.mention, seeds, cols, minus.comentions, minus.mention)


def expand_candidates(query: Query, candidates: Sequence[Candidate], table: ItemTable, stats: StatsArrays,
                      config: RerankConfig, minus: Minus | None = None) -> list[Candidate]:
    """``candidates`` plus popular and co-recommended items that satisfy the query, none excluded.

    Added candidates carry a ``prior`` signal and a reason ("often recommended" or "often recommended
    alongside <a mentioned item>"); their retrieval signals are absent.
    """
    allowed = mask(table, query)
    blocked = _positions(table, (*query.exclude_ids, *query.disliked_ids, *query.liked_ids))
    if blocked:
        allowed[blocked] = False
    present = {table.pos[c.item.id] for c in candidates if c.item.id in table.pos}
    out = list(candidates)

    rec = stats.rec if minus is None else _minus_counts(stats.rec, minus.rec)
    mention = stats.mention if minus is None else _minus_counts(stats.mention, minus.mention)
    added = 0
    order = stats.popular_order
    if minus is not None and (minus.rec.size or minus.mention.size):
        order = np.lexsort((np.arange(len(rec)), -mention, -rec))
        order = order[rec[order] + mention[order] > 0]
    for p in order:
        if added >= config.popular:
            break
        p = int(p)
        if allowed[p] and p not in present:
            out.append(Candidate(item=table.items[p], score=0.0, signals={"prior": float(rec[p])},
                                 reasons=["often recommended"]))
            present.add(p)
            added += 1

    profile = genre_profile(query, table, config.profile_genres)
    if profile and config.genre_popular > 0:
        added = 0
        for p in order:
            if added >= config.genre_popular:
                break
            p = int(p)
            hit = table.genre_sets[p] & profile
            if hit and allowed[p] and p not in present:
                out.append(Candidate(item=table.items[p], score=0.0, signals={"prior": float(rec[p])},
                                     reasons=[f"often recommended {sorted(hit)[0]} pick"]))
                present.add(p)
                added += 1

    seeds = seed_positions(query, table, config.max_seeds)
    if seeds and config.co_recommended > 0:
        total, _ = _cooc_scores(stats, seeds, None, minus)
        total[~allowed] = 0.0
        if present:
            total[list(present)] = 0.0
        k = min(config.co_recommended, int(np.count_nonzero(total > 0)))
        if k:
            top = np.argpartition(-total, k - 1)[:k]
            top = top[np.argsort(-total[top], kind="stable")]
            block = stats.cooc[seeds][:, top].toarray()
            for j, p in enumerate(top):
                src = seeds[int(np.argmax(block[:, j]))]
                out.append(Candidate(item=table.items[int(p)], score=0.0, signals={"prior": float(total[p])},
                                     reasons=[f"often recommended alongside {table.items[src].label}"]))
    return out


def _minus_counts(arr: np.ndarray, own: np.ndarray) -> np.ndarray:
    if own.size == 0:
        return arr
    out = arr.copy()
    out[own] -= 1
    return out


def _dense_text(query: Query) -> str:
    return " ".join(x for x in (query.text.strip(), *query.genres, *query.people) if x)


def featurize(query: Query, candidates: Sequence[Candidate], table: ItemTable, stats: StatsArrays,
              qvec: np.ndarray | None = None, minus: Minus | None = None,
              max_seeds: int = 20, profile_genres: int = 2) -> np.ndarray:
    """The ``len(candidates) x len(FEATURES)`` feature matrix (float64, NaN = missing).

    ``qvec`` is the embedded query text (see :func:`_dense_text`); without it ``text_sim`` falls back
    to the dense signal the retriever recorded. ``minus`` removes a training conversation's own counts.
    """
    m = len(candidates)
    X = np.full((m, len(FEATURES)), np.nan, dtype=np.float64)
    if m == 0:
        return X
    col = {name: j for j, name in enumerate(FEATURES)}
    cand_pos = np.array([table.pos[c.item.id] for c in candidates], dtype=np.int64)
    vecs = table.vectors[cand_pos]

    for j, c in enumerate(candidates):
        sig = c.signals
        if "rrf" in sig:
            X[j, col["rrf"]] = sig["rrf"]
            X[j, col["fused_rank"]] = j + 1
            X[j, col["in_neighbour"]] = 1.0 if "neighbour" in sig else 0.0
        if "dense" in sig:
            X[j, col["dense"]] = sig["dense"]
        if "lexical" in sig:
            X[j, col["lexical"]] = sig["lexical"]

    if qvec is not None:
        X[:, col["text_sim"]] = vecs @ qvec
    else:
        X[:, col["text_sim"]] = X[:, col["dense"]]

    liked = _positions(table, query.liked_ids)
    if liked:
        sims = vecs @ table.vectors[liked].T
        X[:, col["liked_max"]] = sims.max(axis=1)
        X[:, col["liked_mean"]] = sims.mean(axis=1)
    seeds = seed_positions(query, table, max_seeds)
    if seeds:
        X[:, col["context_max"]] = (vecs @ table.vectors[seeds].T).max(axis=1)
    disliked = _positions(table, query.disliked_ids)
    if disliked:
        X[:, col["dislike_max"]] = (vecs @ table.vectors[disliked].T).max(axis=1)

    profile = genre_profile(query, table, profile_genres)
    wanted_g = {g.casefold() for g in query.genres}
    wanted_p = {p.casefold() for p in query.people}
    liked_genres: set[str] = set().union(*(table.genre_sets[p] for p in liked)) if liked else set()
    liked_years = [table.years[p] for p in liked if not np.isnan(table.years[p])]
    liked_year = float(np.median(liked_years)) if liked_years else None
    seed_people = [table.people_sets[q] for q in seeds]
    seed_titles = [stats.title_words[q] for q in seeds if stats.title_words[q]]
    for j, p in enumerate(cand_pos):
        genres = table.genre_sets[p]
        if seed_people:
            X[j, col["seed_people_overlap"]] = max(len(table.people_sets[p] & sp) for sp in seed_people)
        words = stats.title_words[p]
        if seed_titles and words:
            X[j, col["seed_title_overlap"]] = max(len(words & w) / len(words | w) for w in seed_titles)
        if wanted_g:
            X[j, col["genre_match"]] = len(genres & wanted_g) / len(wanted_g)
        if profile:
            X[j, col["profile_match"]] = len(genres & profile) / len(profile)
        if wanted_p:
            X[j, col["people_match"]] = len(table.people_sets[p] & wanted_p) / len(wanted_p)
        if liked_genres and genres:
            X[j, col["liked_genre_overlap"]] = len(genres & liked_genres) / len(genres)
    years = table.years[cand_pos]
    X[:, col["year"]] = years
    if liked_year is not None:
        X[:, col["year_gap_liked"]] = np.abs(years - liked_year)

    rec = stats.rec[cand_pos].copy()
    mention = stats.mention[cand_pos].copy()
    if minus is not None:
        rec -= np.isin(cand_pos, minus.rec)
        mention -= np.isin(cand_pos, minus.mention)
    X[:, col["rec_log"]] = np.log1p(np.maximum(rec, 0))
    X[:, col["mention_log"]] = np.log1p(np.maximum(mention, 0))
    total, best = _cooc_scores(stats, seeds, cand_pos, minus)
    X[:, col["cooc_sum"]] = total
    X[:, col["cooc_max"]] = best
    total, best = _comention_scores(stats, seeds, cand_pos, minus)
    X[:, col["comention_sum"]] = total
    X[:, col["comention_max"]] = best
    X[:, col["catalogue_pop"]] = table.popularity[cand_pos]

    X[:, col["n_liked"]] = len(liked)
    X[:, col["n_context"]] = len(seeds)
    X[:, col["text_words"]] = len(query.text.split())
    X[:, col["n_genres"]] = len(query.genres)
    return X


# --------------------------------------------------------------------------------------------------
# the model


_controller: Any = None


def predict_positive(model: Any, X: np.ndarray) -> np.ndarray:
    """``model.predict_proba(X)[:, 1]`` on one thread.

    A turn scores a few hundred rows: OpenMP's threads cost more than they save there, and on a busy
    2-core machine they wait on each other (35 ms a call instead of 2 ms, measured here).
    """
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="openmp"):
        return model.predict_proba(X)[:, 1]


def fit_model(X: np.ndarray, y: np.ndarray, *, seed: int = 0, max_iter: int = 150) -> Any:
    """A gradient-boosted binary classifier over the feature matrix (deterministic for a seed)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    if X.shape[1] != len(FEATURES):
        raise ValueError(f"X has {X.shape[1]} columns, expected {len(FEATURES)} ({FEATURE_VERSION=})")
    if y.sum() == 0 or y.sum() == len(y):
        raise ValueError("training labels must contain both positives and negatives")
    # Small trees and large leaves (1% of the rows, at most 1,000): on ~2,000 training turns deeper
    # models overfit (dialogue-grouped CV on the ReDial dev turns: 31 leaves of >= 100 rows R@50 .30,
    # 4 leaves of >= 1,000 rows .34). 150 trees at rate 0.1 score as 300 at 0.05 and predict twice as
    # fast (prediction costs per tree, ~0.1 ms each on 2 cores, whatever the number of candidates).
    model = HistGradientBoostingClassifier(
        learning_rate=0.1, max_iter=max_iter, max_leaf_nodes=4,
        min_samples_leaf=int(np.clip(len(y) // 100, 5, 1000)),
        l2_regularization=1.0, early_stopping=False, random_state=seed,
    )
    empty = np.all(np.isnan(X), axis=0)
    if empty.any():  # a feature never present in training (e.g. no query had people): a constant
        X = X.copy()
        X[:, empty] = 0.0
    model.fit(X, y)
    return model


@dataclass
class ScoringModel:
    """One trained scorer with the interaction counts it was trained with."""

    model: Any
    stats: InteractionStats
    trained_on: int  # training rows
    positives: int


@dataclass
class RerankerArtifact:
    """Everything ``recbot train-reranker`` saves for one catalogue.

    ``final`` was trained on every conversation; ``folds`` are the cross-validation models, and
    ``fold_of`` maps each training conversation to the fold whose model never saw it, so an
    evaluation on the training conversations can stay out-of-fold (see ``eval/systems.py``).
    """

    catalogue: str
    fingerprint: str
    final: ScoringModel
    folds: list[ScoringModel] = field(default_factory=list)
    fold_of: dict[str, int] = field(default_factory=dict)
    config: RerankConfig = field(default_factory=RerankConfig)
    meta: dict[str, Any] = field(default_factory=dict)
    feature_version: int = FEATURE_VERSION
    features: tuple[str, ...] = FEATURES

    def save(self, path: Path) -> Path:
        """Pickle the artifact atomically and write a readable ``.json`` summary beside it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        summary = {
            "catalogue": self.catalogue, "fingerprint": self.fingerprint,
            "feature_version": self.feature_version, "features": list(self.features),
            "folds": len(self.folds), "conversations": len(self.fold_of),
            "final_rows": self.final.trained_on, "final_positives": self.final.positives, **self.meta,
        }
        path.with_suffix(".json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> RerankerArtifact:
        # The artifact is written by `recbot train-reranker` into this user's own cache directory.
        with open(path, "rb") as fh:
            art = pickle.load(fh)  # noqa: S301 - a local, self-written file
        if not isinstance(art, cls):
            raise TypeError(f"{path} does not hold a reranker artifact")
        if art.feature_version != FEATURE_VERSION or tuple(art.features) != FEATURES:
            raise ValueError(f"{path} was trained with feature version {art.feature_version}; "
                             f"this code uses {FEATURE_VERSION}: run `recbot train-reranker` again")
        return art


class LearnedReranker:
    """The :class:`~retrieval.retriever.Reranker` backed by one :class:`ScoringModel`.

    ``rerank`` expands the retriever's head with popular and co-recommended items, scores all of them
    and returns them best first; ``score`` is the model's probability that the item gets
    recommended, also kept as the ``rerank`` signal. Candidates the model ranks are never fewer than
    those given.
    """

    name = "learned"

    def __init__(self, scorer: ScoringModel, embedder: Embedder | None = None,
                 config: RerankConfig | None = None) -> None:
        self.scorer = scorer
        self.embedder = embedder
        self.config = config or RerankConfig()
        self._arrays: tuple[int, StatsArrays] | None = None

    def arrays(self, table: ItemTable) -> StatsArrays:
        if self._arrays is None or self._arrays[0] != id(table):
            self._arrays = (id(table), StatsArrays(self.scorer.stats, table))
        return self._arrays[1]

    def query_vector(self, query: Query) -> np.ndarray | None:
        text = _dense_text(query)
        return self.embedder.embed_query(text) if text and self.embedder is not None else None

    def pool(self, query: Query, candidates: Sequence[Candidate], table: ItemTable,
             minus: Minus | None = None) -> list[Candidate]:
        return expand_candidates(query, candidates, table, self.arrays(table), self.config, minus)

    def rerank(self, query: Query, candidates: list[Candidate], table: ItemTable) -> list[Candidate]:
        pool = self.pool(query, candidates, table)
        if not pool:
            return pool
        X = featurize(query, pool, table, self.arrays(table), self.query_vector(query),
                      max_seeds=self.config.max_seeds, profile_genres=self.config.profile_genres)
        scores = predict_positive(self.scorer.model, X)
        out = []
        for c, s in zip(pool, scores, strict=True):
            out.append(Candidate(item=c.item, score=float(s), signals={**c.signals, "rerank": float(s)},
                                 reasons=list(c.reasons)))
        out.sort(key=lambda c: -c.score)
        return out


# --------------------------------------------------------------------------------------------------
# where artifacts live


def catalogue_fingerprint(table: ItemTable, embedder_name: str) -> str:
    """A hash of every item's content and the embedder: a changed catalogue gets a new fingerprint."""
    h = hashlib.sha256(embedder_name.encode("utf-8"))
    for item in sorted(table.items, key=lambda it: it.id):
        h.update(item.id.encode("utf-8"))
        h.update(item.content_hash().encode("ascii"))
    return h.hexdigest()


def artifact_path(cache_dir: Path, catalogue: str, fingerprint: str) -> Path:
    """``<cache>/rerankers/<catalogue>/<fingerprint[:16]>-f<FEATURE_VERSION>.pkl``."""
    return Path(cache_dir) / ARTIFACT_DIR / catalogue / f"{fingerprint[:16]}-f{FEATURE_VERSION}.pkl"


def find_artifact(cache_dir: Path, catalogue: str, table: ItemTable, embedder_name: str) -> Path | None:
    """The artifact for this exact catalogue content, embedder and feature version, if trained.

    Hashing every item costs start-up time, so it is skipped when nothing was ever trained for
    ``catalogue`` (the usual case for the chat's own catalogues).
    """
    if not any(artifact_path(cache_dir, catalogue, "").parent.glob(f"*-f{FEATURE_VERSION}.pkl")):
        return None
    path = artifact_path(cache_dir, catalogue, catalogue_fingerprint(table, embedder_name))
    return path if path.is_file() else None


def load_reranker(cache_dir: Path, catalogue: str, table: ItemTable, embedder: Embedder) -> LearnedReranker | None:
    """The trained reranker for this catalogue (its final model), or ``None`` when none matches.

    What the retriever wiring calls: ``Retriever(snapshot, embedder, cfg, reranker=load_reranker(...))``.
    """
    t0 = time.perf_counter()
    path = find_artifact(cache_dir, catalogue, table, embedder.name)
    if path is None:
        log.info("no trained reranker for %r under %s", catalogue, Path(cache_dir) / ARTIFACT_DIR)
        return None
    try:
        art = RerankerArtifact.load(path)
    except (ValueError, TypeError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
        log.warning("ignoring reranker %s: %s", path, exc)
        return None
    log.info("loaded reranker %s in %.2f s", path, time.perf_counter() - t0)
    return LearnedReranker(art.final, embedder, art.config)


def cv_rerankers(art: RerankerArtifact, embedder: Embedder | None) -> tuple[LearnedReranker, list[LearnedReranker],
                                                                              Mapping[str, int]]:
    """(final, per-fold rerankers, conversation -> fold) of an artifact, for out-of-fold evaluation."""
    return (LearnedReranker(art.final, embedder, art.config),
            [LearnedReranker(f, embedder, art.config) for f in art.folds], art.fold_of)


__all__ = [
    "ARTIFACT_DIR",
    "FEATURES",
    "FEATURE_VERSION",
    "Contribution",
    "ConversationTurn",
    "InteractionStats",
    "LearnedReranker",
    "Minus",
    "RerankConfig",
    "RerankerArtifact",
    "ScoringModel",
    "StatsArrays",
    "artifact_path",
    "catalogue_fingerprint",
    "contributions",
    "cv_rerankers",
    "expand_candidates",
    "featurize",
    "find_artifact",
    "fit_model",
    "load_reranker",
    "predict_positive",
]
