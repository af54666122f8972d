"""Typed records at the retrieval boundary: catalogue items, queries and ranked candidates.

Everything that crosses from the catalogue into the index, and from the index to a caller, is one of
these. The dialogue layer builds a :class:`Query` and gets :class:`Candidate` objects back; it never
sees Chroma, BM25 or embeddings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Metadata values Chroma can store directly. Lists are flattened by the store.
Scalar = str | int | float | bool


@dataclass(frozen=True)
class Item:
    """One catalogue item.

    ``text`` is what gets embedded and indexed lexically. ``genres`` and ``people`` are lists of
    display strings (matched case-insensitively). ``facts`` holds typed scalar metadata the catalogue
    supports (``runtime``, ``rating``, ``calories``…); numeric facts can be filtered with ranges.
    ``popularity`` is an optional prior (higher = better known) used by rankers, never required.
    """

    id: str
    title: str
    text: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    facts: dict[str, Scalar] = field(default_factory=dict)
    popularity: float | None = None

    def content_hash(self) -> str:
        """A stable hash of everything that is indexed; unchanged items are not re-embedded."""
        payload = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]

    @property
    def label(self) -> str:
        """Title with the year when known: how the item is named to people."""
        return f"{self.title} ({self.year})" if self.year else self.title

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["genres"] = list(self.genres)
        d["people"] = list(self.people)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Item:
        return cls(
            id=str(d["id"]),
            title=d["title"],
            text=d["text"],
            year=d.get("year"),
            genres=tuple(d.get("genres") or ()),
            people=tuple(d.get("people") or ()),
            facts=dict(d.get("facts") or {}),
            popularity=d.get("popularity"),
        )


@dataclass(frozen=True)
class Range:
    """An inclusive numeric range; either end may be open."""

    min: float | None = None
    max: float | None = None

    def contains(self, value: float | None) -> bool:
        if value is None:
            return False
        if self.min is not None and value < self.min:
            return False
        return not (self.max is not None and value > self.max)


@dataclass
class Query:
    """A structured retrieval request, built by the caller from whatever it knows.

    - ``text``: free-text wishes (never the disliked things).
    - ``genres`` / ``people``: wanted attributes; they boost and explain, and are hard filters only
      when listed in ``require``.
    - ``exclude_genres`` / ``exclude_people``: unwanted attributes, always hard filters.
    - ``year``: a year range (hard filter); ``facts``: numeric ranges on catalogue facts (hard filters).
    - ``liked_ids``: items to find neighbours of; ``disliked_ids``: items whose neighbours are
      penalised; ``exclude_ids``: items never returned (already shown, disliked, seen).
    """

    text: str = ""
    genres: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    exclude_genres: list[str] = field(default_factory=list)
    exclude_people: list[str] = field(default_factory=list)
    year: Range | None = None
    facts: dict[str, Range] = field(default_factory=dict)
    liked_ids: list[str] = field(default_factory=list)
    disliked_ids: list[str] = field(default_factory=list)
    exclude_ids: list[str] = field(default_factory=list)
    require: list[str] = field(default_factory=list)  # subset of {"genres", "people"}
    k: int = 10

    def is_empty(self) -> bool:
        return not (self.text.strip() or self.genres or self.people or self.liked_ids)


@dataclass
class Candidate:
    """A ranked item with its final score, per-signal scores and human-readable reasons."""

    item: Item
    score: float
    signals: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "title": self.item.title,
            "year": self.item.year,
            "score": round(self.score, 6),
            "signals": {k: round(v, 6) for k, v in self.signals.items()},
            "reasons": list(self.reasons),
        }
