"""Session-wide fixtures: offline mode, a private data dir, and the shared evaluation data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.film_catalogue import make_items
from tests.pg_server import postgres_server  # noqa: F401 - a real PostgreSQL server, once per session

# Every model comes from a PyPI package; nothing may reach a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RECBOT_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the clone (present in CI); tests needing it skip elsewhere."""
    path = SHARED / "data"
    if not (path / "redial" / "id2info.json").is_file():
        pytest.skip(f"evaluation data not found at {path} (only CI and developers have ../shared)")
    return path


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir shared by the whole session, for indexes that are costly to rebuild."""
    return tmp_path_factory.mktemp("recbot-data")


# -- a small real catalogue, embedded once, indexed in a real embedded Chroma --------------------------

@pytest.fixture(scope="session")
def films():
    return make_items()


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory):
    from retrieval.embeddings import create_embedder

    return create_embedder("onnx", cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def film_index(tmp_path_factory: pytest.TempPathFactory, films, embedder):
    """An embedded-Chroma index of the films, built once for the session."""
    from retrieval.index import CatalogueIndex, store_config_for
    from retrieval.store import ChromaStore

    root: Path = tmp_path_factory.mktemp("index")
    store = ChromaStore(store_config_for(root))
    index = CatalogueIndex("films", root, store)
    index.ingest(films, embedder, progress=False)
    return index


@pytest.fixture(scope="session")
def retriever(film_index, embedder):
    from retrieval.retriever import Retriever

    return Retriever(film_index.open(), embedder)
