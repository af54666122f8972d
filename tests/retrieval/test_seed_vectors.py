"""Vectors shipped with a bundled catalogue: faithful to the model, used for unchanged texts only."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from retrieval import seed_vectors
from retrieval.embeddings import MODEL_SLUG

pytestmark = pytest.mark.slow  # the real embedder


def test_round_trip_keeps_the_vectors(films, embedder, tmp_path: Path):
    texts = [f.text for f in films]
    vectors = embedder.embed(texts)
    seed_vectors.write("films", MODEL_SLUG, texts, vectors, folder=tmp_path)
    seed = seed_vectors.load("films", MODEL_SLUG, embedder.dim, folder=tmp_path)
    assert seed is not None
    got = seed.lookup([*texts, "a text nobody embedded"])
    assert sorted(got) == list(range(len(texts)))  # the unknown text is not found
    cosines = [float(got[i] @ vectors[i]) for i in range(len(texts))]
    assert min(cosines) > 0.999
    assert seed_vectors.load("films", MODEL_SLUG, embedder.dim + 1, folder=tmp_path) is None  # other model


def test_ingest_embeds_only_the_texts_the_seed_lacks(films, embedder, tmp_path: Path):
    from retrieval.index import CatalogueIndex, store_config_for
    from retrieval.store import ChromaStore

    texts = [f.text for f in films]
    seed_vectors.write("films", MODEL_SLUG, texts, embedder.embed(texts), folder=tmp_path / "seed")
    seed = seed_vectors.load("films", MODEL_SLUG, embedder.dim, folder=tmp_path / "seed")
    changed = [dataclasses.replace(films[0], text=films[0].text + " Restored cut."), *films[1:]]
    assert changed[0].text != films[0].text

    index = CatalogueIndex("films", tmp_path / "index", ChromaStore(store_config_for(tmp_path / "index")))
    report = index.ingest(changed, embedder, progress=False, seed=seed)
    assert report.embedded == 1 and report.total == len(films)
    table = index.open().table
    # (int8 activations are quantised per batch, so the same text embedded in another batch moves a little)
    fresh = embedder.embed([changed[0].text, changed[1].text])
    assert float(table.vectors[table.pos[changed[0].id]] @ fresh[0]) > 0.98  # embedded here
    assert float(table.vectors[table.pos[changed[1].id]] @ fresh[1]) > 0.98  # from the seed


def test_the_shipped_movie_vectors_match_the_model(embedder):
    """A stale shipped file (model or catalogue text changed) would quietly degrade retrieval."""
    from retrieval.catalogue import load_catalogue

    seed = seed_vectors.load("movies", MODEL_SLUG, embedder.dim)
    if seed is None:
        pytest.fail("no shipped vectors for the bundled movies: run `recbot ingest movies --write-seed-vectors`")
    items = load_catalogue("movies", progress=False).items
    found = seed.lookup([it.text for it in items])
    assert len(found) >= 0.98 * len(items), f"only {len(found)} of {len(items)} texts have a shipped vector"
    sample = list(found)[:: max(1, len(found) // 200)]
    fresh = embedder.embed([items[p].text for p in sample])
    cosines = np.array([float(found[p] @ v) for p, v in zip(sample, fresh, strict=True)])
    # int8 activations make the same text differ a little from batch to batch (cosine ~.98-.995); a stale
    # file (another model, other text) falls far below
    assert cosines.mean() > 0.985 and cosines.min() > 0.95, (
        f"shipped vectors differ from the model: cosine mean {cosines.mean():.3f}, min {cosines.min():.3f}")
