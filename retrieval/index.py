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

With a Chroma server (``http`` mode) the server is the shared source and the index root is a private
cache: replicas share no disk. Ingest also stores each item's body (JSON, its position and content hash)
in its Chroma record's metadata and publishes the manifest on the server (a ``recbot-documents`` record:
the switch every replica sees). :meth:`CatalogueIndex.open` reads the published manifest and, when its
own cache does not hold that generation, rebuilds ``items.sqlite`` and BM25 from the server's records
(ids, vectors, bodies) in its private root. The previous generation's collection is kept on the server
so replicas still serving it keep working until they restart.
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
from retrieval.seed_vectors import SeedVectors
from retrieval.store import ChromaStore, StoreConfig, StoreError, VectorCollection

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
BODY_KEY = "recbot_item"  # http mode: the item's JSON body in its Chroma record's metadata
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
    def _lock(self, wait: bool = False) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexUnavailable(f"another ingest of {self.name!r} is running ({self.root})") from exc
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def manifest(self) -> Manifest | None:
        """The active generation (None before the first ingest): in http mode the one published on the
        Chroma server, else the one in the local index root."""
        if not self.shared:
            return self._local_manifest()
        published = self.published_manifest()
        if published is not None:
            return published
        local = self._local_manifest()  # ingested before manifests were published
        return local if local is not None and self.store.has_collection(local.collection) else None

    def _local_manifest(self) -> Manifest | None:
        """The generation this process's index root holds (in http mode: its private cache)."""
        return Manifest.read(self.manifest_path)

    # -- http mode: the server is the shared source ----------------------------------------------

    @property
    def shared(self) -> bool:
        """True with a Chroma server: items and the manifest are published there for every replica."""
        return self.store.config.mode == "http"

    @property
    def _document_key(self) -> str:
        return f"manifest:{self.name}"

    def published_manifest(self) -> Manifest | None:
        """http mode: the active generation as published on the Chroma server (None if never)."""
        doc = self.store.read_document(self._document_key)
        return None if doc is None else Manifest(**doc)

    def _cached(self, manifest: Manifest) -> bool:
        items_file = self._gen_dir(manifest.generation) / "items.sqlite"
        return self._local_manifest() == manifest and items_file.is_file()

    def _download(self, manifest: Manifest) -> None:
        """Rebuild ``manifest``'s generation (items file, BM25) in the private root from the server."""
        start = time.perf_counter()
        collection = self.store.collection(manifest.collection)
        rows: list[tuple[int, str, Item, np.ndarray]] = []
        for _ids, embeddings, metadatas in collection.records():
            for vector, meta in zip(embeddings, metadatas, strict=True):
                body = (meta or {}).get(BODY_KEY)
                if body is None:
                    raise IndexUnavailable(
                        f"collection {manifest.collection!r} on {self.store.config.describe()} holds no item "
                        f"bodies; run `recbot ingest {self.name}` again with store.mode = \"http\""
                    )
                record = json.loads(body)
                rows.append((record["pos"], record["hash"], Item.from_dict(record["item"]), vector))
        if len(rows) != manifest.count:
            raise IndexUnavailable(f"{manifest.collection!r} has {len(rows)} records, its manifest says "
                                   f"{manifest.count}; run `recbot ingest {self.name}` again")
        rows.sort(key=lambda r: r[0])
        items = [r[2] for r in rows]
        final = self._gen_dir(manifest.generation)
        tmp = self.root / f"gen-{manifest.generation}.partial"
        for leftover in (final, tmp):
            shutil.rmtree(leftover, ignore_errors=True)
        tmp.mkdir(parents=True)
        write_items(tmp / "items.sqlite", items, [r[1] for r in rows], np.stack([r[3] for r in rows]))
        LexicalIndex.build([it.text for it in items]).save(tmp / "bm25")
        os.replace(tmp, final)
        manifest.write(self.manifest_path)
        self._cleanup_local(keep=manifest.generation)
        log.info("%s: generation %d (%d items) rebuilt from %s in %.1f s", self.name, manifest.generation,
                 len(items), self.store.config.describe(), time.perf_counter() - start)

    def _current(self) -> Manifest | None:
        """The active generation, with its files in the local root. http mode: the published one,
        downloaded into the private cache when missing; a root ingested before manifests were
        published (its collection still on the server) is used as it is."""
        if not self.shared:
            return self._local_manifest()
        published = self.published_manifest()
        if published is None:
            return self.manifest()
        if not self._cached(published):
            self._download(published)
        return published

    # -- ingest ---------------------------------------------------------------------------------

    def ingest(
        self,
        items: Sequence[Item],
        embedder: Embedder,
        *,
        batch_size: int = 64,
        progress: bool = True,
        vectors: np.ndarray | None = None,
        seed: SeedVectors | None = None,
    ) -> IngestReport:
        """Index ``items``; ``vectors`` may supply precomputed embeddings (rows aligned with items,
        made by ``embedder``'s model), in which case nothing is embedded here. ``seed``: vectors shipped
        with a bundled catalogue (:mod:`retrieval.seed_vectors`), used for every item whose text they
        hold; only the others are embedded."""
        start = time.perf_counter()
        if vectors is not None and vectors.shape != (len(items), embedder.dim):
            raise ValueError(f"vectors must have shape ({len(items)}, {embedder.dim}), got {vectors.shape}")
        if not items:
            raise ValueError(f"catalogue {self.name!r} has no items to ingest")
        with self._lock():
            current = self._current()
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
                and (not self.shared or self.published_manifest() == current)
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
            if todo and seed is not None:
                shipped = seed.lookup([items[p].text for p in todo])
                for j, vec in shipped.items():
                    vectors[todo[j]] = vec
                todo = [p for j, p in enumerate(todo) if j not in shipped]
                log.info("%d items from the shipped vectors", len(shipped))
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
            if self.shared:
                self.store.write_document(self._document_key, asdict(manifest))  # every replica's switch
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
        metadatas = [item_metadata(it) for it in items]
        if self.shared:  # replicas rebuild their item table and BM25 from these
            for pos, (meta, it, h) in enumerate(zip(metadatas, items, hashes, strict=True)):
                meta[BODY_KEY] = json.dumps({"pos": pos, "hash": h, "item": it.to_dict()}, ensure_ascii=False)
        with tqdm(total=len(items), desc=f"indexing {self.name}", unit="item", disable=not progress) as bar:
            collection.upsert([it.id for it in items], vectors, metadatas, progress=bar)
        os.replace(tmp, final)

    def _cleanup(self, keep: int) -> None:
        """Remove generations and collections other than ``keep`` (old ones and crash leftovers); on a
        shared server the previous generation's collection stays for replicas still serving it."""
        prefix = f"recbot-{self.name}-g"
        kept = {self._collection_name(keep)}
        if self.shared:
            kept.add(self._collection_name(keep - 1))
        for col in self.store.list_collections():
            if col.startswith(prefix) and col not in kept:
                self.store.drop(col)
        self._cleanup_local(keep)

    def _cleanup_local(self, keep: int) -> None:
        for path in self.root.glob("gen-*"):
            if path.name != f"gen-{keep}":
                shutil.rmtree(path, ignore_errors=True)

    # -- open -----------------------------------------------------------------------------------

    def open(self) -> IndexSnapshot:
        if self.shared:
            try:
                with self._lock(wait=True):
                    manifest = self._current()
            except StoreError as exc:
                raise IndexUnavailable(f"catalogue {self.name!r}: {exc}") from exc
            where = f"on {self.store.config.describe()}"
        else:
            manifest = self.manifest()
            where = f"no {self.manifest_path}"
        if manifest is None:
            raise IndexUnavailable(
                f"catalogue {self.name!r} is not indexed yet ({where}); run `recbot ingest {self.name}`"
            )
        gen = self._gen_dir(manifest.generation)
        table = ItemTable.load(gen / "items.sqlite")
        lexical = LexicalIndex.load(gen / "bm25", len(table))
        collection = self.store.collection(manifest.collection)
        return IndexSnapshot(manifest=manifest, table=table, lexical=lexical, collection=collection)
