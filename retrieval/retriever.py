"""Candidate retrieval: the one entry point the dialogue layer uses (``Retriever.retrieve(Query)``).

A call runs, over the items that pass the query's hard constraints and are not excluded:

1. **dense** — the query text (plus wanted genres and people, never dislikes) embedded and searched in
   Chroma; with hard constraints, an exact search over the in-memory vectors of the allowed items
   (Chroma's ``where`` scans metadata and is slow on large collections; ``filter_mode="chroma"`` forces
   it). If the Chroma server is unreachable, the in-memory path answers and the failure is logged.
2. **lexical** — BM25 over item texts.
3. **neighbours** — item-to-item: the nearest items to each liked item.
4. **fusion** — weighted reciprocal rank fusion of those lists, plus boosts for wanted genres and
   people, a small popularity prior, and a penalty for closeness to disliked items.
5. **rerank** — an optional :class:`Reranker` reorders the head of the list.
6. **diversity** — maximal marginal relevance picks the final ``k``.

Every candidate carries its per-signal scores and short reasons ("similar to Alien (1979)",
"genre: horror", "mentions 'haunted'").
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from retrieval.blas_threads import one_blas_thread
from retrieval.embeddings import Embedder
from retrieval.filters import has_constraints, mask, to_where
from retrieval.index import IndexSnapshot
from retrieval.itemstore import ItemTable
from retrieval.schema import Candidate, Item, Query
from retrieval.vector_pass import few_rows, vector_pass

log = logging.getLogger(__name__)


@dataclass
class RetrievalConfig:
    candidates: int = 100  # depth of each list before fusion
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 0.7
    neighbour_weight: float = 1.0
    genre_boost: float = 0.25
    people_boost: float = 0.25
    liked_overlap_boost: float = 0.3  # sharing genres / people with liked items (titles alone mislead)
    popularity_weight: float = 0.2  # people asking a chat bot mostly want films they can find
    dislike_penalty: float = 0.6
    mmr_lambda: float = 0.8  # 1.0 = relevance only
    mmr_pool: int = 50
    max_liked: int = 5  # most recent liked items used for neighbours
    filter_mode: Literal["auto", "chroma", "memory"] = "auto"
    one_blas_thread: bool = True  # matrix products on one BLAS thread (see retrieval.blas_threads)


class Reranker(Protocol):
    """Reorders fused candidates; returns them with new ``score`` values (higher is better)."""

    name: str

    def rerank(self, query: Query, candidates: list[Candidate], table: ItemTable) -> list[Candidate]: ...


@dataclass
class _List:
    name: str
    weight: float
    ranked: list[tuple[int, float]]  # (position, raw score), best first
    source: int | None = None  # for neighbour lists: the liked item's position


class Retriever:
    """Ranked candidates for a :class:`Query` from one index snapshot."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        embedder: Embedder,
        config: RetrievalConfig | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        if snapshot.manifest.embedder != embedder.name:
            raise ValueError(
                f"index {snapshot.manifest.catalogue!r} was embedded with {snapshot.manifest.embedder}, "
                f"not {embedder.name}; re-run `recbot ingest` with this embedder"
            )
        self.snapshot = snapshot
        self.table = snapshot.table
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self.reranker = reranker
        self.dense_calls = {"chroma": 0, "memory": 0, "fallback": 0}
        self._lock = threading.Lock()

    # -- public ---------------------------------------------------------------------------------

    @property
    def ranker_name(self) -> str:
        """Which learned ranker orders the results: its ``name`` ("learned", "transfer"), or "none"."""
        return getattr(self.reranker, "name", None) or "none"

    @property
    def items(self) -> list[Item]:
        return self.table.items

    def get(self, item_id: str) -> Item | None:
        return self.table.get(item_id)

    def retrieve(self, query: Query) -> list[Candidate]:
        with one_blas_thread(self.config.one_blas_thread):
            return self._retrieve(query)

    def _retrieve(self, query: Query) -> list[Candidate]:
        cfg = self.config
        table = self.table
        if len(table) == 0 or query.k <= 0:
            return []
        excluded = {table.pos[i] for i in (*query.exclude_ids, *query.disliked_ids, *query.liked_ids) if i in table.pos}
        allowed = mask(table, query)
        if excluded:
            allowed[list(excluded)] = False
        constrained = has_constraints(query)
        n = cfg.candidates

        lists: list[_List] = []
        dense_text = " ".join(x for x in (query.text.strip(), *query.genres, *query.people) if x)
        liked = [table.pos[i] for i in query.liked_ids if i in table.pos][-cfg.max_liked :]
        qvec = self.embedder.embed_query(dense_text) if dense_text else None
        if qvec is not None:
            remember = getattr(self.reranker, "remember_text_vector", None)
            if remember is not None:  # a reranker that embeds the same text reuses this vector
                remember(dense_text, qvec)
        # the in-memory path scores the text, every liked item and the reranker's own query vector (the
        # transfer ranker's two-tower) in one pass over the item vectors
        sims = shared = None
        if not self._chroma_first(constrained):
            rerank_vector = getattr(self.reranker, "content_query_vector", None)
            extra = rerank_vector(query, table) if rerank_vector is not None else None
            sims, shared = self._memory_sims(
                [v for v in (qvec, *(table.vectors[p] for p in liked)) if v is not None], allowed, extra)
        if qvec is not None:
            lists.append(_List("dense", cfg.dense_weight,
                               self._dense(qvec, n, query, allowed, excluded, constrained, sims, 0)))
        if query.text.strip() or query.people:
            lex_text = " ".join((query.text, *query.people))
            restricted = constrained or bool(excluded)
            hits = self.snapshot.lexical.search(lex_text, n, allowed if restricted else None)
            lists.append(_List("lexical", cfg.lexical_weight, hits))
        for j, p in enumerate(liked, start=int(qvec is not None)):
            ranked = self._dense(table.vectors[p], n, query, allowed, excluded, constrained, sims, j)
            lists.append(_List("neighbour", cfg.neighbour_weight / max(1, len(liked)) ** 0.5, ranked, source=p))
        if not lists or all(not lst.ranked for lst in lists):
            # nothing to match against: the best-known allowed items
            lists = [_List("popular", 1.0, self._popular(allowed, n))]

        candidates = self._fuse(lists, query, allowed)
        if self.reranker is not None and candidates:
            head = candidates[: cfg.mmr_pool * 2]
            reranked = (self.reranker.rerank(query, head, table) if shared is None  # the ranker's own pass
                        else self.reranker.rerank(query, head, table, content=shared))  # type: ignore[call-arg]
            candidates = reranked + candidates[len(head) :]
        return self._mmr(candidates, query.k)

    # -- lists ----------------------------------------------------------------------------------

    def _chroma_first(self, constrained: bool) -> bool:
        mode = self.config.filter_mode
        return mode == "chroma" or (mode == "auto" and not constrained)

    def _memory_sims(self, vecs: list[np.ndarray], allowed: np.ndarray, extra: np.ndarray | None = None,
                     ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
        """((allowed positions, ``len(idx) x len(vecs)`` similarities), (allowed positions, their scores by
        ``extra``) or None) in one pass over the item vectors (:func:`retrieval.vector_pass.vector_pass`):
        only the allowed rows when they are few, else every row's score (at 200k items, 85% allowed,
        gathering most of the matrix costs more than scoring it all)."""
        idx = np.flatnonzero(allowed)
        vectors = self.table.vectors
        products: list[np.ndarray] = []
        if vecs:  # one vector: a matrix-vector product; several: one matrix product per block
            products.append(vecs[0] if len(vecs) == 1 else np.stack(vecs, axis=1).astype(vectors.dtype, copy=False))
        if extra is not None:
            products.append(np.asarray(extra, dtype=vectors.dtype))
        if idx.size == 0 or not products:
            empty = np.zeros((idx.size, len(vecs)), dtype=np.float32)
            return (idx, empty), (None if extra is None else (idx, np.zeros(idx.size, dtype=np.float32)))
        if few_rows(idx, len(vectors)):
            outs = vector_pass(vectors, products, idx)
        else:
            outs = [out[idx] for out in vector_pass(vectors, products)]
        sims = np.zeros((idx.size, 0), dtype=np.float32)
        if vecs:
            sims = outs[0] if outs[0].ndim == 2 else outs[0][:, None]
        return (idx, sims), (None if extra is None else (idx, outs[-1]))

    def _dense(
        self, qvec: np.ndarray, n: int, query: Query, allowed: np.ndarray, excluded: set[int], constrained: bool,
        sims: tuple[np.ndarray, np.ndarray] | None = None, column: int = 0,
    ) -> list[tuple[int, float]]:
        """Top ``n`` allowed items by similarity to ``qvec``: Chroma first when there are no hard
        constraints (``filter_mode="auto"``), else exact in memory (``sims``: precomputed by
        :meth:`_memory_sims`, ``qvec`` being its ``column``)."""
        if self._chroma_first(constrained):
            try:
                hits = self.snapshot.collection.query(qvec, n + len(excluded), where=to_where(query))
                with self._lock:
                    self.dense_calls["chroma"] += 1
                pos = self.table.pos
                return [(pos[i], s) for i, s in hits if i in pos and allowed[pos[i]]][:n]
            except Exception as exc:  # a Chroma server that went away: answer from memory, degraded
                log.warning("vector store query failed (%s); using the in-memory index", exc)
                with self._lock:
                    self.dense_calls["fallback"] += 1
        with self._lock:
            self.dense_calls["memory"] += 1
        idx, scores = self._memory_sims([qvec], allowed)[0] if sims is None else sims
        if idx.size == 0:
            return []
        col = np.ascontiguousarray(scores[:, 0 if sims is None else column])
        top = np.argpartition(-col, min(n, idx.size) - 1)[:n] if idx.size > n else np.arange(idx.size)
        top = top[np.argsort(-col[top])]
        return [(int(idx[t]), float(col[t])) for t in top]

    def _popular(self, allowed: np.ndarray, n: int) -> list[tuple[int, float]]:
        idx = np.flatnonzero(allowed)
        order = idx[np.argsort(-self.table.popularity[idx], kind="stable")][:n]
        return [(int(p), float(self.table.popularity[p])) for p in order]

    # -- fusion ---------------------------------------------------------------------------------

    def _fuse(self, lists: list[_List], query: Query, allowed: np.ndarray) -> list[Candidate]:
        cfg = self.config
        table = self.table
        rrf: dict[int, float] = {}
        signals: dict[int, dict[str, float]] = {}
        neighbour_of: dict[int, list[tuple[float, int]]] = {}
        for lst in lists:
            for rank, (p, raw) in enumerate(lst.ranked, start=1):
                rrf[p] = rrf.get(p, 0.0) + lst.weight / (cfg.rrf_k + rank)
                sig = signals.setdefault(p, {})
                sig[lst.name] = max(sig.get(lst.name, float("-inf")), raw)
                if lst.source is not None:
                    neighbour_of.setdefault(p, []).append((raw, lst.source))
        if not rrf:
            return []
        best_possible = sum(lst.weight for lst in lists) / (cfg.rrf_k + 1)

        wanted_genres = {g.casefold() for g in query.genres}
        wanted_people = {x.casefold() for x in query.people}
        liked_sets = [(table.genre_sets[p], table.people_sets[p])
                      for p in (table.pos[i] for i in query.liked_ids[-cfg.max_liked:] if i in table.pos)]
        disliked = [table.pos[i] for i in query.disliked_ids if i in table.pos]
        dislike_vecs = table.vectors[disliked] if disliked else None
        lexical_hits = [p for p in rrf if "lexical" in signals[p]] if query.text.strip() else []
        mentions = dict(zip(lexical_hits, self.snapshot.lexical.matched_terms_at(query.text, lexical_hits),
                            strict=True))

        out: list[Candidate] = []
        for p, fused in rrf.items():
            item = table.items[p]
            sig = signals[p]
            sig["rrf"] = fused / best_possible
            score = sig["rrf"]
            reasons: list[str] = []
            if p in neighbour_of:
                sim, src = max(neighbour_of[p])
                reasons.append(f"similar to {table.items[src].label}")
            for signal, values, wanted, boost, lead in (
                    ("genre_match", item.genres, wanted_genres, cfg.genre_boost, "genre: "),
                    ("people_match", item.people, wanted_people, cfg.people_boost, "with ")):
                if wanted:
                    hit = sorted(x for x in values if x.casefold() in wanted)
                    sig[signal] = len(hit) / len(wanted)
                    score += boost * sig[signal]
                    if hit:
                        reasons.append(lead + ", ".join(hit))
            if query.year is not None and item.year is not None:
                reasons.append(f"from {item.year}")
            terms = mentions.get(p)
            if terms:
                reasons.append("mentions " + ", ".join(f"'{t}'" for t in terms[:4]))
            if "dense" in sig and not any(r.startswith(("similar", "mentions")) for r in reasons):
                reasons.append("close to what you described")
            if liked_sets:
                g, ppl = table.genre_sets[p], table.people_sets[p]
                sig["liked_overlap"] = max(
                    0.7 * _jaccard(g, lg) + 0.3 * min(1.0, len(ppl & lp) / 2) for lg, lp in liked_sets
                )
                score += cfg.liked_overlap_boost * sig["liked_overlap"]
            sig["popularity"] = float(table.popularity[p])
            score += cfg.popularity_weight * sig["popularity"]
            if dislike_vecs is not None:
                sim = float(np.max(dislike_vecs @ table.vectors[p]))
                sig["dislike_sim"] = sim
                if sim > 0.5:
                    score -= cfg.dislike_penalty * (sim - 0.5) * 2
            out.append(Candidate(item=item, score=score, signals=sig, reasons=reasons))
        out.sort(key=lambda c: -c.score)
        return out

    # -- diversity ------------------------------------------------------------------------------

    def _mmr(self, candidates: list[Candidate], k: int) -> list[Candidate]:
        lam = self.config.mmr_lambda
        pool = candidates[: max(k, self.config.mmr_pool)]
        if lam >= 1.0 or len(pool) <= 1:
            return pool[:k]
        table = self.table
        vecs = table.vectors[[table.pos[c.item.id] for c in pool]]
        scores = np.array([c.score for c in pool])
        lo, hi = scores.min(), scores.max()
        rel = (scores - lo) / (hi - lo) if hi > lo else np.ones_like(scores)
        chosen: list[int] = []
        max_sim = np.full(len(pool), -np.inf)
        remaining = np.ones(len(pool), dtype=bool)
        for _ in range(min(k, len(pool))):
            redundancy = np.where(np.isinf(max_sim), 0.0, max_sim)
            value = lam * rel - (1 - lam) * redundancy
            value[~remaining] = -np.inf
            j = int(np.argmax(value))
            chosen.append(j)
            remaining[j] = False
            max_sim = np.maximum(max_sim, vecs @ vecs[j])
        return [pool[j] for j in chosen]


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0
