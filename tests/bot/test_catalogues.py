"""Indexing a bundled catalogue on first use (``bot.catalogues``), with the real index and embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import services
from bot.catalogues import bundled_names, ensure_indexed
from bot.settings import Settings
from retrieval.index import IndexUnavailable


def test_an_unknown_catalogue_that_is_not_indexed_is_refused(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    heard: list[str] = []
    with pytest.raises(IndexUnavailable, match="'my-shop' is not indexed; run `recbot ingest`"):
        ensure_indexed(settings, "my-shop", notice=heard.append)
    assert heard == []
    assert {"movies", "recipes"} <= bundled_names()


@pytest.mark.slow
def test_a_bundled_catalogue_is_indexed_once_with_a_notice(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    heard: list[str] = []
    ensure_indexed(settings, "recipes", notice=heard.append)
    assert heard[0].startswith("First use of the bundled catalogue 'recipes'")
    assert len(heard) == 2  # the notice, then the ingest summary
    assert len(services.retriever(settings, "recipes").table) > 4000
    ensure_indexed(settings, "recipes", notice=heard.append)  # already indexed: nothing to do or say
    assert len(heard) == 2
