"""Learned item-to-item weights (EASE) on the small film catalogue: what they learn from conversations
and how the reranker reads them (features and added candidates)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.item_weights import ItemWeights, TableWeights
from retrieval.rerank import InteractionStats, RerankConfig, StatsArrays, expand_candidates, featurize
from retrieval.rerank_features import FEATURES
from retrieval.schema import Query

# m1 always comes up with m2; m3 with m4; m5 comes up with everything (a film everyone names).
CONVERSATIONS = [("m1", "m2", "m5")] * 8 + [("m3", "m4", "m5")] * 8 + [("m5", "m6")] * 8 + [("m1", "m2")] * 4


@pytest.fixture(scope="module")
def table(films, embedder):
    from retrieval.itemstore import ItemTable

    return ItemTable(items=list(films), vectors=embedder.embed([f.text for f in films]))


def test_weights_point_from_an_item_to_its_partner():
    w = ItemWeights.fit(CONVERSATIONS, lam=1.0)
    row = {i: k for k, i in enumerate(w.ids)}
    assert w.ids == ("m1", "m2", "m3", "m4", "m5", "m6")
    assert w.B.dtype == np.float32 and w.B.shape == (6, 6)
    assert np.all(np.diag(w.B) == 0)  # an item never predicts itself
    from_m1 = w.B[row["m1"]]
    assert from_m1.argmax() == row["m2"]
    # m5 comes up with m1 more often than m4 does, yet m1 -> m4 is what m3 explains, not m1
    assert from_m1[row["m4"]] <= 0 < from_m1[row["m2"]]
    assert w.B[row["m3"]].argmax() == row["m4"]


def test_features_and_candidates_over_a_table(table):
    weights = TableWeights(ItemWeights.fit(CONVERSATIONS, lam=1.0), table)
    pos = table.pos
    feats = weights.features([pos["m3"]], np.array([pos["m4"], pos["m2"], pos["m7"]]))
    assert feats[0, 0] > feats[1, 0]  # m4 is m3's partner
    assert feats[0, 2] == 0.0  # log(1 + rank 0): the top item
    assert np.isnan(feats[2]).all()  # m7 never came up: no weight
    assert np.isnan(weights.features([pos["m7"]], np.array([pos["m4"]]))).all()  # a seed without a row

    allowed = np.ones(len(table), dtype=bool)
    assert [p for p, _ in weights.top([pos["m3"]], allowed, 1)] == [pos["m4"]]
    allowed[pos["m4"]] = False  # a hard constraint or an exclusion removes it
    assert pos["m4"] not in [p for p, _ in weights.top([pos["m3"]], allowed, 3)]


def test_the_reranker_adds_and_featurises_weighted_candidates(table):
    weights = TableWeights(ItemWeights.fit(CONVERSATIONS, lam=1.0), table)
    arrays = StatsArrays(InteractionStats(), table)  # no counts: only the weights can add m4
    query = Query(text="", liked_ids=["m3"], k=10)
    off = expand_candidates(query, [], table, arrays, RerankConfig(ease_candidates=0), weights=weights)
    on = expand_candidates(query, [], table, arrays, RerankConfig(ease_candidates=5), weights=weights)
    assert "m4" not in [c.item.id for c in off]
    assert [c.item.id for c in on][0] == "m4" and "m3" not in [c.item.id for c in on]
    X = featurize(query, on, table, arrays, weights=weights)
    ease_sum = X[:, FEATURES.index("ease_sum")]
    assert ease_sum[0] == np.nanmax(ease_sum)
    assert np.isnan(featurize(query, on, table, arrays)[:, FEATURES.index("ease_sum")]).all()
