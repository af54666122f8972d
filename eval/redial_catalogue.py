"""The ReDial movie catalogue (``id2info.json``: ``{id: {name: "Title (Year)", genre, plot, director,
writer, star, imdb_id}}``) → :func:`load_catalogue` → :class:`RedialCatalogue`.

Names are resolved to catalogue ids by exact match on ``name``. A few names occur twice in
``id2info.json`` with the same IMDb id (true duplicates such as "Meet the Parents (2000)"); each such
group gets one *canonical* id (the numerically smallest), every name resolves to it, and systems'
ranked lists should pass through :meth:`RedialCatalogue.canonicalise` before scoring so that ranking
either copy counts as a hit.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.redial_format import RedialFormatError, str_list

log = logging.getLogger(__name__)

_NAME_YEAR = re.compile(r"^(?P<title>.*\S)\s*\((?P<year>\d{4})\)$")


@dataclass(frozen=True)
class RedialMovie:
    """One ``id2info.json`` entry. ``title``/``year`` are split from ``name`` when it ends in "(YYYY)"."""

    id: str
    name: str
    title: str
    year: int | None
    genres: tuple[str, ...]
    plot: str
    directors: tuple[str, ...]
    writers: tuple[str, ...]
    stars: tuple[str, ...]
    imdb_id: str | None


@dataclass(frozen=True)
class RedialCatalogue:
    """The ReDial movie catalogue with exact-name resolution and duplicate-id canonicalisation."""

    movies: Mapping[str, RedialMovie]
    id_of_name: Mapping[str, str]  # name -> canonical id
    canonical_of: Mapping[str, str]  # any id -> canonical id
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.movies)

    @property
    def canonical_ids(self) -> list[str]:
        """One id per distinct movie (duplicates collapsed), in file order: the ranking universe."""
        return list(dict.fromkeys(self.canonical_of[i] for i in self.movies))

    def resolve(self, name: str) -> str | None:
        """The canonical id of an exact ``"Title (Year)"`` name, or ``None``."""
        return self.id_of_name.get(name)

    def canonical_id(self, item_id: str) -> str:
        """The canonical id for any catalogue id; unknown ids pass through unchanged."""
        return self.canonical_of.get(item_id, item_id)

    def canonicalise(self, ranked: Sequence[str]) -> list[str]:
        """Map a ranked list to canonical ids and drop later duplicates, keeping the order."""
        return list(dict.fromkeys(self.canonical_id(i) for i in ranked))


def _id_sort_key(item_id: str) -> tuple[int, str]:
    return (int(item_id), item_id) if item_id.isdigit() else (1 << 62, item_id)


def load_catalogue(path: str | Path) -> RedialCatalogue:
    """Read ``id2info.json`` into a :class:`RedialCatalogue`."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RedialFormatError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise RedialFormatError(f"{path}: expected an object {{id: info}}, got {type(raw).__name__}")
    movies: dict[str, RedialMovie] = {}
    ids_of_name: dict[str, list[str]] = defaultdict(list)
    for item_id, info in raw.items():
        where = f"{path} id {item_id!r}"
        if not isinstance(info, dict):
            raise RedialFormatError(f"{where}: expected an object, got {type(info).__name__}")
        name = info.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RedialFormatError(f"{where}: field 'name' must be a non-empty string, got {name!r}")
        m = _NAME_YEAR.match(name)
        movies[item_id] = RedialMovie(
            id=item_id,
            name=name,
            title=m["title"] if m else name,
            year=int(m["year"]) if m else None,
            genres=str_list(info.get("genre"), f"{where} field 'genre'"),
            plot=info.get("plot") or "",
            directors=str_list(info.get("director"), f"{where} field 'director'"),
            writers=str_list(info.get("writer"), f"{where} field 'writer'"),
            stars=str_list(info.get("star"), f"{where} field 'star'"),
            imdb_id=info.get("imdb_id") or None,
        )
        ids_of_name[name].append(item_id)
    id_of_name: dict[str, str] = {}
    canonical_of: dict[str, str] = {}
    for name, ids in ids_of_name.items():
        canonical = min(ids, key=_id_sort_key)
        id_of_name[name] = canonical
        for i in ids:
            canonical_of[i] = canonical
    dupes = sum(1 for ids in ids_of_name.values() if len(ids) > 1)
    log.info("%s: %d movies, %d names shared by several ids (collapsed)", path, len(movies), dupes)
    return RedialCatalogue(movies=movies, id_of_name=id_of_name, canonical_of=canonical_of, path=path)
