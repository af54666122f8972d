"""The packaged transfer ranker: film keys, the quality prior, and the shipped model used by the real retriever
on a catalogue it was never trained on (the small film catalogue), obeying constraints and exclusions."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from retrieval.itemstore import ItemTable
from retrieval.retriever import RetrievalConfig, Retriever
from retrieval.schema import Item, Query, Range
from retrieval.titlekey import film_key, fold_title, label_key
from retrieval.transfer import FEATURES, PACKAGED_DIR, TransferArtifact, load_transfer
from retrieval.transfer_model import QueryParts, quality_matrix


def test_film_keys_fold_articles_accents_punctuation_and_need_a_year():
    assert film_key("The Matrix", 1999) == film_key("Matrix, The", 1999) == "matrix|1999"
    assert film_key("Amélie", 2001) == film_key("Amelie", 2001)
    assert film_key("Ocean's Eleven", 2001) == film_key("Oceans Eleven!", 2001) == "oceans eleven|2001"
    assert film_key("Harold & Kumar", 2004) == film_key("Harold and Kumar", 2004)
    assert film_key("Heat", None) is None
    assert film_key("Heat", 1995) != film_key("Heat", 1986)
    assert label_key("Heat  (1995)") == "heat|1995"
    assert label_key("Heat") is None
    assert fold_title("A") == "a"  # a one-word title keeps its article


@pytest.fixture(scope="module")
def transfer(embedder):
    ranker = load_transfer(embedder)
    assert ranker is not None, f"the packaged transfer ranker is missing from {PACKAGED_DIR}"
    return ranker


def test_packaged_artifact_is_small_and_current():
    size = sum(p.stat().st_size for p in PACKAGED_DIR.iterdir() if p.is_file())
    assert 0 < size <= 30_000_000
    art = TransferArtifact.load(PACKAGED_DIR)
    assert art.features == FEATURES
    assert art.meta.get("oof_dev_new_only"), "meta.json records the out-of-fold dev numbers"


def test_quality_prior_prefers_the_well_reviewed_film(transfer):
    vec = np.zeros((2, 384), dtype=np.float32)
    vec[:, 0] = 1.0
    base = {"title": "Twin", "text": "same text", "year": 1990, "genres": ("comedy",)}
    items = [Item(id="poor", facts={"rt_meter": 15, "rt_reviews": 8, "metacritic": 30}, popularity=8, **base),
             Item(id="good", facts={"rt_meter": 95, "rt_reviews": 180, "metacritic": 85, "oscars": 2},
                  popularity=180, **base)]
    table = ItemTable(items=items, vectors=vec)
    q = quality_matrix(table)
    assert q.shape == (2, q.shape[1]) and q[1, 0] > q[0, 0]
    parts = QueryParts.build(Query(text="a comedy"), table, None)
    scores = transfer.artifact.two_tower.scores(parts, table)
    assert scores["prior"][1] > scores["prior"][0]
    assert scores["total"][1] > scores["total"][0]


def test_transfer_ranker_reranks_a_new_catalogue_within_constraints(film_index, embedder, transfer):
    config = RetrievalConfig(candidates=3, mmr_lambda=1.0, filter_mode="memory")
    snapshot = film_index.open()
    plain = Retriever(snapshot, embedder, config)
    ranked = Retriever(snapshot, embedder, config, reranker=transfer)
    assert ranked.ranker_name == "transfer" and plain.ranker_name == "none"
    query = Query(text="a scary film", liked_ids=["m1"], exclude_ids=["m13"], k=20)
    base = plain.retrieve(query)
    out = ranked.retrieve(query)
    # the two-tower adds items the three-deep lists never found, all scored by the trees
    assert len(out) > len(base)
    assert all("rerank" in c.signals for c in out)
    scores = [c.score for c in out]
    assert scores == sorted(scores, reverse=True)
    assert not {"m1", "m13"} & {c.item.id for c in out}

    hard = Query(text="funny", genres=["comedy"], require=["genres"], year=Range(1980, 1999),
                 exclude_ids=["m15"], k=20)
    got = ranked.retrieve(hard)
    assert got
    for c in got:
        assert "comedy" in {g.casefold() for g in c.item.genres}
        assert 1980 <= c.item.year <= 1999
        assert c.item.id != "m15"


def test_stale_or_missing_artifact_is_not_loaded(tmp_path, embedder):
    assert load_transfer(embedder, tmp_path / "nothing") is None
    art = TransferArtifact.load(PACKAGED_DIR)
    art.save(tmp_path / "copy")
    assert load_transfer(embedder, tmp_path / "copy") is not None
    with open(tmp_path / "copy" / "scorer.pkl", "rb") as fh:
        blob = pickle.load(fh)
    blob["feature_version"] = -1
    with open(tmp_path / "copy" / "scorer.pkl", "wb") as fh:
        pickle.dump(blob, fh)
    assert load_transfer(embedder, tmp_path / "copy") is None


def test_services_pick_the_transfer_ranker_when_no_catalogue_reranker_exists(film_index, tmp_path):
    from bot import services
    from bot.settings import Settings

    settings = Settings(data_dir=tmp_path)
    table = film_index.open().table
    ranker = services.ranker_for(settings, "films", table)
    assert ranker is not None and ranker.name == "transfer"
    off = Settings(data_dir=tmp_path, retrieval={"rerank": "off"})
    assert services.ranker_for(off, "films", table) is None
