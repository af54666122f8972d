"""Typed records at the retrieval boundary: catalogue items, queries and ranked candidates.

Everything that crosses from the catalogue into the index, and from the index to a caller, is one of
these. The dialogue layer builds a :class:`Query` and gets :class:`Candidate` objects back; it never
sees Chroma, BM25 or embeddings.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, Field

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


class Taste(BaseModel):
    """What is wanted and what is not, in catalogue terms: the part of a :class:`Query` a caller's own
    record of someone's taste (the dialogue's preferences) shares, under the same names.

    - ``genres`` / ``people``: wanted attributes; they boost and explain, and are hard filters only
      when a :class:`Query` lists them in ``require``.
    - ``unwanted_genres`` / ``unwanted_people``: unwanted attributes, always hard filters.
    - ``year``: a year range (hard filter); ``facts``: numeric ranges on catalogue facts (hard filters).
    - ``liked_ids``: items to find neighbours of; ``disliked_ids``: items whose neighbours are penalised.
    """

    genres: list[str] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)
    unwanted_genres: list[str] = Field(default_factory=list)
    unwanted_people: list[str] = Field(default_factory=list)
    year: Range | None = None
    facts: dict[str, Range] = Field(default_factory=dict)
    liked_ids: list[str] = Field(default_factory=list)
    disliked_ids: list[str] = Field(default_factory=list)

    def taste(self) -> dict[str, Any]:
        """The :class:`Taste` fields of this object (copies of the lists), by name."""
        return {name: copy.copy(getattr(self, name)) for name in Taste.model_fields}


class Query(Taste):
    """A structured retrieval request, built by the caller from whatever it knows: a :class:`Taste`,
    plus ``text`` (free-text wishes, never the disliked things), ``exclude_ids`` (items never returned:
    already shown, disliked, seen), ``require`` (which of ``genres`` / ``people`` are hard filters) and
    ``k`` (how many candidates)."""

    text: str = ""
    exclude_ids: list[str] = Field(default_factory=list)
    require: list[str] = Field(default_factory=list)  # subset of {"genres", "people"}
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
