"""The transfer ranker's first stage: a two-tower scorer over any catalogue's item vectors (numpy only).

Nothing in it is tied to item ids, so it ranks any catalogue embedded with the packaged MiniLM:

- **content**: the conversation is three vectors in the embedding space — the wished-for text (``Query.text``
  plus wanted genres and people), the mean of the items mentioned so far, the mean of the liked items —
  each mapped by a learned 384x384 matrix and summed into one query vector ``q``; the content score of an
  item is ``q . e_item`` (its catalogue vector). Fine-tuned on recorded conversations, this is the
  query side of a bi-encoder trained for "what gets recommended next" rather than "what has similar text".
- **film vectors** (optional): small learned vectors for known films, keyed by normalised title + year
  (:func:`retrieval.titlekey.film_key`): an item's score gains ``mean(v_seed) . v_item`` (films people
  recommend together end up close) plus a learned bias. Items of a catalogue with no such films (a shop,
  recipes) simply get zeros.
- **quality prior**: a learned weighting of the catalogue's own quality signals when it has them (Rotten
  Tomatoes meter and review count, Metacritic, Oscars) and its popularity field, so that well-reviewed,
  well-known items win ties.

Weights live in one ``.npz`` file (``eval/train_transfer.py`` writes it); the second stage, a gradient-boosted
scorer over these scores and content features, is :mod:`retrieval.transfer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.itemstore import ItemTable
from retrieval.schema import Query
from retrieval.titlekey import film_key
from retrieval.vector_pass import vector_pass

# Numeric facts read as quality signals (missing ones are 0 with a "missing" flag), and their scaling.
QUALITY_FACTS: tuple[tuple[str, float, bool], ...] = (
    # (fact, divisor, log1p first)
    ("rt_meter", 100.0, False),
    ("rt_reviews", 6.0, True),
    ("metacritic", 100.0, False),
    ("oscars", 2.0, True),
)
N_QUALITY = 1 + 2 * len(QUALITY_FACTS)  # popularity, then (value, missing) per fact
MAX_SEEDS = 20


def quality_matrix(table: ItemTable) -> np.ndarray:
    """``(n, N_QUALITY)`` float32: popularity rank, then each quality fact scaled and its missing flag."""
    cols = [table.popularity.astype(np.float64)]
    for name, div, log in QUALITY_FACTS:
        raw = table.fact_column(name)
        missing = np.isnan(raw)
        val = np.where(missing, 0.0, raw)
        val = np.log1p(np.maximum(val, 0.0)) / div if log else val / div
        cols += [val, missing.astype(np.float64)]
    return np.stack(cols, axis=1).astype(np.float32)


def dense_text(query: Query) -> str:
    """What the content tower embeds: free text plus wanted genres and people (never dislikes)."""
    return " ".join(x for x in (query.text.strip(), *query.genres, *query.people) if x)


def positions(table: ItemTable, ids: Sequence[str]) -> list[int]:
    pos = table.pos
    return list(dict.fromkeys(pos[i] for i in ids if i in pos))


def seed_positions(query: Query, table: ItemTable, max_seeds: int = MAX_SEEDS) -> list[int]:
    """Items the conversation mentioned (shown, seen, disliked, liked), most recent last."""
    return positions(table, (*query.exclude_ids, *query.disliked_ids, *query.liked_ids))[-max_seeds:]


@dataclass
class QueryParts:
    """The conversation as the towers see it."""

    text_vec: np.ndarray  # (dim,), zeros without text
    seed_vec: np.ndarray  # mean of mentioned items' vectors, zeros without any
    liked_vec: np.ndarray  # mean of liked items' vectors
    seeds: list[int] = field(default_factory=list)
    liked: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, query: Query, table: ItemTable, text_vec: np.ndarray | None) -> QueryParts:
        dim = table.vectors.shape[1]
        seeds = seed_positions(query, table)
        liked = positions(table, query.liked_ids)
        zero = np.zeros(dim, dtype=np.float32)
        return cls(
            text_vec=zero if text_vec is None else np.asarray(text_vec, dtype=np.float32),
            seed_vec=table.vectors[seeds].mean(axis=0) if seeds else zero,
            liked_vec=table.vectors[liked].mean(axis=0) if liked else zero,
            seeds=seeds, liked=liked,
        )


@dataclass
class TableCache:
    """A model's film vectors, biases and quality features laid out over one item table."""

    film_vecs: np.ndarray  # (n, d), zero rows for items without a learned film vector
    film_bias: np.ndarray  # (n,)
    has_film: np.ndarray  # (n,) bool
    quality: np.ndarray  # (n, N_QUALITY)
    prior: np.ndarray  # (n,) film bias + quality weights . quality
    film_rows: np.ndarray = field(init=False, repr=False)  # positions with a film vector
    has_film_score: np.ndarray = field(init=False, repr=False)  # has_film as the ranker's float64 feature

    def __post_init__(self) -> None:
        self.film_rows = np.flatnonzero(self.has_film)
        self.has_film_score = self.has_film.astype(np.float64)
        self._film_compact = self.film_vecs[self.film_rows]  # the film scores' pass reads only these rows

    def film_scores(self, seed_film: np.ndarray) -> np.ndarray:
        """``film_vecs @ seed_film`` over every row (rows without a film vector are exactly 0)."""
        out = np.zeros(len(self.has_film), dtype=np.result_type(self.film_vecs, seed_film))
        if self.film_rows.size:
            out[self.film_rows] = self._film_compact @ seed_film
        return out


