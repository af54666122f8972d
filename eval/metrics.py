"""Ranking metrics: plain functions over one ranked list, plus beyond-accuracy metrics over many lists.

Conventions shared by every accuracy metric (they match ``trec_eval`` and the cross-check against
``ir-measures`` in ``tests/eval/test_metrics.py``):

- ``ranked`` is a sequence of item ids, best first, without duplicates (a duplicate raises
  :class:`ValueError`: it would be counted twice and inflate every metric).
- ``relevant`` is a collection of item ids with binary relevance. Relevant items that never appear in
  ``ranked`` still count in the denominators.
- Ranks are 1-based: the first item has rank 1.
- An empty ``relevant`` set makes recall, NDCG, reciprocal rank and average precision undefined; these
  functions return ``0.0`` for it, so callers that average must drop such lists themselves (the
  ReDial runner skips turns whose truth is empty in a view).
- ``k`` must be a positive integer; ``k`` larger than the list is fine (the list is simply shorter).

The ReDial protocol scores each recommended item separately (see :func:`redial_recall` and
:func:`redial_item_scores`): every (turn, rec item) pair is a query with exactly one relevant item, and
``Recall@k = hits / rec items`` over all pairs. That differs from averaging :func:`recall_at_k` per turn
when a turn has several rec items, so the two must not be mixed in one table.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np

# Metric names used by the ReDial runner and the report tables.
REDIAL_KS: tuple[int, ...] = (1, 10, 50)
REDIAL_NDCG_K = 10
TABLE_METRICS: tuple[str, ...] = ("R@1", "R@10", "R@50", "NDCG@10", "MRR")
# what benchmark reports print: the per-item metrics, then per-turn precision and MAP, and the share of the
# catalogue that some top-10 list holds (see turn_scores and catalogue_coverage)
REPORT_METRICS: tuple[str, ...] = (*TABLE_METRICS, "P@10", "MAP@50", "Cov@10")


# --------------------------------------------------------------------------------------------------
# helpers


def _check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _check_unique(ranked: Sequence[str]) -> None:
    if len(set(ranked)) != len(ranked):
        dupes = [item for item, n in Counter(ranked).items() if n > 1]
        raise ValueError(f"ranked list contains duplicate ids {dupes[:5]}; deduplicate it before scoring")


def _as_set(relevant: Collection[str]) -> set[str]:
    return relevant if isinstance(relevant, set) else set(relevant)


def _cut(ranked: Sequence[str], k: int | None) -> Sequence[str]:
    if k is None:
        return ranked
    _check_k(k)
    return ranked[:k]


# --------------------------------------------------------------------------------------------------
# accuracy over one ranked list


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant items found in the top ``k``.

    ``Recall@k = |top_k(ranked) ∩ R| / |R|``; 0.0 when ``R`` is empty.
    """
    _check_k(k)
    _check_unique(ranked)
    rel = _as_set(relevant)
    if not rel:
        return 0.0
    return sum(1 for item in ranked[:k] if item in rel) / len(rel)


