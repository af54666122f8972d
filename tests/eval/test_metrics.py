"""Ranking metrics: hand-computed cases, edge cases, and a cross-check against ir-measures (trec_eval)."""

from __future__ import annotations

import math
import random

import ir_measures
import numpy as np
import pytest
from ir_measures import AP, RR, P, R, nDCG

from eval.metrics import (
    TABLE_METRICS,
    average_precision,
    catalogue_coverage,
    gini_index,
    hit_rate_at_k,
    intra_list_diversity,
    item_ranks,
    mean_item_scores,
    ndcg_at_k,
    novelty,
    popularity_from_counts,
    precision_at_k,
    recall_at_k,
    recall_curve,
    reciprocal_rank,
    redial_item_scores,
    redial_recall,
    scores_from_rank,
)

RANKED = ["a", "b", "c", "d", "e"]
RELEVANT = {"b", "e", "z"}  # "z" is relevant but never ranked: it still counts in the denominators

LOG2_3 = math.log2(3)  # discount at rank 2
LOG2_6 = math.log2(6)  # discount at rank 5


# --------------------------------------------------------------------------------------------------
# hand-computed


def test_recall_hand_computed() -> None:
    assert recall_at_k(RANKED, RELEVANT, 1) == 0.0  # top-1 = {a}: 0 hits / 3 relevant
    assert recall_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 3)  # {a, b}: 1 hit / 3
    assert recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)  # b and e: 2 / 3


def test_precision_hand_computed() -> None:
    assert precision_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 2)  # 1 hit in 2 positions
    assert precision_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 5)  # 2 hits in 5 positions


def test_ndcg_hand_computed() -> None:
    # k=5: DCG = 1/log2(3) + 1/log2(6) = 0.63093 + 0.38685 = 1.01778
    #      IDCG = 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.63093 + 0.5 = 2.13093 (3 relevant)
    #      NDCG = 1.01778 / 2.13093 = 0.47763
    dcg = 1 / LOG2_3 + 1 / LOG2_6
    idcg = 1 + 1 / LOG2_3 + 0.5
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(0.47763, abs=1e-5)
    # k=2: DCG = 1/log2(3) = 0.63093; IDCG = 1 + 0.63093 = 1.63093 (only 2 slots); NDCG = 0.38685
    assert ndcg_at_k(RANKED, RELEVANT, 2) == pytest.approx((1 / LOG2_3) / (1 + 1 / LOG2_3))
    # perfect ranking of every relevant item gives 1
    assert ndcg_at_k(["b", "e", "z", "a"], RELEVANT, 3) == pytest.approx(1.0)
    assert ndcg_at_k(RANKED, RELEVANT, 1) == 0.0  # "a" is not relevant


def test_reciprocal_rank_hand_computed() -> None:
    assert reciprocal_rank(RANKED, RELEVANT) == pytest.approx(1 / 2)  # first hit "b" at rank 2
    assert reciprocal_rank(RANKED, RELEVANT, k=1) == 0.0  # no hit in the top 1
    assert reciprocal_rank(RANKED, {"e"}) == pytest.approx(1 / 5)


def test_average_precision_hand_computed() -> None:
    # hits at ranks 2 and 5: P@2 = 1/2, P@5 = 2/5; AP = (1/2 + 2/5) / |R| = 0.9 / 3 = 0.3
    assert average_precision(RANKED, RELEVANT) == pytest.approx(0.3)
    # cut at k=2: only the hit at rank 2 counts; still / |R|: (1/2) / 3 = 1/6
    assert average_precision(RANKED, RELEVANT, k=2) == pytest.approx(1 / 6)


def test_hit_rate_hand_computed() -> None:
    assert hit_rate_at_k(RANKED, RELEVANT, 1) == 0.0
    assert hit_rate_at_k(RANKED, RELEVANT, 2) == 1.0


# --------------------------------------------------------------------------------------------------
# edge cases


@pytest.mark.parametrize("fn", [recall_at_k, ndcg_at_k, hit_rate_at_k, precision_at_k])
def test_empty_truth_scores_zero(fn) -> None:
    assert fn(RANKED, set(), 5) == 0.0


def test_empty_truth_rank_metrics_zero() -> None:
    assert reciprocal_rank(RANKED, set()) == 0.0
    assert average_precision(RANKED, set()) == 0.0


def test_k_larger_than_list() -> None:
    # k=10 > 5 items: same hits as k=5
    assert recall_at_k(RANKED, RELEVANT, 10) == pytest.approx(2 / 3)
    assert precision_at_k(RANKED, RELEVANT, 10) == pytest.approx(2 / 10)  # denominator stays k
    assert ndcg_at_k(RANKED, RELEVANT, 10) == pytest.approx(ndcg_at_k(RANKED, RELEVANT, 5))
    assert recall_at_k([], RELEVANT, 10) == 0.0


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_bad_k_raises(k) -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        recall_at_k(RANKED, RELEVANT, k)


def test_duplicate_ids_raise() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        recall_at_k(["b", "b", "c"], {"b"}, 2)