@dataclass
class TwoTower:
    """Weights of the first stage (see the module docstring)."""

    w_text: np.ndarray  # (dim, dim)
    w_seed: np.ndarray
    w_liked: np.ndarray
    film_keys: list[str]
    film_vecs: np.ndarray  # (films, d)
    film_bias: np.ndarray  # (films,)
    quality_w: np.ndarray  # (N_QUALITY,)
    film_weight: float = 1.0
    _caches: dict[int, tuple[ItemTable, TableCache]] = field(default_factory=dict, repr=False)

    def table_cache(self, table: ItemTable) -> TableCache:
        hit = self._caches.get(id(table))
        if hit is not None and hit[0] is table:
            return hit[1]
        index = {k: j for j, k in enumerate(self.film_keys)}
        n, d = len(table), self.film_vecs.shape[1] if self.film_vecs.ndim == 2 else 0
        vecs = np.zeros((n, d), dtype=np.float32)
        bias = np.zeros(n, dtype=np.float32)
        has = np.zeros(n, dtype=bool)
        for p, it in enumerate(table.items):
            j = index.get(film_key(it.title, it.year) or "")
            if j is not None:
                vecs[p], bias[p], has[p] = self.film_vecs[j], self.film_bias[j], True
        quality = quality_matrix(table)
        cache = TableCache(vecs, bias, has, quality, bias + quality @ self.quality_w)
        if len(self._caches) >= 4:  # a few catalogues per process; an old generation is dropped
            self._caches.pop(next(iter(self._caches)))
        self._caches[id(table)] = (table, cache)
        return cache

    def query_vector(self, parts: QueryParts) -> np.ndarray:
        return self.w_text @ parts.text_vec + self.w_seed @ parts.seed_vec + self.w_liked @ parts.liked_vec

    def scores(self, parts: QueryParts, table: ItemTable, rows: np.ndarray | None = None,
               content: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Per-item ``content``, ``film`` and ``prior`` scores and their sum ``total`` over the whole table.

        ``rows``: only these positions are scored (the others are NaN): a query under hard constraints
        needs only its allowed items, and a pass over a large table's vectors is the costliest step.
        ``content``: those rows' content scores (``table.vectors[rows] @ query_vector``) when the caller's
        own pass over the vectors already computed them (:mod:`retrieval.vector_pass`)."""
        cache = self.table_cache(table)
        seeds = [s for s in parts.seeds if cache.has_film[s]]
        with_film = bool(seeds) and bool(cache.film_vecs.shape[1])
        seed_film = cache.film_vecs[seeds].mean(axis=0) if with_film else None
        if rows is None:
            content_all = vector_pass(table.vectors, [self.query_vector(parts)])[0]
        else:
            content_all = np.full(len(table), np.nan, dtype=np.float32)
            content_all[rows] = (vector_pass(table.vectors, [self.query_vector(parts)], rows)[0]
                                 if content is None else content)
        film = np.zeros(len(table), dtype=np.float32)
        if seed_film is not None:
            film = self.film_weight * cache.film_scores(seed_film)  # only the rows with a film vector
        total = content_all + film + cache.prior
        return {"content": content_all, "film": film, "prior": cache.prior, "total": total}

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path, w_text=self.w_text.astype(np.float32), w_seed=self.w_seed.astype(np.float32),
            w_liked=self.w_liked.astype(np.float32), film_keys=np.array(self.film_keys, dtype=str),
            film_vecs=self.film_vecs.astype(np.float16), film_bias=self.film_bias.astype(np.float32),
            quality_w=self.quality_w.astype(np.float32), film_weight=np.float32(self.film_weight),
        )
        return path

    @classmethod
    def load(cls, path: Path) -> TwoTower:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                w_text=z["w_text"], w_seed=z["w_seed"], w_liked=z["w_liked"],
                film_keys=[str(k) for k in z["film_keys"]], film_vecs=z["film_vecs"].astype(np.float32),
                film_bias=z["film_bias"], quality_w=z["quality_w"], film_weight=float(z["film_weight"]),
            )


__all__ = ["N_QUALITY", "QUALITY_FACTS", "QueryParts", "TableCache", "TwoTower", "dense_text", "positions",
           "quality_matrix", "seed_positions"]