def precision_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the top ``k`` positions holding a relevant item.

    ``Precision@k = |top_k(ranked) ∩ R| / k``. The denominator is ``k`` even when the list is shorter
    (missing positions count as non-relevant, as in ``trec_eval``'s ``P.k``).
    """
    _check_k(k)
    _check_unique(ranked)
    rel = _as_set(relevant)
    return sum(1 for item in ranked[:k] if item in rel) / k


def hit_rate_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 when at least one relevant item is in the top ``k``, else 0.0.

    ``HR@k = 1[|top_k(ranked) ∩ R| > 0]``. With one relevant item per query (the ReDial per-item
    protocol) hit rate and recall coincide.
    """
    _check_k(k)
    _check_unique(ranked)
    rel = _as_set(relevant)
    return 1.0 if any(item in rel for item in ranked[:k]) else 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Normalised discounted cumulative gain with binary gains.

    ``DCG@k = Σ_{i=1..k} rel_i / log2(i + 1)`` with ``rel_i ∈ {0, 1}``;
    ``IDCG@k = Σ_{i=1..min(k, |R|)} 1 / log2(i + 1)`` (all relevant items ranked first);
    ``NDCG@k = DCG@k / IDCG@k``; 0.0 when ``R`` is empty.
    """
    _check_k(k)
    _check_unique(ranked)
    rel = _as_set(relevant)
    if not rel:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in rel)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(rel))))
    return dcg / idcg


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str], k: int | None = None) -> float:
    """Reciprocal of the rank of the first relevant item; its mean over lists is MRR.

    ``RR = 1 / min{i : ranked_i ∈ R}``; 0.0 when no relevant item is ranked (within the top ``k`` when
    ``k`` is given) or ``R`` is empty.
    """
    _check_unique(ranked)
    rel = _as_set(relevant)
    for i, item in enumerate(_cut(ranked, k), start=1):
        if item in rel:
            return 1.0 / i
    return 0.0


def average_precision(ranked: Sequence[str], relevant: Collection[str], k: int | None = None) -> float:
    """Average of the precision at each relevant item's rank; its mean over lists is MAP.

    ``AP = (1 / |R|) Σ_{i : ranked_i ∈ R} Precision@i``, summed over the top ``k`` when given. The
    denominator is ``|R|`` (relevant items never retrieved contribute 0), as in ``trec_eval``'s ``map``;
    0.0 when ``R`` is empty.
    """
    _check_unique(ranked)
    rel = _as_set(relevant)
    if not rel:
        return 0.0
    hits = 0
    total = 0.0
    for i, item in enumerate(_cut(ranked, k), start=1):
        if item in rel:
            hits += 1
            total += hits / i
    return total / len(rel)


# --------------------------------------------------------------------------------------------------
# the ReDial per-item protocol


def item_ranks(ranked: Sequence[str], items: Sequence[str]) -> list[int | None]:
    """The 1-based rank of each item in ``ranked`` (``None`` when absent), in the order of ``items``.

    Every other metric of the ReDial protocol follows from these ranks, so a runner can store them
    once per (turn, rec item) pair and derive Recall@k for any k, NDCG and MRR afterwards.
    """
    _check_unique(ranked)
    position = {item: i for i, item in enumerate(ranked, start=1)}
    return [position.get(item) for item in items]


def redial_recall(ranked: Sequence[str], rec_items: Sequence[str], k: int) -> list[int]:
    """Per-item hits for one turn under the ReDial protocol: ``1`` if a rec item is in the top ``k``.

    Each rec item is scored separately against the same ranked list (the other rec items of the turn
    are not removed from it), so a turn with three rec items yields three 0/1 values. The benchmark's
    ``Recall@k = Σ hits / Σ rec items`` over every (turn, rec item) pair: concatenate these lists over
    all turns and average them, rather than averaging per turn.
    """
    _check_k(k)
    return [1 if rank is not None and rank <= k else 0 for rank in item_ranks(ranked, rec_items)]


def scores_from_rank(
    rank: int | None, ks: Sequence[int] = REDIAL_KS, ndcg_k: int = REDIAL_NDCG_K
) -> dict[str, float]:
    """The per-item metrics of one (turn, rec item) pair given the item's rank (``None``: not ranked).

    With a single relevant item ``R@k = 1[rank ≤ k]``, ``NDCG@k = 1[rank ≤ k] / log2(rank + 1)``
    (the ideal DCG is 1) and ``MRR = 1 / rank`` (0 when absent). Keys: ``R@k`` for each ``k``,
    ``NDCG@{ndcg_k}`` and ``MRR``.
    """
    for k in (*ks, ndcg_k):
        _check_k(k)
    out = {f"R@{k}": 1.0 if rank is not None and rank <= k else 0.0 for k in ks}
    out[f"NDCG@{ndcg_k}"] = 1.0 / math.log2(rank + 1) if rank is not None and rank <= ndcg_k else 0.0
    out["MRR"] = 1.0 / rank if rank is not None else 0.0
    return out


def redial_item_scores(
    ranked: Sequence[str],
    rec_items: Sequence[str],
    ks: Sequence[int] = REDIAL_KS,
    ndcg_k: int = REDIAL_NDCG_K,
) -> list[dict[str, float]]:
    """Per-item metric dicts for one turn (see :func:`scores_from_rank`), one per rec item."""
    return [scores_from_rank(rank, ks, ndcg_k) for rank in item_ranks(ranked, rec_items)]


def mean_item_scores(per_item: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Average per-item metric dicts over all (turn, rec item) pairs: the benchmark's numbers.

    Returns an empty dict when there are no pairs. Every dict must carry the same keys.
    """
    totals: dict[str, float] = {}
    n = 0
    for scores in per_item:
        if n and scores.keys() != totals.keys():
            raise ValueError(
                f"per-item scores disagree on metric names: {sorted(scores)} vs {sorted(totals)}"
            )
        for name, value in scores.items():
            totals[name] = totals.get(name, 0.0) + value
        n += 1
    return {name: total / n for name, total in totals.items()} if n else {}


def turn_scores(ranked: Sequence[str], relevant: Collection[str], k: int = 10, ap_k: int = 50) -> dict[str, float]:
    """Per-turn metrics over a turn's whole truth: ``P@k`` (:func:`precision_at_k`) and ``MAP@ap_k``
    (:func:`average_precision`; its mean over turns is MAP)."""
    return {f"P@{k}": precision_at_k(ranked, relevant, k), f"MAP@{ap_k}": average_precision(ranked, relevant, ap_k)}


def recall_curve(ranks: Iterable[int | None], max_k: int = 50) -> dict[int, float]:
    """``{k: share of (turn, rec item) pairs whose rank ≤ k}`` for ``k = 1..max_k``.

    ``ranks`` are the per-pair ranks from :func:`item_ranks`; an empty input gives an empty dict.
    """
    _check_k(max_k)
    counts = np.zeros(max_k + 1, dtype=np.int64)
    n = 0
    for rank in ranks:
        n += 1
        if rank is not None and rank <= max_k:
            counts[rank] += 1
    if n == 0:
        return {}
    cumulative = np.cumsum(counts)
    return {k: float(cumulative[k] / n) for k in range(1, max_k + 1)}


# --------------------------------------------------------------------------------------------------
# beyond accuracy, over many lists


def catalogue_coverage(lists: Iterable[Sequence[str]], catalogue_size: int) -> float:
    """Share of the catalogue that appears in at least one recommendation list.

    ``coverage = |∪_u L_u| / |I|`` where ``|I|`` is ``catalogue_size``.
    """
    if catalogue_size < 1:
        raise ValueError(f"catalogue_size must be positive, got {catalogue_size}")
    shown = set().union(*map(set, lists))
    if len(shown) > catalogue_size:
        raise ValueError(f"{len(shown)} distinct items recommended but catalogue_size is {catalogue_size}")
    return len(shown) / catalogue_size


def intra_list_diversity(
    lists: Iterable[Sequence[str]], embeddings_by_id: Mapping[str, Sequence[float] | np.ndarray]
) -> float:
    """Mean pairwise cosine distance inside each list, averaged over lists.

    ``ILD(L) = (2 / (|L| (|L| - 1))) Σ_{i<j} (1 - cos(e_i, e_j))`` and the result is the mean of
    ``ILD(L)`` over lists with at least two items (0.0 when there are none). Higher is more diverse;
    with non-negative embeddings the range is [0, 1], in general [0, 2]. Zero vectors raise.
    """
    per_list: list[float] = []
    for lst in lists:
        if len(lst) < 2:
            continue
        try:
            mat = np.asarray([np.asarray(embeddings_by_id[item], dtype=np.float64) for item in lst])
        except KeyError as exc:
            raise KeyError(f"no embedding for item {exc.args[0]!r}") from None
        norms = np.linalg.norm(mat, axis=1)
        if np.any(norms == 0):
            raise ValueError(f"zero embedding in list {list(lst)[:5]}...: cosine is undefined")
        unit = mat / norms[:, None]
        sims = unit @ unit.T
        iu = np.triu_indices(len(lst), k=1)
        per_list.append(float(np.mean(1.0 - sims[iu])))
    return float(np.mean(per_list)) if per_list else 0.0


def popularity_from_counts(
    counts: Mapping[str, float], catalogue_ids: Iterable[str], smoothing: float = 1.0
) -> dict[str, float]:
    """Additively smoothed interaction probabilities for :func:`novelty`.

    ``p(i) = (c_i + α) / (Σ_j c_j + α |I|)`` over the catalogue ``I``, so items never seen in training
    get a small non-zero probability instead of an infinite novelty. ``α = smoothing`` must be > 0.
    """
    if smoothing <= 0:
        raise ValueError(f"smoothing must be > 0, got {smoothing}")
    ids = list(dict.fromkeys(catalogue_ids))
    unknown = set(counts) - set(ids)
    if unknown:
        raise ValueError(f"{len(unknown)} counted ids are not in the catalogue, e.g. {sorted(unknown)[:3]}")
    total = sum(counts.values()) + smoothing * len(ids)
    return {item: (counts.get(item, 0.0) + smoothing) / total for item in ids}


def novelty(lists: Iterable[Sequence[str]], popularity: Mapping[str, float]) -> float:
    """Mean self-information of the recommended items: higher means less popular picks.

    ``novelty = (1 / Σ_u |L_u|) Σ_u Σ_{i ∈ L_u} -log2 p(i)`` where ``p(i) ∈ (0, 1]`` is the probability
    that an interaction involves item ``i`` (see :func:`popularity_from_counts`). Every recommended
    item needs a probability; 0.0 when the lists are empty.
    """
    total = 0.0
    n = 0
    for lst in lists:
        for item in lst:
            try:
                p = popularity[item]
            except KeyError:
                raise KeyError(f"no popularity for item {item!r}") from None
            if not 0.0 < p <= 1.0:
                raise ValueError(f"popularity of {item!r} must be a probability in (0, 1], got {p}")
            total -= math.log2(p)
            n += 1
    return total / n if n else 0.0


def gini_index(lists: Iterable[Sequence[str]], catalogue_size: int) -> float:
    """Gini coefficient of how often each catalogue item is recommended (0 = equal exposure).

    With ``x_(1) ≤ … ≤ x_(n)`` the recommendation counts of all ``n = catalogue_size`` items (never
    recommended items count 0), ``G = Σ_{j=1..n} (2j - n - 1) x_(j) / (n Σ_j x_j)``. ``G = 0`` when
    every item is recommended equally often and ``(n - 1) / n`` when a single item takes all slots;
    0.0 when nothing was recommended.
    """
    if catalogue_size < 1:
        raise ValueError(f"catalogue_size must be positive, got {catalogue_size}")
    counts = Counter(item for lst in lists for item in lst)
    if len(counts) > catalogue_size:
        raise ValueError(f"{len(counts)} distinct items recommended but catalogue_size is {catalogue_size}")
    x = np.zeros(catalogue_size, dtype=np.float64)
    x[: len(counts)] = sorted(counts.values())
    x.sort()
    total = x.sum()
    if total == 0:
        return 0.0
    j = np.arange(1, catalogue_size + 1)
    return float(np.sum((2 * j - catalogue_size - 1) * x) / (catalogue_size * total))


__all__ = [
    "REDIAL_KS",
    "REDIAL_NDCG_K",
    "REPORT_METRICS",
    "TABLE_METRICS",
    "average_precision",
    "catalogue_coverage",
    "gini_index",
    "hit_rate_at_k",
    "intra_list_diversity",
    "item_ranks",
    "mean_item_scores",
    "ndcg_at_k",
    "novelty",
    "popularity_from_counts",
    "precision_at_k",
    "recall_at_k",
    "recall_curve",
    "reciprocal_rank",
    "redial_item_scores",
    "redial_recall",
    "scores_from_rank",
    "turn_scores",
]