# --------------------------------------------------------------------------------------------------
# the ReDial per-item protocol


def test_item_ranks_and_redial_recall() -> None:
    rec = ["b", "z", "e"]
    assert item_ranks(RANKED, rec) == [2, None, 5]
    assert redial_recall(RANKED, rec, 1) == [0, 0, 0]
    assert redial_recall(RANKED, rec, 2) == [1, 0, 0]
    assert redial_recall(RANKED, rec, 5) == [1, 0, 1]


def test_redial_item_scores_hand_computed() -> None:
    per_item = redial_item_scores(RANKED, ["b", "z", "e"])
    assert [s["R@10"] for s in per_item] == [1.0, 0.0, 1.0]
    assert per_item[0]["NDCG@10"] == pytest.approx(1 / LOG2_3)  # rank 2: 1/log2(3) = 0.63093
    assert per_item[2]["NDCG@10"] == pytest.approx(1 / LOG2_6)  # rank 5: 1/log2(6) = 0.38685
    assert [s["MRR"] for s in per_item] == pytest.approx([0.5, 0.0, 0.2])
    mean = mean_item_scores(per_item)
    assert mean["R@10"] == pytest.approx(2 / 3)
    assert mean["NDCG@10"] == pytest.approx((1 / LOG2_3 + 1 / LOG2_6) / 3)  # (0.63093 + 0.38685) / 3
    assert mean["MRR"] == pytest.approx(0.7 / 3)  # (0.5 + 0 + 0.2) / 3
    assert set(TABLE_METRICS) <= set(mean)


def test_per_item_average_differs_from_per_turn_average() -> None:
    # turn A: one rec item, hit at rank 1; turn B: three rec items, none ranked.
    turn_a = (["x", "y"], ["x"])
    turn_b = (["x", "y"], ["p", "q", "r"])
    per_item = [h for ranked, rec in (turn_a, turn_b) for h in redial_recall(ranked, rec, 10)]
    assert sum(per_item) / len(per_item) == pytest.approx(1 / 4)  # 1 hit / 4 rec items
    per_turn = [recall_at_k(ranked, rec, 10) for ranked, rec in (turn_a, turn_b)]
    assert sum(per_turn) / len(per_turn) == pytest.approx(1 / 2)  # (1 + 0) / 2 turns


def test_scores_from_rank_absent() -> None:
    assert scores_from_rank(None) == {"R@1": 0.0, "R@10": 0.0, "R@50": 0.0, "NDCG@10": 0.0, "MRR": 0.0}
    assert scores_from_rank(11)["NDCG@10"] == 0.0 and scores_from_rank(11)["R@50"] == 1.0


def test_recall_curve() -> None:
    # 4 pairs, ranks 1, 3, absent, 2 -> k=1: 1/4, k=2: 2/4, k=3: 3/4
    assert recall_curve([1, 3, None, 2], max_k=3) == {1: 0.25, 2: 0.5, 3: 0.75}
    assert recall_curve([], max_k=3) == {}
    curve = recall_curve([1, 3, None, 2, 60], max_k=50)
    assert list(curve) == list(range(1, 51)) and curve[50] == pytest.approx(3 / 5)


def test_mean_item_scores_rejects_mixed_keys() -> None:
    assert mean_item_scores([]) == {}
    with pytest.raises(ValueError, match="disagree"):
        mean_item_scores([{"R@1": 1.0}, {"R@10": 1.0}])


# --------------------------------------------------------------------------------------------------
# beyond accuracy


def test_catalogue_coverage() -> None:
    assert catalogue_coverage([["a", "b"], ["b", "c"]], 10) == pytest.approx(3 / 10)  # {a, b, c} / 10
    with pytest.raises(ValueError):
        catalogue_coverage([["a", "b", "c"]], 2)


def test_intra_list_diversity_hand_computed() -> None:
    emb = {"a": [1.0, 0.0], "b": [0.0, 1.0], "c": [1.0, 1.0]}
    # [a, b]: cos = 0 -> distance 1
    assert intra_list_diversity([["a", "b"]], emb) == pytest.approx(1.0)
    # [a, b, c]: ab 1, ac 1 - 1/sqrt2 = 0.29289, bc 0.29289 -> mean 1.58579 / 3 = 0.52860
    abc = (1 + 2 * (1 - 1 / math.sqrt(2))) / 3
    assert intra_list_diversity([["a", "b", "c"]], emb) == pytest.approx(abc)
    # lists of one item are skipped: mean over [a, b] and [a, b, c] = (1 + 0.52860) / 2
    assert intra_list_diversity([["a", "b"], ["a"], ["a", "b", "c"]], emb) == pytest.approx((1 + abc) / 2)
    assert intra_list_diversity([["a", "a"]], emb) == pytest.approx(0.0, abs=1e-12)
    assert intra_list_diversity([["a"]], emb) == 0.0
    with pytest.raises(KeyError, match="no embedding"):
        intra_list_diversity([["a", "q"]], emb)


