"""The transfer ranker: a learned ranker that works on any catalogue, shipped with the package.

Two stages, neither tied to item ids:

1. :class:`retrieval.transfer_model.TwoTower` scores the whole catalogue (a fine-tuned query tower over
   the item vectors, learned film vectors keyed by title + year where the catalogue holds known films,
   and a quality prior from the catalogue's own fields); its best items join the retriever's head.
2. a gradient-boosted scorer (:data:`FEATURES`) orders that pool from the two-tower scores, the retriever's
   signals, content matches (genre, people, year, similarity to liked / mentioned / disliked items) and
   the catalogue's quality fields.

Trained on ReDial conversations mapped onto the bundled films (``recbot train-reranker --transfer``, see
``eval/train_transfer.py``); the artifact (a few MB) is committed under ``retrieval/models/transfer/``
and loaded for every catalogue that has no catalogue-specific reranker (``retrieval.rerank="auto"``).
Hard constraints and exclusions hold for every item it adds, exactly as for retrieved ones.
"""

from __future__ import annotations

import json
import logging
import pickle
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.filters import mask
from retrieval.itemstore import ItemTable
from retrieval.overlap_matrices import fill_overlap_features
from retrieval.rerank import predict_positive
from retrieval.rerank_features import feature_frame
from retrieval.schema import Candidate, Query
from retrieval.transfer_model import QueryParts, TwoTower, dense_text, positions
from retrieval.vector_pass import few_rows

log = logging.getLogger(__name__)

FEATURE_VERSION = 1
FEATURES: tuple[str, ...] = (
    # the retriever's fused list (NaN for items only the two-tower found)
    "rrf", "dense", "lexical", "in_neighbour", "fused_rank",
    # the two-tower
    "tt_total", "tt_content", "tt_film", "tt_prior", "tt_rank", "has_film",
    # content
    "text_sim", "liked_max", "liked_mean", "context_max", "dislike_max",
    "genre_match", "people_match", "profile_match", "liked_genre_overlap", "seed_people_overlap",
    "seed_title_overlap", "year", "year_gap_liked",
    # the catalogue's own quality fields (NaN when it has none)
    "popularity", "rt_meter", "rt_reviews_log", "metacritic", "oscars",
    # the query
    "n_liked", "n_context", "text_words", "n_genres",
)
PACKAGED_DIR = Path(__file__).parent / "models" / "transfer"
NAME = "transfer"


@dataclass
class TransferConfig:
    extra: int = 150  # the two-tower's best allowed items added to the retriever's head
    profile_genres: int = 2


def genre_profile(query: Query, table: ItemTable, liked: Sequence[int], n: int = 2) -> frozenset[str]:
    """Wanted genres, else the liked items' ``n`` commonest (lower case)."""
    if query.genres:
        return frozenset(g.casefold() for g in query.genres)
    counts: Counter[str] = Counter()
    for p in liked:
        counts.update(table.genre_sets[p])
    return frozenset(g for g, _ in counts.most_common(n))


def allowed_mask(query: Query, table: ItemTable) -> np.ndarray:
    """Items that satisfy the hard constraints and are not excluded, disliked or liked."""
    allowed = mask(table, query)
    blocked = positions(table, (*query.exclude_ids, *query.disliked_ids, *query.liked_ids))
    if blocked:
        allowed[blocked] = False
    return allowed


def build_pool(query: Query, head: Sequence[Candidate], table: ItemTable, total: np.ndarray,
               allowed: np.ndarray, extra: int) -> list[Candidate]:
    """The retriever's head plus the ``extra`` best allowed items by two-tower score."""
    present = [table.pos[c.item.id] for c in head if c.item.id in table.pos]
    out = list(head)
    keep = allowed.copy()
    if present:
        keep[present] = False
    idx = np.flatnonzero(keep)  # the top is taken among these only (numpy's selection slows down on the
    scores = total[idx]  # ties of a whole-table array where most items are -inf)
    finite = np.isfinite(scores)
    if not finite.all():
        idx, scores = idx[finite], scores[finite]
    k = min(extra, idx.size)
    if k > 0:
        top = np.sort(np.argpartition(-scores, k - 1)[:k]) if idx.size > k else np.arange(idx.size)
        top = idx[top[np.argsort(-scores[top], kind="stable")]]  # best first, equal scores by position
        out += [Candidate(item=table.items[int(p)], score=0.0, signals={}, reasons=["people who liked the same "
                          "things were recommended it" if query.liked_ids or query.exclude_ids
                          else "a well-reviewed match"]) for p in top]
    return out


RANK_DEPTH = 1000  # two-tower ranks are exact down to here; deeper items share RANK_DEPTH + 1


