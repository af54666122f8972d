"""Candidates and features of the ReDial-only learned reranker (:mod:`retrieval.rerank`): the retriever's head
expanded with popular and co-recommended items, and the feature matrix (:data:`FEATURES`) its trees score."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from retrieval.filters import mask
from retrieval.item_weights import TableWeights
from retrieval.itemstore import ItemTable
from retrieval.rerank_counts import Minus, StatsArrays, wish_keys
from retrieval.schema import Candidate, Query

FEATURE_VERSION = 3
FEATURES: tuple[str, ...] = (
    # retrieval signals of the fused list (NaN for items the reranker added)
    "rrf", "dense", "lexical", "in_neighbour", "fused_rank",
    # content
    "text_sim", "liked_max", "liked_mean", "context_max", "dislike_max",
    "genre_match", "people_match", "profile_match", "liked_genre_overlap", "seed_people_overlap",
    "seed_title_overlap", "year", "year_gap_liked",
    # priors from training conversations
    "rec_log", "mention_log", "cooc_sum", "cooc_max", "comention_sum", "comention_max", "catalogue_pop",
    # learned item-to-item weights (EASE, :mod:`retrieval.item_weights`) from the mentioned items
    "ease_sum", "ease_max", "ease_rank",
    # P(recommended | a genre or person asked for), summed and maxed over what was asked for
    "wish_sum", "wish_max",
    # the query itself
    "n_liked", "n_context", "text_words", "n_genres",
)


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
    ease_candidates: int = 100  # items with the largest learned weights from this conversation's items
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
                 own_counts: np.ndarray | None = None, smoothing: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(sum, max) over seeds of ``matrix[s, i] / (counts[s] + smoothing)`` for columns ``cols`` (all if None).

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
    prob = np.maximum(dense, 0.0) / (np.maximum(denom, 0.0) + smoothing)[:, None]
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


WISH_SMOOTHING = 5.0  # added to a wish's count: a wish seen in one conversation says little


def _wish_scores(stats: StatsArrays, query: Query, cols: np.ndarray,
                 minus: Minus | None) -> tuple[np.ndarray, np.ndarray]:
    """``P(recommended | wish)`` for the genres and people ``query`` asks for, summed and maxed over them,
    for the items at positions ``cols`` (zeros when no wish was seen in training). ``minus`` removes a
    training conversation's own counts."""
    rows = [stats.wish_row[k] for k in wish_keys(query.genres, query.people) if k in stats.wish_row]
    if minus is None:
        return _pair_scores(stats.wish_rec, stats.wish, rows, cols, smoothing=WISH_SMOOTHING)
    own_pairs = frozenset((stats.wish_row[k], p) for k, p in minus.wish_pairs if k in stats.wish_row)
    own_counts = np.array([stats.wish_row[k] for k in minus.wishes if k in stats.wish_row], dtype=np.int64)
    return _pair_scores(stats.wish_rec, stats.wish, rows, cols, own_pairs, own_counts, WISH_SMOOTHING)


def expand_candidates(query: Query, candidates: Sequence[Candidate], table: ItemTable, stats: StatsArrays,
                      config: RerankConfig, minus: Minus | None = None,
                      weights: TableWeights | None = None) -> list[Candidate]:
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
                present.add(int(p))
    if seeds and weights is not None and config.ease_candidates > 0:
        free = allowed.copy()
        if present:
            free[list(present)] = False
        for p, w in weights.top(seeds, free, config.ease_candidates):
            out.append(Candidate(item=table.items[p], score=0.0, signals={"prior": w},
                                 reasons=["often comes up with the films mentioned"]))
    return out


def _minus_counts(arr: np.ndarray, own: np.ndarray) -> np.ndarray:
    if own.size == 0:
        return arr
    out = arr.copy()
    out[own] -= 1
    return out


def _dense_text(query: Query) -> str:
    return " ".join(x for x in (query.text.strip(), *query.genres, *query.people) if x)


def fill_match_features(row: np.ndarray, col: dict[str, int], genres: frozenset[str], people: frozenset[str],
                        wanted_g: set[str], profile: set[str], wanted_p: set[str], liked_genres: set[str]) -> None:
    """How a candidate's genres and people meet what was asked for, the genre profile and the liked films'
    genres (shares in [0, 1]), written into its feature ``row``."""
    if wanted_g:
        row[col["genre_match"]] = len(genres & wanted_g) / len(wanted_g)
    if profile:
        row[col["profile_match"]] = len(genres & profile) / len(profile)
    if wanted_p:
        row[col["people_match"]] = len(people & wanted_p) / len(wanted_p)
    if liked_genres and genres:
        row[col["liked_genre_overlap"]] = len(genres & liked_genres) / len(genres)


def feature_frame(candidates: Sequence[Candidate], table: ItemTable, features: Sequence[str]
                  ) -> tuple[np.ndarray, dict[str, int], np.ndarray, np.ndarray]:
    """The start of a ranker's feature matrix: ``len(candidates) x len(features)`` (float64, NaN = missing)
    with the retriever's signals filled in, the column of each feature, the candidates' rows in
    ``table`` and their vectors."""
    X = np.full((len(candidates), len(features)), np.nan, dtype=np.float64)
    col = {name: j for j, name in enumerate(features)}
    pos = np.array([table.pos[c.item.id] for c in candidates], dtype=np.int64)
    if len(candidates):
        fill_retrieval_signals(X, col, candidates)
    return X, col, pos, table.vectors[pos]


def fill_retrieval_signals(X: np.ndarray, col: dict[str, int], candidates: Sequence[Candidate]) -> None:
    """Write what the retriever recorded per candidate (fused score and rank, dense, lexical, whether it
    came as a liked item's neighbour) into the feature matrix ``X`` (columns by name in ``col``)."""
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


def featurize(query: Query, candidates: Sequence[Candidate], table: ItemTable, stats: StatsArrays,
              qvec: np.ndarray | None = None, minus: Minus | None = None,
              max_seeds: int = 20, profile_genres: int = 2, weights: TableWeights | None = None) -> np.ndarray:
    """The ``len(candidates) x len(FEATURES)`` feature matrix (float64, NaN = missing).

    ``qvec`` is the embedded query text (see :func:`_dense_text`); without it ``text_sim`` falls back
    to the dense signal the retriever recorded. ``minus`` removes a training conversation's own counts;
    ``weights`` (learned without that conversation when training) give the ``ease_*`` columns.
    """
    X, col, cand_pos, vecs = feature_frame(candidates, table, FEATURES)
    if len(candidates) == 0:
        return X

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
        fill_match_features(X[j], col, genres, table.people_sets[p], wanted_g, profile, wanted_p, liked_genres)
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
    if weights is not None:
        X[:, [col["ease_sum"], col["ease_max"], col["ease_rank"]]] = weights.features(seeds, np.asarray(cand_pos))
    X[:, col["wish_sum"]], X[:, col["wish_max"]] = _wish_scores(stats, query, np.asarray(cand_pos), minus)

    X[:, col["n_liked"]] = len(liked)
    X[:, col["n_context"]] = len(seeds)
    X[:, col["text_words"]] = len(query.text.split())
    X[:, col["n_genres"]] = len(query.genres)
    return X




__all__ = ["FEATURES", "FEATURE_VERSION", "RerankConfig", "expand_candidates", "featurize", "genre_profile",
           "seed_positions"]