def test_novelty_hand_computed() -> None:
    pop = {"a": 0.5, "b": 0.25, "c": 0.125}
    # -log2 p: a 1, b 2, c 3 over three recommended items -> (1 + 2 + 3) / 3 = 2
    assert novelty([["a", "b"], ["c"]], pop) == pytest.approx(2.0)
    with pytest.raises(KeyError):
        novelty([["q"]], pop)
    with pytest.raises(ValueError):
        novelty([["a"]], {"a": 0.0})


def test_popularity_from_counts() -> None:
    # counts a 3, b 1 over catalogue {a, b, c, d}, alpha 1: total 4 + 4 = 8
    p = popularity_from_counts({"a": 3, "b": 1}, ["a", "b", "c", "d"])
    assert p == pytest.approx({"a": 4 / 8, "b": 2 / 8, "c": 1 / 8, "d": 1 / 8})
    assert sum(p.values()) == pytest.approx(1.0)


def test_gini_hand_computed() -> None:
    # counts over 4 items: a 3, b 1, c 0, d 0 -> sorted x = [0, 0, 1, 3], sum 4
    # sum (2j - n - 1) x_j = (6 - 5) * 1 + (8 - 5) * 3 = 10; G = 10 / (4 * 4) = 0.625
    assert gini_index([["a"], ["a"], ["a"], ["b"]], 4) == pytest.approx(0.625)
    assert gini_index([["a"], ["b"], ["c"], ["d"]], 4) == pytest.approx(0.0)  # equal exposure
    assert gini_index([["a"], ["a"]], 4) == pytest.approx(3 / 4)  # one item takes all: (n - 1) / n
    assert gini_index([], 4) == 0.0


# --------------------------------------------------------------------------------------------------
# cross-check against a maintained implementation (ir-measures over trec_eval)


def _random_cases(n: int, seed: int) -> list[tuple[list[str], set[str]]]:
    rng = random.Random(seed)
    universe = [f"d{i}" for i in range(80)]
    cases = []
    for _ in range(n):
        ranked = rng.sample(universe, rng.randint(1, 60))
        relevant = set(rng.sample(universe, rng.randint(1, 8)))
        cases.append((ranked, relevant))
    return cases


def test_matches_ir_measures_on_random_lists() -> None:
    cases = _random_cases(400, seed=7)
    qrels = {f"q{i}": {d: 1 for d in rel} for i, (_, rel) in enumerate(cases)}
    # strictly decreasing scores so trec_eval's sort keeps our order (no ties)
    run = {
        f"q{i}": {d: float(1000 - r) for r, d in enumerate(ranked)} for i, (ranked, _) in enumerate(cases)
    }
    ks = (1, 5, 10, 50)
    measures = [*(R @ k for k in ks), *(nDCG @ k for k in ks), *(P @ k for k in ks), RR, AP]
    theirs = {
        (m.query_id, str(m.measure)): m.value for m in ir_measures.pytrec_eval.iter_calc(measures, qrels, run)
    }
    checked = 0
    for i, (ranked, rel) in enumerate(cases):
        q = f"q{i}"
        for k in ks:
            assert recall_at_k(ranked, rel, k) == pytest.approx(theirs[q, f"R@{k}"], abs=1e-9)
            assert ndcg_at_k(ranked, rel, k) == pytest.approx(theirs[q, f"nDCG@{k}"], abs=1e-9)
            assert precision_at_k(ranked, rel, k) == pytest.approx(theirs[q, f"P@{k}"], abs=1e-9)
            checked += 3
        assert reciprocal_rank(ranked, rel) == pytest.approx(theirs[q, "RR"], abs=1e-9)
        assert average_precision(ranked, rel) == pytest.approx(theirs[q, "AP"], abs=1e-9)
        checked += 2
    assert checked == 400 * 14
    # the random cases are not degenerate: some hit, some miss
    recalls = np.array([recall_at_k(r, rel, 10) for r, rel in cases])
    assert 0 < recalls.mean() < 1 and (recalls == 0).any() and (recalls > 0).any()


def test_redial_per_item_matches_ir_measures() -> None:
    # each (turn, rec item) pair is a query with one relevant item: ir-measures must agree per pair
    cases = _random_cases(200, seed=11)
    qrels, run, ours = {}, {}, {}
    for i, (ranked, rel) in enumerate(cases):
        items = sorted(rel)
        for j, (item, scores) in enumerate(zip(items, redial_item_scores(ranked, items), strict=True)):
            q = f"q{i}.{j}"
            qrels[q] = {item: 1}
            run[q] = {d: float(1000 - r) for r, d in enumerate(ranked)}
            ours[q] = scores
    measures = [R @ 1, R @ 10, R @ 50, nDCG @ 10, RR]
    names = {"R@1": "R@1", "R@10": "R@10", "R@50": "R@50", "nDCG@10": "NDCG@10", "RR": "MRR"}
    compared = 0
    for m in ir_measures.pytrec_eval.iter_calc(measures, qrels, run):
        assert ours[m.query_id][names[str(m.measure)]] == pytest.approx(m.value, abs=1e-9)
        compared += 1
    assert compared == len(qrels) * len(measures)
