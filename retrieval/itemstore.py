"""Items and their vectors on disk (SQLite), and the in-memory table retrieval works from.

Each index generation owns one ``items.sqlite``: the items as JSON, their content hashes and their
embeddings. It is the embedding cache that makes re-ingest cheap (unchanged items are never embedded
again) and the source of the in-memory :class:`ItemTable` (titles for matching, metadata columns for fast
filtering, the vector matrix for MMR and exact filtered search).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.schema import Item

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    pos INTEGER PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,
    hash TEXT NOT NULL,
    body TEXT NOT NULL,
    vector BLOB NOT NULL
);
"""


def write_items(path: Path, items: Sequence[Item], hashes: Sequence[str], vectors: np.ndarray) -> None:
    """Write a complete items file (a new generation's; never modified afterwards)."""
    if not (len(items) == len(hashes) == len(vectors)):
        raise ValueError("items, hashes and vectors must have the same length")
    path.parent.mkdir(parents=True, exist_ok=True)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    with sqlite3.connect(path) as con:
        con.executescript(_SCHEMA)
        con.executemany(
            "INSERT INTO items (pos, id, hash, body, vector) VALUES (?, ?, ?, ?, ?)",
            (
                (pos, it.id, h, json.dumps(it.to_dict(), ensure_ascii=False), vectors[pos].tobytes())
                for pos, (it, h) in enumerate(zip(items, hashes, strict=True))
            ),
        )
    # sqlite3's context manager commits but does not close
    con.close()


def read_hashes_and_vectors(path: Path) -> dict[str, tuple[str, np.ndarray]]:
    """id -> (content hash, vector) of an existing generation: the embedding cache."""
    if not path.is_file():
        return {}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            i: (h, np.frombuffer(v, dtype=np.float32))
            for i, h, v in con.execute("SELECT id, hash, vector FROM items")
        }
    finally:
        con.close()


def _lower_all(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values)


@dataclass
class ItemTable:
    """All items of one index generation in memory, in insertion order (``pos``)."""

    items: list[Item]
    vectors: np.ndarray  # (n, dim), unit rows
    pos: dict[str, int] = field(init=False)
    years: np.ndarray = field(init=False)  # float, NaN where unknown
    genre_sets: list[frozenset[str]] = field(init=False)
    people_sets: list[frozenset[str]] = field(init=False)
    popularity: np.ndarray = field(init=False)  # [0, 1] rank-normalised, 0 where unknown

    def __post_init__(self) -> None:
        self.pos = {it.id: i for i, it in enumerate(self.items)}
        self.years = np.array([np.nan if it.year is None else it.year for it in self.items], dtype=np.float64)
        self.genre_sets = [_lower_all(it.genres) for it in self.items]
        self.people_sets = [_lower_all(it.people) for it in self.items]
        raw = np.array([it.popularity if it.popularity is not None else np.nan for it in self.items])
        pop = np.zeros(len(self.items), dtype=np.float64)
        known = ~np.isnan(raw)
        if known.any():
            order = raw[known].argsort().argsort()
            pop[known] = (order + 1) / known.sum()
        self.popularity = pop
        self._fact_cache: dict[str, np.ndarray] = {}
        self._attr_index: dict[str, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def get(self, item_id: str) -> Item | None:
        p = self.pos.get(item_id)
        return None if p is None else self.items[p]

    def attribute_mask(self, kind: str, value: str) -> np.ndarray:
        """Items whose ``kind`` ("genres" or "people") contains ``value``, case-insensitively."""
        index = self._attr_index.get(kind)
        if index is None:
            sets = self.genre_sets if kind == "genres" else self.people_sets
            positions: dict[str, list[int]] = {}
            for i, s in enumerate(sets):
                for v in s:
                    positions.setdefault(v, []).append(i)
            index = self._attr_index[kind] = {v: np.array(p, dtype=np.int64) for v, p in positions.items()}
        out = np.zeros(len(self.items), dtype=bool)
        hits = index.get(value.casefold())
        if hits is not None:
            out[hits] = True
        return out

    def fact_column(self, name: str) -> np.ndarray:
        """A numeric fact as a float column (NaN where missing or not numeric)."""
        col = self._fact_cache.get(name)
        if col is None:
            vals = []
            for it in self.items:
                v = it.facts.get(name)
                vals.append(float(v) if isinstance(v, int | float) and not isinstance(v, bool) else np.nan)
            col = self._fact_cache[name] = np.array(vals, dtype=np.float64)
        return col

    def vocabulary(self) -> tuple[set[str], set[str]]:
        """All genres and people (display forms) in the catalogue."""
        genres: set[str] = set()
        people: set[str] = set()
        for it in self.items:
            genres.update(it.genres)
            people.update(it.people)
        return genres, people

    @classmethod
    def load(cls, path: Path) -> ItemTable:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT body, vector FROM items ORDER BY pos").fetchall()
        finally:
            con.close()
        items = [Item.from_dict(json.loads(body)) for body, _ in rows]
        vectors = (
            np.frombuffer(b"".join(v for _, v in rows), dtype=np.float32).reshape(len(rows), -1)
            if rows
            else np.zeros((0, 0), dtype=np.float32)
        )
        return cls(items=items, vectors=vectors)
