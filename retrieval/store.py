"""The vector store behind one small interface: Chroma, embedded or client–server.

``embedded`` opens a ``PersistentClient`` on a directory (one process only: Chroma's files must not be
shared by two processes). ``http`` talks to a ``chroma run`` server, which several app processes can
share. Everything above this module sees :class:`VectorCollection` only.

Chroma's default embedding function would download a model, so collections are always created with
``embedding_function=None`` and vectors are passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

log = logging.getLogger(__name__)

Where = dict[str, Any]


class StoreError(RuntimeError):
    """The vector store is unreachable or refused an operation."""


@dataclass(frozen=True)
class StoreConfig:
    mode: Literal["embedded", "http"] = "embedded"
    path: Path | None = None  # embedded: the directory Chroma persists to
    host: str = "127.0.0.1"  # http
    port: int = 8000

    def describe(self) -> str:
        return f"embedded Chroma at {self.path}" if self.mode == "embedded" else (
            f"Chroma server at http://{self.host}:{self.port}"
        )


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


class VectorCollection:
    """One Chroma collection of unit vectors compared by cosine similarity."""

    def __init__(self, collection: Any, max_batch: int) -> None:
        self._col = collection
        self._max_batch = max_batch

    @property
    def name(self) -> str:
        return self._col.name

    def count(self) -> int:
        return self._col.count()

    def upsert(
        self,
        ids: Sequence[str],
        embeddings: np.ndarray,
        metadatas: Sequence[dict[str, Any]],
        progress: Any | None = None,
    ) -> None:
        """Insert or replace records in batches within Chroma's limit; ``progress`` is a tqdm bar."""
        if len(ids) != len(embeddings) or len(ids) != len(metadatas):
            raise ValueError("ids, embeddings and metadatas must have the same length")
        for part in _batches(len(ids), self._max_batch):
            self._col.upsert(
                ids=list(ids[part]), embeddings=embeddings[part], metadatas=list(metadatas[part])
            )
            if progress is not None:
                progress.update(part.stop - part.start)

    def delete(self, ids: Sequence[str]) -> None:
        for part in _batches(len(ids), self._max_batch):
            self._col.delete(ids=list(ids[part]))

    def query(self, vector: np.ndarray, n: int, where: Where | None = None) -> list[tuple[str, float]]:
        """The ``n`` nearest records as ``(id, cosine similarity)``, best first."""
        if n <= 0:
            return []
        res = self._col.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=n,
            where=where or None,
            include=["distances"],
        )
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def query_many(self, vectors: np.ndarray, n: int, where: Where | None = None) -> list[list[tuple[str, float]]]:
        if n <= 0 or len(vectors) == 0:
            return [[] for _ in range(len(vectors))]
        res = self._col.query(
            query_embeddings=np.asarray(vectors, dtype=np.float32), n_results=n, where=where or None,
            include=["distances"],
        )
        return [
            [(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=True)]
            for ids, dists in zip(res["ids"], res["distances"], strict=True)
        ]

    def records(self) -> Iterator[tuple[list[str], np.ndarray, list[dict[str, Any]]]]:
        """Every record as batches of ``(ids, embeddings, metadatas)`` (pages within Chroma's limit)."""
        total = self.count()
        for part in _batches(total, self._max_batch):
            res = self._col.get(limit=part.stop - part.start, offset=part.start,
                                include=["embeddings", "metadatas"])
            yield list(res["ids"]), np.asarray(res["embeddings"], dtype=np.float32), list(res["metadatas"])

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for part in _batches(len(ids), self._max_batch):
            res = self._col.get(ids=list(ids[part]), include=["embeddings"])
            out.update(zip(res["ids"], np.asarray(res["embeddings"], dtype=np.float32), strict=True))
        return out


class ChromaStore:
    """A connection to Chroma in one of the two modes."""

    def __init__(self, config: StoreConfig) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.config = config
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if config.mode == "embedded":
                if config.path is None:
                    raise ValueError("embedded mode needs a path")
                config.path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(config.path), settings=chroma_settings)
            else:
                self._client = chromadb.HttpClient(
                    host=config.host, port=config.port, settings=chroma_settings
                )
                self._client.heartbeat()
        except ValueError:
            raise
        except Exception as exc:  # chromadb raises a variety of transport errors
            raise StoreError(f"cannot open {config.describe()}: {exc}") from exc
        self._max_batch = int(self._client.get_max_batch_size())

    def collection(self, name: str, *, create: bool = False) -> VectorCollection:
        try:
            if create:
                col = self._client.get_or_create_collection(
                    name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
                )
            else:
                col = self._client.get_collection(name, embedding_function=None)
        except Exception as exc:
            raise StoreError(f"collection {name!r} is not available in {self.config.describe()}: {exc}") from exc
        return VectorCollection(col, self._max_batch)

    def has_collection(self, name: str) -> bool:
        return name in self.list_collections()

    def list_collections(self) -> list[str]:
        return [c.name for c in self._client.list_collections()]

    # -- small JSON documents kept on the store itself (what replicas that share nothing else read) --

    DOCUMENTS = "recbot-documents"

    def read_document(self, key: str) -> dict[str, Any] | None:
        """The JSON document stored under ``key`` by :meth:`write_document`, or None."""
        import json

        try:
            if not self.has_collection(self.DOCUMENTS):
                return None
            res = self._client.get_collection(self.DOCUMENTS, embedding_function=None).get(
                ids=[key], include=["metadatas"])
        except Exception as exc:  # chromadb raises a variety of transport errors
            raise StoreError(f"cannot read {key!r} from {self.config.describe()}: {exc}") from exc
        if not res["ids"]:
            return None
        return json.loads(res["metadatas"][0]["json"])

    def write_document(self, key: str, doc: dict[str, Any]) -> None:
        """Store ``doc`` under ``key``, replacing what was there in one step (a record upsert)."""
        import json

        col = self._client.get_or_create_collection(self.DOCUMENTS, embedding_function=None)
        col.upsert(ids=[key], embeddings=[[1.0]], metadatas=[{"json": json.dumps(doc)}])

    def drop(self, name: str) -> None:
        if self.has_collection(name):
            self._client.delete_collection(name)
            log.info("dropped collection %s", name)
