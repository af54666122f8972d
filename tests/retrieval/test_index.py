"""Ingest: idempotent, incremental (content hashes), atomic generations, crash-safe."""

from __future__ import annotations

import dataclasses

import pytest

from retrieval.index import CatalogueIndex, IndexUnavailable, store_config_for
from retrieval.retriever import Retriever
from retrieval.schema import Query
from retrieval.store import ChromaStore, VectorCollection

pytestmark = pytest.mark.slow


@pytest.fixture
def fresh_index(tmp_path):
    return CatalogueIndex("films", tmp_path, ChromaStore(store_config_for(tmp_path)))


def test_first_ingest_indexes_everything(fresh_index, films, embedder):
    report = fresh_index.ingest(films, embedder, progress=False)
    assert (report.total, report.embedded, report.reused, report.generation) == (len(films), len(films), 0, 1)
    snap = fresh_index.open()
    assert snap.collection.count() == len(films) == len(snap.table)
    assert snap.manifest.embedder == embedder.name


def test_reingest_unchanged_embeds_nothing(fresh_index, films, embedder):
    fresh_index.ingest(films, embedder, progress=False)
    before = fresh_index.manifest()
    report = fresh_index.ingest(films, embedder, progress=False)
    assert report.up_to_date and report.embedded == 0
    assert fresh_index.manifest() == before


def test_changed_items_reembedded_removed_deleted(fresh_index, films, embedder):
    fresh_index.ingest(films, embedder, progress=False)
    changed = dataclasses.replace(films[3], text="A dreary tax accounting seminar recorded in 1987.")
    new = dataclasses.replace(films[0], id="m99", title="Brand New Film")
    catalogue = [changed, *films[4:], new]  # m1..m3 removed, m4 changed, m99 added
    report = fresh_index.ingest(catalogue, embedder, progress=False)
    assert (report.embedded, report.removed, report.reused, report.generation) == (2, 3, len(films) - 4, 2)

    snap = fresh_index.open()
    assert snap.collection.count() == len(catalogue)
    assert snap.table.get("m1") is None and snap.table.get("m99") is not None
    # only the active generation's collection and directory remain
    names = [c for c in fresh_index.store.list_collections() if c.startswith("recbot-films-")]
    assert names == ["recbot-films-g2"]
    assert sorted(p.name for p in fresh_index.root.glob("gen-*")) == ["gen-2"]
    # the changed text is what is searched now
    hits = Retriever(snap, embedder).retrieve(Query(text="tax accounting seminar", k=1))
    assert hits[0].item.id == "m4"


def test_interrupted_ingest_leaves_previous_generation_usable(fresh_index, films, embedder, monkeypatch):
    fresh_index.ingest(films, embedder, progress=False)
    good = fresh_index.manifest()

    calls = {"n": 0}
    real_upsert = VectorCollection.upsert

    def failing_upsert(self, *args, **kwargs):  # the process dies half-way through writing vectors
        calls["n"] += 1
        real_upsert(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(VectorCollection, "upsert", failing_upsert)
    changed = [dataclasses.replace(f, text=f.text + " Remastered.") for f in films]
    with pytest.raises(KeyboardInterrupt):
        fresh_index.ingest(changed, embedder, progress=False)
    assert calls["n"] == 1
    monkeypatch.setattr(VectorCollection, "upsert", real_upsert)

    assert fresh_index.manifest() == good  # still generation 1
    res = Retriever(fresh_index.open(), embedder).retrieve(Query(text="haunted hotel", k=1))
    assert res[0].item.id == "m3"

    # the next ingest finishes the job and removes the half-written generation
    report = fresh_index.ingest(changed, embedder, progress=False)
    assert report.generation == 2 and report.embedded == len(films)
    assert not list(fresh_index.root.glob("*.partial"))
    assert [c for c in fresh_index.store.list_collections() if c.startswith("recbot-films-")] == ["recbot-films-g2"]


def test_open_before_ingest_says_what_to_run(fresh_index):
    with pytest.raises(IndexUnavailable, match="recbot ingest films"):
        fresh_index.open()


def test_bad_catalogue_name_rejected(tmp_path):
    with pytest.raises(ValueError, match="catalogue name"):
        CatalogueIndex("Bad Name!", tmp_path, ChromaStore(store_config_for(tmp_path)))
