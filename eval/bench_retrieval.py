"""Retrieval benchmark: ingest throughput and query latency, printed as figures (never asserted).

    recbot bench retrieval
    recbot bench retrieval --synthetic 200000 --queries 200

1. Ingest the bundled movie catalogue (17,472 films) into a fresh, temporary index: items/s, embedding
   included.
2. Query latency p50/p95 of ``Retriever.retrieve`` (query embedding + dense + BM25 + filters + fusion +
   MMR) over a fixed mix of queries: free text, with hard filters, with liked items.
3. The same at a synthetic scale (default 200,000 items): the real film items repeated with perturbed
   real vectors and shifted years, so the index has realistic texts, metadata and vector geometry
   without embedding 200k texts. Both dense paths are measured: ``auto`` (Chroma HNSW unfiltered,
   exact in-memory search under filters) and ``chroma`` (Chroma's own ``where``).
4. At both scales, the full ranked retrieval the chat runs: ``auto`` plus the packaged transfer ranker
   (``auto+transfer``; two-tower over the whole catalogue + gradient-boosted trees over the pool).

Each latency line also gives the process's CPU time per query: on a shared, busy machine wall time
includes waiting for a core, so the CPU figures are what a quiet machine would show (the machine's load
average is printed first). Queries run their matrix products on one BLAS thread (the retriever's default,
``retrieval/blas_threads.py``); ``--all-blas-threads`` lets BLAS use every core instead.

``--reuse-index`` takes the item vectors of the catalogue already ingested in the data dir (skipping
step 1's embedding, e.g. on a busy machine); the temporary index is built from them.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bot.settings import get_settings
from retrieval.catalogue import load_catalogue
from retrieval.embeddings import Embedder, create_embedder
from retrieval.index import CatalogueIndex, store_config_for
from retrieval.retriever import RetrievalConfig, Retriever
from retrieval.schema import Item, Query, Range
from retrieval.store import ChromaStore
from retrieval.transfer import load_transfer

TEXTS = [
    "funny 80s sci-fi", "a scary haunted house", "romantic comedy in paris", "gritty crime thriller heist",
    "animated film for the whole family", "space adventure with aliens", "courtroom drama", "war epic",
    "mind-bending psychological thriller", "feel-good sports movie", "western with gunfights",
    "musical with great songs", "superhero action", "a slow, beautiful drama about grief",
    "detective mystery in london", "zombie apocalypse", "time travel", "coming of age story",
]
GENRES = ["comedy", "drama", "horror", "action", "thriller", "romance", "sci-fi", "crime", "animation"]


def make_queries(items: list[Item], n: int, seed: int = 7) -> list[Query]:
    """A fixed mix: 1/3 free text, 1/3 free text with filters, 1/3 liked items (+ some filters)."""
    rnd = random.Random(seed)
    genres = sorted({g for it in items for g in it.genres}) or GENRES
    out = []
    for i in range(n):
        kind = i % 3
        q = Query(text=rnd.choice(TEXTS), k=10)
        if kind == 1:
            start = rnd.choice(range(1950, 2010, 10))
            q.year = Range(start, start + 9)
            q.unwanted_genres = [rnd.choice(genres)]
        elif kind == 2:
            q.text = ""
            q.liked_ids = [rnd.choice(items).id for _ in range(2)]
            if rnd.random() < 0.5:
                q.unwanted_genres = [rnd.choice(genres)]
        q.exclude_ids = [rnd.choice(items).id for _ in range(10)]
        out.append(q)
    return out


def latency(retriever: Retriever, queries: list[Query], warmup: int = 5) -> dict[str, float]:
    for q in queries[:warmup]:
        retriever.retrieve(q)
    times, cpu = [], []
    for q in queries:
        t0, c0 = time.perf_counter(), time.process_time()
        retriever.retrieve(q)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    times.sort()
    cpu.sort()
    return {
        "p50_ms": statistics.median(times),
        "p95_ms": _p95(times),
        "max_ms": times[-1],
        # CPU time of this process per query: on a shared, busy machine wall time also counts waiting
        # for a core; CPU time is what the query itself costs (≈ quiet-machine latency)
        "cpu_p50_ms": statistics.median(cpu),
        "cpu_p95_ms": _p95(cpu),
        "n": len(times),
    }


def _p95(sorted_values: list[float]) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(0.95 * (len(sorted_values) - 1)))]


def synthetic(items: list[Item], vectors: np.ndarray, size: int, seed: int = 3) -> tuple[list[Item], np.ndarray]:
    rng = np.random.default_rng(seed)
    reps = -(-size // len(items))
    out_items: list[Item] = []
    for r in range(reps):
        for it in items:
            if len(out_items) == size:
                break
            out_items.append(dataclasses.replace(
                it, id=f"{it.id}~{r}", year=(it.year + r % 7) if it.year else None,
                title=it.title if r == 0 else f"{it.title} {r}"))
    idx = np.arange(size) % len(items)
    noisy = vectors[idx] + rng.normal(scale=0.02, size=(size, vectors.shape[1])).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return out_items, noisy.astype(np.float32)


def run(args: argparse.Namespace) -> dict:
    results: dict = {}
    cache_dir = Path(args.cache_dir) if args.cache_dir else get_settings().cache_dir
    embedder: Embedder = create_embedder(args.embedder, cache_dir=cache_dir)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {_load()}; "
          f"embedder: {embedder.name}")
    loaded = load_catalogue(args.catalogue)
    items = loaded.items[: args.limit] if args.limit else loaded.items
    with tempfile.TemporaryDirectory(prefix="recbot-bench-") as tmp:
        root = Path(tmp)
        store = ChromaStore(store_config_for(root))
        index = CatalogueIndex(loaded.name, root, store)
        known = _ingested_vectors(loaded.name, items, embedder) if args.reuse_index else None
        report = index.ingest(items, embedder, progress=True, vectors=known)
        results["ingest"] = {"items": report.total, "seconds": report.seconds, "items_per_s": report.items_per_s}
        print(f"ingest {loaded.name}: {report.total} items in {report.seconds:.1f} s = "
              f"{report.items_per_s:.0f} items/s (" + ("vectors reused from the data dir; " if known is not None
                                                       else "embedding + ") + "Chroma + BM25)")
        again = index.ingest(items, embedder, progress=False)
        print(f"re-ingest unchanged: embedded {again.embedded} in {again.seconds:.1f} s")

        snap = index.open()
        queries = make_queries(items, args.queries)
        ranker = load_transfer(embedder)
        one_thread = not args.all_blas_threads
        results.update(latency_by_mode(snap, len(items), embedder, ranker, queries, one_thread))

        if args.synthetic:
            big_items, big_vecs = synthetic(items, snap.table.vectors, args.synthetic)
            big = CatalogueIndex("synthetic", root, store)
            t0 = time.perf_counter()
            big.ingest(big_items, embedder, progress=True, vectors=big_vecs)
            print(f"indexed {len(big_items)} synthetic items (precomputed vectors) in {time.perf_counter() - t0:.0f} s")
            big_snap = big.open()
            results.update(latency_by_mode(big_snap, len(big_items), embedder, ranker,
                                           make_queries(big_items, args.queries), one_thread))
    return results


def latency_by_mode(snap, n_items: int, embedder: Embedder, ranker,
                    queries: list[Query], one_blas_thread: bool = True) -> dict[str, dict[str, float]]:
    """Query latency over ``snap`` (``n_items`` items) with each filter mode (``auto``, ``chroma``) and
    with ``auto`` plus the transfer ranker when one is packaged; printed, and returned keyed
    ``query_<n_items>_<mode>``."""
    out = {}
    for mode in ("auto", "chroma", *(("auto+transfer",) if ranker is not None else ())):
        r = Retriever(snap, embedder, RetrievalConfig(filter_mode=mode.split("+")[0], one_blas_thread=one_blas_thread),
                      reranker=ranker if mode.endswith("+transfer") else None)
        lat = latency(r, queries)
        out[f"query_{n_items}_{mode}"] = lat
        print(f"query latency at {n_items} items [{mode}]: p50 {lat['p50_ms']:.1f} ms, "
              f"p95 {lat['p95_ms']:.1f} ms (n={lat['n']}; CPU time p50 {lat['cpu_p50_ms']:.1f} ms, "
              f"p95 {lat['cpu_p95_ms']:.1f} ms)")
    return out


def _load() -> str:
    """The 1/5/15-minute load averages (figures from a busy machine are not quiet-machine figures)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _ingested_vectors(name: str, items: list[Item], embedder: Embedder) -> np.ndarray | None:
    """The vectors of ``items`` from the data dir's ingested index ``name`` (same embedder, same content)."""
    from bot import services

    try:
        table = services.catalogue_index(get_settings(), name).open().table
    except Exception as exc:  # noqa: BLE001 - any reason: fall back to embedding
        print(f"--reuse-index: {name!r} cannot be opened ({exc}); embedding instead")
        return None
    if table.vectors.shape[1:] != (embedder.dim,) or any(table.get(it.id) != it for it in items):
        print(f"--reuse-index: the ingested {name!r} differs from the catalogue; embedding instead")
        return None
    return table.vectors[[table.pos[it.id] for it in items]]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reuse-index", action="store_true",
                   help="take item vectors from the catalogue already ingested in the data dir (no embedding)")
    p.add_argument("--catalogue", default="movies", help="bundled catalogue to ingest (default movies)")
    p.add_argument("--limit", type=int, help="only the first N items")
    p.add_argument("--synthetic", type=int, default=200_000, help="synthetic scale (0 to skip; default 200000)")
    p.add_argument("--queries", type=int, default=150, help="queries per latency run (default 150)")
    p.add_argument("--embedder", default="onnx", choices=["onnx", "torch"])
    p.add_argument("--all-blas-threads", action="store_true",
                   help="let BLAS use every core per query (default: one thread per query, see "
                   "retrieval/blas_threads.py; more threads can help a quiet machine at 200k items)")
    p.add_argument("--cache-dir", help="where the ONNX export is cached (default: the settings' cache dir)")
