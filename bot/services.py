"""Wiring from settings to live components, shared by the CLI, the app and the API.

Expensive objects (the embedder, Chroma clients, opened indexes) are created once per process and
reused; everything here is thread-safe to call.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache

from bot.settings import Settings
from retrieval.embeddings import Embedder, create_embedder
from retrieval.index import CatalogueIndex, store_config_for
from retrieval.retriever import RetrievalConfig, Retriever
from retrieval.store import ChromaStore

log = logging.getLogger(__name__)
_lock = threading.Lock()


@lru_cache(maxsize=4)
def _embedder(backend: str, cache_dir: str) -> Embedder:
    from pathlib import Path

    return create_embedder(backend, cache_dir=Path(cache_dir))  # type: ignore[arg-type]


def embedder(settings: Settings) -> Embedder:
    with _lock:
        return _embedder(settings.embedding.backend, str(settings.cache_dir))


_stores: dict[tuple, ChromaStore] = {}


def store(settings: Settings) -> ChromaStore:
    cfg = store_config_for(settings.index_dir, settings.store.mode, settings.store.host, settings.store.port)
    key = (cfg.mode, str(cfg.path), cfg.host, cfg.port)
    with _lock:
        if key not in _stores:
            _stores[key] = ChromaStore(cfg)
        return _stores[key]


def catalogue_index(settings: Settings, name: str) -> CatalogueIndex:
    return CatalogueIndex(name, settings.index_dir, store(settings))


def retrieval_config(settings: Settings) -> RetrievalConfig:
    r = settings.retrieval
    return RetrievalConfig(candidates=r.candidates, rrf_k=r.rrf_k, mmr_lambda=r.mmr_lambda)


def retriever(settings: Settings, name: str) -> Retriever:
    """A retriever over the active generation of catalogue ``name`` (it must be ingested)."""
    snapshot = catalogue_index(settings, name).open()
    return Retriever(snapshot, embedder(settings), retrieval_config(settings))
