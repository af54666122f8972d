"""Ingest a validated catalogue into the index, and open the active index for retrieval.

Layout under the index root (``settings.index_dir``)::

    chroma/                      embedded Chroma files (http mode: collections live on the server)
    <catalogue>/manifest.json    the active generation: collection name, embedder, counts
    <catalogue>/gen-<N>/         items.sqlite (items, hashes, vectors) and bm25/

Every ingest that changes anything builds generation N+1 beside N — vectors of unchanged items come
from N's items file, only new or changed items are embedded — and switches ``manifest.json`` with an
atomic rename at the very end. An ingest that fails or is killed half-way leaves generation N active
and intact; its leftovers are removed by the next ingest. Re-ingesting an unchanged catalogue embeds
nothing and writes nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from retrieval.embeddings import Embedder
from retrieval.filters import item_metadata
from retrieval.itemstore import ItemTable, read_hashes_and_vectors, write_items
from retrieval.lexical import LexicalIndex
from retrieval.schema import Item
from retrieval.store import ChromaStore, StoreConfig, VectorCollection

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,60}[a-z0-9]$")


class IndexUnavailable(RuntimeError):
    """The index is missing, stale or unusable; the message says what to run."""


@dataclass(frozen=True)
class Manifest:
    catalogue: str
    generation: int
    collection: str
    embedder: str
    dim: int
    count: int
    created: float
    version: int = MANIFEST_VERSION

    @classmethod
    def read(cls, path: Path) -> Manifest | None:
        if not path.is_file():
            return None
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)


@dataclass(frozen=True)
class IngestReport:
    catalogue: str
    total: int
    embedded: int
    reused: int
    removed: int
    generation: int
    seconds: float
    up_to_date: bool

    @property
    def items_per_s(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> str:
        if self.up_to_date:
            return f"{self.catalogue}: {self.total} items, unchanged — nothing embedded ({self.seconds:.1f} s)"
        return (
            f"{self.catalogue}: {self.total} items in generation {self.generation} — embedded "
            f"{self.embedded}, reused {self.reused}, removed {self.removed} in {self.seconds:.1f} s "
            f"({self.items_per_s:.0f} items/s)"
        )


def store_config_for(index_root: Path, mode: str = "embedded", host: str = "127.0.0.1", port: int = 8000) -> StoreConfig:
    return StoreConfig(mode=mode, path=index_root / "chroma", host=host, port=port)  # type: ignore[arg-type]


@dataclass
class IndexSnapshot:
    """One consistent generation: what the retriever reads."""

    manifest: Manifest
    table: ItemTable
    lexical: LexicalIndex
    collection: VectorCollection


class CatalogueIndex:
    """The index of one catalogue: ingest into it, open it."""

    def __init__(self, name: str, index_root: Path, store: ChromaStore) -> None:
        if not _NAME.match(name):
            raise ValueError(f"catalogue name {name!r} must be 3-62 chars of a-z, 0-9 and '-'")
        self.name = name
        self.root = index_root / name
        self.store = store

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def _gen_dir(self, generation: int) -> Path:
        return self.root / f"gen-{generation}"

    def _collection_name(self, generation: int) -> str:
        return f"recbot-{self.name}-g{generation}"

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexUnavailable(f"another ingest of {self.name!r} is running ({self.root})") from exc
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def manifest(self) -> Manifest | None:
        return Manifest.read(self.manifest_path)

    # -- ingest ---------------------------------------------------------------------------------

    def ingest(
        self,
        items: Sequence[Item],
        embedder: Embedder,
        *,
        batch_size: int = 64,
        progress: bool = True,
        vectors: np.ndarray | None = None,
    ) -> IngestReport:
        """Index ``items``; ``vectors`` may supply precomputed embeddings (rows aligned with items,
        made by ``embedder``'s model), in which case nothing is embedded here."""
        start = time.perf_counter()
        if vectors is not None and vectors.shape != (len(items), embedder.dim):
            raise ValueError(f"vectors must have shape ({len(items)}, {embedder.dim}), got {vectors.shape}")
        if not items:
            raise ValueError(f"catalogue {self.name!r} has no items to ingest")
        with self._lock():
            current = self.manifest()
            old: dict[str, tuple[str, np.ndarray]] = {}
            if current is not None and current.embedder == embedder.name:
                old = read_hashes_and_vectors(self._gen_dir(current.generation) / "items.sqlite")
            hashes = [it.content_hash() for it in items]
            new_ids = [it.id for it in items]
            removed = len(set(old) - set(new_ids))

            if (
                current is not None
                and current.embedder == embedder.name
                and current.count == len(items)
                and removed == 0
                and all(old.get(i, ("",))[0] == h for i, h in zip(new_ids, hashes, strict=True))
                and self.store.has_collection(current.collection)
            ):
                self._cleanup(keep=current.generation)
                return IngestReport(self.name, len(items), 0, len(items), 0, current.generation,
                                    time.perf_counter() - start, up_to_date=True)

            todo = [p for p, (i, h) in enumerate(zip(new_ids, hashes, strict=True)) if old.get(i, ("",))[0] != h]
            if vectors is not None:
                todo = []
            else:
                vectors = np.zeros((len(items), embedder.dim), dtype=np.float32)
                for p, i in enumerate(new_ids):
                    if i in old:  # changed items are overwritten below
                        vectors[p] = old[i][1]
            if todo:
                log.info("embedding %d of %d items", len(todo), len(items))
                vectors[todo] = embedder.embed(
                    [items[p].text for p in todo], batch_size=batch_size, progress=progress
                )

            generation = (current.generation if current else 0) + 1
            self._build_generation(generation, items, hashes, vectors, progress)
            manifest = Manifest(
                catalogue=self.name, generation=generation, collection=self._collection_name(generation),
                embedder=embedder.name, dim=embedder.dim, count=len(items), created=time.time(),
            )
            manifest.write(self.manifest_path)  # the switch: atomic
            self._cleanup(keep=generation)
            return IngestReport(self.name, len(items), len(todo), len(items) - len(todo), removed,
                                generation, time.perf_counter() - start, up_to_date=False)

    def _build_generation(
        self, generation: int, items: Sequence[Item], hashes: Sequence[str], vectors: np.ndarray, progress: bool
    ) -> None:
        final = self._gen_dir(generation)
        tmp = self.root / f"gen-{generation}.partial"
        for leftover in (final, tmp):
            shutil.rmtree(leftover, ignore_errors=True)
        tmp.mkdir(parents=True)
        write_items(tmp / "items.sqlite", items, hashes, vectors)
        LexicalIndex.build([it.text for it in items]).save(tmp / "bm25")

        name = self._collection_name(generation)
        self.store.drop(name)  # a leftover of an interrupted ingest
        collection = self.store.collection(name, create=True)
        with tqdm(total=len(items), desc=f"indexing {self.name}", unit="item", disable=not progress) as bar:
            collection.upsert([it.id for it in items], vectors, [item_metadata(it) for it in items], progress=bar)
        os.replace(tmp, final)

    def _cleanup(self, keep: int) -> None:
        """Remove generations and collections other than ``keep`` (old ones and crash leftovers)."""
        prefix = f"recbot-{self.name}-g"
        for col in self.store.list_collections():
            if col.startswith(prefix) and col != self._collection_name(keep):
                self.store.drop(col)
        for path in self.root.glob("gen-*"):
            if path.name != f"gen-{keep}":
                shutil.rmtree(path, ignore_errors=True)

    # -- open -----------------------------------------------------------------------------------

    def open(self) -> IndexSnapshot:
        manifest = self.manifest()
        if manifest is None:
            raise IndexUnavailable(
                f"catalogue {self.name!r} is not indexed yet (no {self.manifest_path}); run `recbot ingest {self.name}`"
            )
        gen = self._gen_dir(manifest.generation)
        table = ItemTable.load(gen / "items.sqlite")
        lexical = LexicalIndex.load(gen / "bm25", len(table))
        collection = self.store.collection(manifest.collection)
        return IndexSnapshot(manifest=manifest, table=table, lexical=lexical, collection=collection)
