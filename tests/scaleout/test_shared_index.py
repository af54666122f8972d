"""Replicas that share nothing local: with a Chroma server, a replica whose data dir is empty rebuilds
the item table and BM25 from the server, and answers exactly as the replica that ingested."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from eval.topology import Process, chroma_server
from retrieval.index import CatalogueIndex, IndexUnavailable, store_config_for
from retrieval.retriever import Retriever
from retrieval.schema import Query
from retrieval.store import ChromaStore

pytestmark = [pytest.mark.scaleout, pytest.mark.slow]

QUERIES = ["a haunted house and a scary ghost", "space robots", "a funny romantic comedy", "crime heist"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    srv = chroma_server(tmp_path_factory.mktemp("shared-chroma")).start()
    try:
        yield srv
    finally:
        srv.stop()


def _index(root: Path, server: Process, name: str = "films") -> CatalogueIndex:
    return CatalogueIndex(name, root, ChromaStore(store_config_for(root, "http", "127.0.0.1", server.port)))


def _ids(retriever: Retriever, text: str) -> list[str]:
    return [c.item.id for c in retriever.retrieve(Query(text=text, k=5))]


def test_a_replica_with_an_empty_data_dir_rebuilds_the_index_from_the_server(server, films, embedder, tmp_path):
    writer = _index(tmp_path / "a", server)
    writer.ingest(films, embedder, progress=False)
    a = writer.open()

    reader = _index(tmp_path / "b", server)  # nothing on its disk
    assert not (tmp_path / "b").exists()
    assert reader.manifest() == writer.manifest()  # the active generation is the published one
    b = reader.open()
    assert b.manifest == a.manifest == reader.published_manifest()
    assert [it.to_dict() for it in b.table.items] == [it.to_dict() for it in a.table.items]
    np.testing.assert_allclose(b.table.vectors, a.table.vectors, atol=1e-6)
    ra, rb = Retriever(a, embedder), Retriever(b, embedder)
    for text in QUERIES:
        assert _ids(rb, text) == _ids(ra, text), text
    assert b.lexical.search("ghost house", 5) == a.lexical.search("ghost house", 5)
    # its private cache now holds that generation: opening again downloads nothing
    items_file = tmp_path / "b" / "films" / f"gen-{b.manifest.generation}" / "items.sqlite"
    before = items_file.stat().st_mtime_ns
    assert reader.open().manifest == b.manifest and items_file.stat().st_mtime_ns == before


def test_a_new_generation_published_by_one_replica_reaches_the_others(server, films, embedder, tmp_path):
    writer = _index(tmp_path / "a", server, "films-gen")
    writer.ingest(films, embedder, progress=False)
    reader = _index(tmp_path / "b", server, "films-gen")
    first = reader.open()

    changed = dataclasses.replace(films[3], text="A dreary tax accounting seminar recorded in 1987.")
    writer.ingest([changed, *films[4:]], embedder, progress=False)  # m1..m3 removed, m4 changed
    second = reader.open()  # a replica restarting
    assert second.manifest.generation == first.manifest.generation + 1
    assert second.table.get("m1") is None and len(second.table) == len(films) - 3
    hits = Retriever(second, embedder).retrieve(Query(text="tax accounting seminar", k=1))
    assert hits[0].item.id == "m4"
    assert sorted(p.name for p in (tmp_path / "b" / "films-gen").glob("gen-*")) == [
        f"gen-{second.manifest.generation}"]
    # the previous generation stays on the server for replicas still serving it
    names = {c for c in writer.store.list_collections() if c.startswith("recbot-films-gen-")}
    assert names == {first.manifest.collection, second.manifest.collection}
    # re-ingesting the same catalogue again changes nothing anywhere
    assert writer.ingest([changed, *films[4:]], embedder, progress=False).up_to_date


def test_a_catalogue_never_published_says_where_it_looked(server, tmp_path):
    with pytest.raises(IndexUnavailable, match=rf"not indexed yet \(on Chroma server at http://127.0.0.1:{server.port}\)"):
        _index(tmp_path / "c", server, "never-ingested").open()
