"""Sequels and remakes: items of the same series as the ones a person named or was shown.

"No sequels" and "no remakes" are answered from titles alone, so they work on any catalogue: a
*remake* has the same title as an anchor item (another year), a *sequel* shares the series key — the
title without a trailing number, roman numeral, number word or subtitle ("Ocean's Twelve",
"Alien 3", "Star Wars: Episode V" all belong to their first film's series).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping

from bot.titles import normalize
from retrieval.schema import Item

_NUMBER_WORDS = ("two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 "ii|iii|iv|v|vi|vii|viii|ix|x|xi|xii|2|3|4|5|6|7|8|9|10|11|12|13")
_TRAILING_NUMBER = re.compile(r"\s+(?:part\s+|chapter\s+|episode\s+)?(?:" + _NUMBER_WORDS + r")$")
_SUBTITLE = re.compile(r"\s*(?::| - | – | — ).*$")


def series_key(title: str) -> str:
    """The series a title belongs to: normalised, without subtitle and trailing number."""
    key = normalize(_SUBTITLE.sub("", title))
    previous = None
    while key != previous:
        previous = key
        key = _TRAILING_NUMBER.sub("", key)
    return key


_CACHE: dict[int, tuple[Mapping[str, Item], dict[str, list[str]], dict[str, list[str]]]] = {}


def _index(items: Mapping[str, Item]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Title and series indexes of a catalogue, built once per mapping."""
    hit = _CACHE.get(id(items))
    if hit is not None and hit[0] is items:
        return hit[1], hit[2]
    by_title: dict[str, list[str]] = defaultdict(list)
    by_series: dict[str, list[str]] = defaultdict(list)
    for it in items.values():
        by_title[normalize(it.title)].append(it.id)
        key = series_key(it.title)
        if key:
            by_series[key].append(it.id)
    if len(_CACHE) > 8:
        _CACHE.clear()
    _CACHE[id(items)] = (items, dict(by_title), dict(by_series))
    return dict(by_title), dict(by_series)


def related_ids(items: Mapping[str, Item], anchors: Iterable[str], kinds: Iterable[str]) -> list[str]:
    """Ids of remakes and/or sequels (``kinds``) of the ``anchors``, the anchors themselves excluded."""
    kinds = set(kinds)
    anchors = [a for a in dict.fromkeys(anchors) if a in items]
    if not kinds or not anchors:
        return []
    by_title, by_series = _index(items)
    out: dict[str, None] = {}
    for a in anchors:
        it = items[a]
        if "remakes" in kinds:
            out.update(dict.fromkeys(i for i in by_title.get(normalize(it.title), []) if i != a))
        if "sequels" in kinds:
            same_title = set(by_title.get(normalize(it.title), []))
            out.update(dict.fromkeys(i for i in by_series.get(series_key(it.title), [])
                                     if i != a and (i not in same_title or "remakes" in kinds)))
    return [i for i in out if i not in anchors]
