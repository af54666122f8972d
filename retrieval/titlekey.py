"""A film's identity across catalogues: its normalised title plus its year.

Two catalogues name the same film differently ("Matrix, The" / "The Matrix", "Amélie" / "Amelie",
"Ocean's Eleven!" / "Oceans Eleven"); :func:`film_key` folds case, accents, punctuation, "&", and a
leading or trailing article, and appends the year: ``film_key("The Matrix", 1999) == "matrix|1999"``.
Without a year there is no key (titles alone are ambiguous: four films are called "Heat").

The transfer ranker (:mod:`retrieval.transfer`) keys its learned film vectors this way, so they apply to
any catalogue holding the same films; the transfer benchmark maps ReDial names onto the bundled films
with it.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+),\s*(?P<article>the|a|an)$", re.IGNORECASE)
_LABEL = re.compile(r"^(?P<title>.*?\S)\s*\((?P<year>\d{4})\)\s*$")
_LEADING = frozenset({"the", "a", "an"})


def fold_title(title: str) -> str:
    """Folded title words: "The Matrix" -> "matrix", "Schindler's List" -> "schindlers list"."""
    title = title.strip()
    m = _TRAILING_ARTICLE.match(title)
    if m:
        title = f"{m['article']} {m['rest']}"
    decomposed = unicodedata.normalize("NFKD", title.replace("’", "'").replace("'", "").replace("&", " and "))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = _WORD.findall(plain)
    if len(words) > 1 and words[0] in _LEADING:
        words = words[1:]
    return " ".join(words)


def film_key(title: str, year: int | None) -> str | None:
    """``"<folded title>|<year>"``, or ``None`` without a year or title words."""
    if year is None:
        return None
    folded = fold_title(title)
    return f"{folded}|{int(year)}" if folded else None


def label_key(label: str) -> str | None:
    """The key of a "Title (Year)" label ("Heat (1995)" -> "heat|1995"); ``None`` without a year."""
    m = _LABEL.match(" ".join(label.split()))
    return film_key(m["title"], int(m["year"])) if m else None


__all__ = ["film_key", "fold_title", "label_key"]