def _ranks(total: np.ndarray, allowed: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """1-based rank of each ``cand`` position among the allowed items by ``total`` (capped, O(n))."""
    idx = np.flatnonzero(allowed)
    out = np.full(len(cand), RANK_DEPTH + 1, dtype=np.float64)
    if idx.size == 0:
        return out
    depth = min(RANK_DEPTH, idx.size)
    top = idx[np.argpartition(-total[idx], depth - 1)[:depth]] if idx.size > depth else idx
    top = top[np.argsort(-total[top], kind="stable")]
    where = {int(p): r for r, p in enumerate(top, start=1)}
    for j, p in enumerate(cand):
        r = where.get(int(p))
        if r is not None:
            out[j] = r
    return out


def featurize(query: Query, pool: Sequence[Candidate], table: ItemTable, parts: QueryParts,
              tt: dict[str, np.ndarray], allowed: np.ndarray, profile_genres: int = 2) -> np.ndarray:
    """The ``len(pool) x len(FEATURES)`` matrix (float64, NaN = missing)."""
    X, col, cand, vecs = feature_frame(pool, table, FEATURES)
    if len(pool) == 0:
        return X

    for name in ("total", "content", "film", "prior"):
        X[:, col[f"tt_{name}"]] = tt[name][cand]
    X[:, col["tt_rank"]] = np.log1p(_ranks(tt["total"], allowed, cand))
    if "has_film" in tt:
        X[:, col["has_film"]] = tt["has_film"][cand]

    if parts.text_vec.any():
        X[:, col["text_sim"]] = vecs @ parts.text_vec
    if parts.liked:
        sims = vecs @ table.vectors[parts.liked].T
        X[:, col["liked_max"]] = sims.max(axis=1)
        X[:, col["liked_mean"]] = sims.mean(axis=1)
    if parts.seeds:
        X[:, col["context_max"]] = (vecs @ table.vectors[parts.seeds].T).max(axis=1)
    disliked = positions(table, query.disliked_ids)
    if disliked:
        X[:, col["dislike_max"]] = (vecs @ table.vectors[disliked].T).max(axis=1)

    profile = genre_profile(query, table, parts.liked, profile_genres)
    wanted_g = {g.casefold() for g in query.genres}
    wanted_p = {p.casefold() for p in query.people}
    liked_genres: set[str] = set().union(*(table.genre_sets[p] for p in parts.liked)) if parts.liked else set()
    liked_years = [table.years[p] for p in parts.liked if not np.isnan(table.years[p])]
    # overlaps with the conversation's items, the wanted genres / people and the liked genres: sparse
    # products over per-catalogue matrices (a Python loop over a few hundred candidates cost ~20 ms a turn)
    fill_overlap_features(X, col, cand, table, parts.seeds, wanted_g, profile, wanted_p, liked_genres)
    years = table.years[cand]
    X[:, col["year"]] = years
    if liked_years:
        X[:, col["year_gap_liked"]] = np.abs(years - float(np.median(liked_years)))

    X[:, col["popularity"]] = table.popularity[cand]
    X[:, col["rt_meter"]] = table.fact_column("rt_meter")[cand]
    X[:, col["rt_reviews_log"]] = np.log1p(table.fact_column("rt_reviews")[cand])
    X[:, col["metacritic"]] = table.fact_column("metacritic")[cand]
    X[:, col["oscars"]] = table.fact_column("oscars")[cand]

    X[:, col["n_liked"]] = len(parts.liked)
    X[:, col["n_context"]] = len(parts.seeds)
    X[:, col["text_words"]] = len(query.text.split())
    X[:, col["n_genres"]] = len(query.genres)
    return X


@dataclass
class TransferArtifact:
    """Both stages and what they were trained on (``meta`` is also written as ``meta.json``)."""

    two_tower: TwoTower
    scorer: Any  # a fitted sklearn HistGradientBoostingClassifier
    config: TransferConfig = field(default_factory=TransferConfig)
    meta: dict[str, Any] = field(default_factory=dict)
    feature_version: int = FEATURE_VERSION
    features: tuple[str, ...] = FEATURES

    def save(self, directory: Path) -> Path:
        """``two_tower.npz``, ``scorer.pkl`` (the trees and the config) and ``meta.json`` in ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.two_tower.save(directory / "two_tower.npz")
        with open(directory / "scorer.pkl.tmp", "wb") as fh:
            pickle.dump({"scorer": self.scorer, "config": vars(self.config), "feature_version": self.feature_version,
                         "features": list(self.features)}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        (directory / "scorer.pkl.tmp").replace(directory / "scorer.pkl")
        (directory / "meta.json").write_text(json.dumps(
            {**self.meta, "feature_version": self.feature_version, "features": list(self.features)},
            indent=2, default=str) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: Path) -> TransferArtifact:
        directory = Path(directory)
        with open(directory / "scorer.pkl", "rb") as fh:
            blob = pickle.load(fh)
        if blob.get("feature_version") != FEATURE_VERSION or tuple(blob.get("features", ())) != FEATURES:
            raise ValueError(f"{directory} holds transfer features v{blob.get('feature_version')}; this code "
                             f"uses v{FEATURE_VERSION}: run `recbot train-reranker --transfer` again")
        meta_path = directory / "meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        return cls(TwoTower.load(directory / "two_tower.npz"), blob["scorer"], TransferConfig(**blob["config"]), meta)


class TransferReranker:
    """The :class:`~retrieval.retriever.Reranker` of a :class:`TransferArtifact` (any catalogue)."""

    name = NAME

    def __init__(self, artifact: TransferArtifact, embedder: Embedder | None) -> None:
        self.artifact = artifact
        self.embedder = embedder
        self._last_text: tuple[str, np.ndarray] | None = None

    def remember_text_vector(self, text: str, vector: np.ndarray) -> None:
        """The retriever's embedding of the same query text (saves embedding it twice per turn)."""
        self._last_text = (text, vector)

    def text_vector(self, query: Query) -> np.ndarray | None:
        text = dense_text(query)
        if not text or self.embedder is None:
            return None
        last = self._last_text  # one read: another thread may replace it meanwhile
        if last is not None and last[0] == text:
            return last[1]
        vector = self.embedder.embed_query(text)
        self._last_text = (text, vector)
        return vector

    def content_query_vector(self, query: Query, table: ItemTable) -> np.ndarray:
        """The two-tower's query vector: the retriever scores the items by it in its own pass over the item
        vectors and hands the scores to :meth:`rerank` (``content``), so that pass is not made twice."""
        return self.artifact.two_tower.query_vector(QueryParts.build(query, table, self.text_vector(query)))

    def prepare(self, query: Query, table: ItemTable, only_allowed: bool = False,
                content: tuple[np.ndarray, np.ndarray] | None = None,
                ) -> tuple[QueryParts, dict[str, np.ndarray], np.ndarray]:
        """(query parts, two-tower scores over the table, allowed mask) for one query. ``only_allowed``:
        when under a quarter of the items are allowed, score only those (the others are NaN; ranking
        reads allowed items only, and a large table's vector pass costs most of a turn). ``content``:
        (allowed positions, their content scores) already computed by the retriever's pass
        (:meth:`content_query_vector`); only those rows are then read."""
        parts = QueryParts.build(query, table, self.text_vector(query))
        allowed = allowed_mask(query, table)
        rows = given = None
        if content is not None and np.array_equal(content[0], np.flatnonzero(allowed)):
            rows, given = content
        elif only_allowed:
            idx = np.flatnonzero(allowed)
            rows = idx if few_rows(idx, len(table)) else None
        tt = self.artifact.two_tower.scores(parts, table, rows, given)
        tt["has_film"] = self.artifact.two_tower.table_cache(table).has_film_score
        return parts, tt, allowed

    def rerank(self, query: Query, candidates: list[Candidate], table: ItemTable,
               content: tuple[np.ndarray, np.ndarray] | None = None) -> list[Candidate]:
        parts, tt, allowed = self.prepare(query, table, only_allowed=True, content=content)
        pool = build_pool(query, candidates, table, tt["total"], allowed, self.artifact.config.extra)
        if not pool:
            return pool
        X = featurize(query, pool, table, parts, tt, allowed, self.artifact.config.profile_genres)
        scores = predict_positive(self.artifact.scorer, X)
        out = [Candidate(item=c.item, score=float(s), signals={**c.signals, "rerank": float(s)},
                         reasons=list(c.reasons)) for c, s in zip(pool, scores, strict=True)]
        out.sort(key=lambda c: -c.score)
        return out


def load_transfer(embedder: Embedder | None, directory: Path | None = None) -> TransferReranker | None:
    """The packaged transfer ranker (or one in ``directory``); ``None`` (logged) when absent or stale."""
    directory = Path(directory) if directory is not None else PACKAGED_DIR
    if not (directory / "scorer.pkl").is_file():
        log.info("no transfer ranker in %s", directory)
        return None
    t0 = time.perf_counter()
    try:
        art = TransferArtifact.load(directory)
    except (ValueError, KeyError, OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
        log.warning("ignoring the transfer ranker in %s: %s", directory, exc)
        return None
    log.info("loaded the transfer ranker from %s in %.2f s", directory, time.perf_counter() - t0)
    return TransferReranker(art, embedder)


__all__ = ["FEATURES", "FEATURE_VERSION", "NAME", "PACKAGED_DIR", "TransferArtifact", "TransferConfig",
           "TransferReranker", "allowed_mask", "build_pool", "featurize", "genre_profile", "load_transfer"]
