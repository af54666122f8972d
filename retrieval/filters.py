"""Hard constraints of a :class:`Query`, in the two forms retrieval uses.

- :func:`to_where` — a Chroma ``where`` clause over the metadata written by :func:`item_metadata`.
- :func:`mask` — the same constraints as a boolean mask over an in-memory :class:`ItemTable`, used for
  BM25 results and for exact filtered dense search, which is much faster than Chroma's metadata scan on
  large collections (see ``recbot bench retrieval``).

Both must agree; tests check that they select the same items. Exclusions by id (shown, disliked,
seen) are applied by the retriever on top.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from retrieval.itemstore import ItemTable
from retrieval.schema import Item, Query

FACT_PREFIX = "fact_"


def item_metadata(item: Item) -> dict[str, Any]:
    """Chroma metadata for an item: scalars, and non-empty lower-cased string lists."""
    meta: dict[str, Any] = {"rid": item.id}
    if item.year is not None:
        meta["year"] = int(item.year)
    if item.genres:
        meta["genres"] = sorted({g.casefold() for g in item.genres})
    if item.people:
        meta["people"] = sorted({p.casefold() for p in item.people})
    for name, value in item.facts.items():
        if value is not None and value != "":
            meta[FACT_PREFIX + name] = value
    return meta


def _range_clauses(key: str, lo: float | None, hi: float | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if lo is not None:
        out.append({key: {"$gte": lo}})
    if hi is not None:
        out.append({key: {"$lte": hi}})
    return out


def to_where(query: Query) -> dict[str, Any] | None:
    """The query's hard constraints as a Chroma ``where`` clause (None when there are none)."""
    clauses: list[dict[str, Any]] = []
    if query.year is not None:
        clauses += _range_clauses("year", query.year.min, query.year.max)
    for name, rng in query.facts.items():
        clauses += _range_clauses(FACT_PREFIX + name, rng.min, rng.max)
    clauses += [{"genres": {"$not_contains": g.casefold()}} for g in query.unwanted_genres]
    clauses += [{"people": {"$not_contains": p.casefold()}} for p in query.unwanted_people]
    if "genres" in query.require:
        clauses += [{"genres": {"$contains": g.casefold()}} for g in query.genres]
    if "people" in query.require:
        clauses += [{"people": {"$contains": p.casefold()}} for p in query.people]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def has_constraints(query: Query) -> bool:
    return to_where(query) is not None


def _in_range(col: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    ok = ~np.isnan(col)
    if lo is not None:
        ok &= col >= lo
    if hi is not None:
        ok &= col <= hi
    return ok


def mask(table: ItemTable, query: Query) -> np.ndarray:
    """Boolean mask of the items satisfying the query's hard constraints."""
    n = len(table)
    ok = np.ones(n, dtype=bool)
    if query.year is not None:
        ok &= _in_range(table.years, query.year.min, query.year.max)
    for name, rng in query.facts.items():
        ok &= _in_range(table.fact_column(name), rng.min, rng.max)

    for kind, values, want in (
        ("genres", query.unwanted_genres, False),
        ("people", query.unwanted_people, False),
        ("genres", query.genres if "genres" in query.require else [], True),
        ("people", query.people if "people" in query.require else [], True),
    ):
        for v in values:
            hit = table.attribute_mask(kind, v)
            ok &= hit if want else ~hit
    return ok
