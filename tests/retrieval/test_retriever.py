"""Retrieval end to end on a real index (real MiniLM, real Chroma, real BM25), in both store modes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from retrieval.filters import mask, to_where
from retrieval.retriever import RetrievalConfig, Retriever
from retrieval.schema import Query, Range

pytestmark = pytest.mark.slow


def ids(cands):
    return [c.item.id for c in cands]


def test_free_text_finds_matching_items(any_retriever):
    top = any_retriever.retrieve(Query(text="funny comedy set in outer space", k=3))
    assert {"m4", "m5"} & set(ids(top)), [c.item.label for c in top]
    assert all(c.reasons for c in top)


def test_unwanted_genre_is_filtered_never_queried(any_retriever):
    res = any_retriever.retrieve(Query(text="scary alien creature", unwanted_genres=["Horror"], k=10))
    assert res
    assert not [c.item.label for c in res if "horror" in c.item.genres]


def test_year_range_and_numeric_fact_filters(any_retriever):
    q = Query(text="science fiction", year=Range(1980, 1989), facts={"runtime": Range(None, 140)}, k=10)
    res = any_retriever.retrieve(q)
    assert res
    for c in res:
        assert 1980 <= c.item.year <= 1989
        assert c.item.facts["runtime"] <= 140


def test_required_genre_and_person(any_retriever):
    res = any_retriever.retrieve(Query(text="", people=["Sigourney Weaver"], genres=["comedy"],
                                       require=["genres", "people"], k=10))
    assert set(ids(res)) == {"m5", "m7"}
    assert any("with Sigourney Weaver" in r for r in res[0].reasons)


def test_exclusions_are_never_returned(any_retriever):
    first = ids(any_retriever.retrieve(Query(text="funny space comedy", k=5)))
    again = ids(any_retriever.retrieve(Query(text="funny space comedy", exclude_ids=first[:3], k=5)))
    assert not set(first[:3]) & set(again)
    assert len(again) == 5


def test_liked_item_brings_neighbours_with_reason(any_retriever):
    res = any_retriever.retrieve(Query(liked_ids=["m1"], k=5))
    assert "m1" not in ids(res)  # a liked item is not recommended back
    assert {"m22", "m2"} & set(ids(res)[:3]), [c.item.label for c in res]
    assert any(r == "similar to Alien (1979)" for c in res for r in c.reasons)


def test_dislike_penalises_similar_items(any_retriever):
    base = any_retriever.retrieve(Query(text="scary horror movie", k=10))
    assert "m13" in ids(base)
    after = any_retriever.retrieve(Query(text="scary horror movie", disliked_ids=["m3"], k=10))
    assert "m3" not in ids(after)
    # the penalty is applied: each remaining horror film scores lower than without the dislike
    before = {c.item.id: c.score for c in base}
    penalised = [c for c in after if c.signals.get("dislike_sim", 0) > 0.5]
    assert penalised and all(c.score < before[c.item.id] for c in penalised if c.item.id in before)


def test_lexical_signal_finds_rare_word(any_retriever):
    res = any_retriever.retrieve(Query(text="DeLorean", k=3))
    assert ids(res)[0] == "m6"
    assert "lexical" in res[0].signals
    assert any("'delorean'" in r for r in res[0].reasons)


def test_empty_query_falls_back_to_popular_allowed_items(any_retriever):
    res = any_retriever.retrieve(Query(genres=[], unwanted_genres=["horror"], k=4))
    assert len(res) == 4
    assert all("popular" in c.signals and "horror" not in c.item.genres for c in res)


def test_chroma_where_and_memory_mask_agree(any_retriever):
    table = any_retriever.table
    queries = [
        Query(year=Range(1980, 1989)),
        Query(unwanted_genres=["horror"], year=Range(None, 1990)),
        Query(genres=["comedy"], require=["genres"], facts={"rating": Range(7.0, None)}),
        Query(unwanted_people=["Sigourney Weaver", "Ridley Scott"]),
    ]
    for q in queries:
        expected = {table.items[p].id for p in np.flatnonzero(mask(table, q))}
        got = {i for i, _ in any_retriever.snapshot.collection.query(table.vectors[0], len(table), where=to_where(q))}
        assert got == expected, q


def test_chroma_and_memory_dense_paths_rank_alike(any_retriever):
    q = Query(text="romantic comedy", year=Range(1985, 2000), k=5)
    by_mode = {}
    for mode in ("chroma", "memory"):
        r = Retriever(any_retriever.snapshot, any_retriever.embedder,
                      dataclasses.replace(RetrievalConfig(), filter_mode=mode))
        by_mode[mode] = ids(r.retrieve(q))
        assert r.dense_calls[mode] >= 1
    assert by_mode["chroma"] == by_mode["memory"]


def test_mmr_diversifies(retriever):
    q = Query(text="alien science fiction", k=4)
    plain = Retriever(retriever.snapshot, retriever.embedder, RetrievalConfig(mmr_lambda=1.0)).retrieve(q)
    diverse = Retriever(retriever.snapshot, retriever.embedder, RetrievalConfig(mmr_lambda=0.3)).retrieve(q)
    vecs = retriever.table.vectors

    def redundancy(cands):
        v = vecs[[retriever.table.pos[c.item.id] for c in cands]]
        s = v @ v.T
        return (s.sum() - np.trace(s)) / (len(cands) * (len(cands) - 1))

    assert ids(plain) != ids(diverse)
    assert redundancy(diverse) < redundancy(plain)
