"""Years, decades and numeric fact constraints found in a message, as spans plus the ranges they make."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from bot.understanding.patterns import (
    AFTER,
    BEFORE,
    CJK_DECADE_RE,
    CJK_DECADE_WORDS,
    CJK_YEAR_AFTER,
    CJK_YEAR_RE,
    DECADE_RE,
    DECADE_WORDS,
    DURATION_UNITS,
    ES_DECADE_RE,
    FACT_CJK_POST_RE,
    FACT_RE,
    LOWER_OPS,
    OLD_RE,
    RANGE_BETWEEN,
    RATED_RE,
    RECENT_RE,
    UNIT_WORDS,
    YEAR_RE,
)
from bot.understanding.vocabulary import Vocabulary

MONEY_UNITS = {"dollars", "dollar", "usd", "euros", "euro", "eur", "pounds", "gbp", "yuan", "rmb", "pesos", "dolares",
               "元", "块", "bucks"}
from retrieval.schema import Range

log = logging.getLogger(__name__)


@dataclass
class Span:
    """Something found in a message: its character range, kind and value."""

    start: int
    end: int
    kind: str  # title | person | genre | mood | year | fact | reference | modifier
    value: Any

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


def in_ranges(pos: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in ranges)


def decade_range(m: re.Match[str], prefix: str = "") -> tuple[int, int] | None:
    g = {k[len(prefix):]: v for k, v in m.groupdict().items() if k.startswith(prefix) and v}
    if "d4" in g:
        start = int(g["d4"])
    elif "d2" in g:
        start = _decade_start(int(g["d2"]))
    elif "dw" in g:
        start = DECADE_WORDS[g["dw"].lower()]
    else:
        return None
    pos = (g.get("pos") or g.get("pos2") or "").lower()
    if pos == "early":
        return start, start + 3
    if pos == "mid":
        return start + 3, start + 6
    if pos == "late":
        return start + 6, start + 9
    return start, start + 9


def _decade_start(d: int) -> int:
    """The first year of a decade written with four digits (1980) or two (80 -> 1980, 10 -> 2010)."""
    return d if d >= 1000 else (1900 + d if d >= 20 else 2000 + d)


_CITED_BEFORE = re.compile(r"[\w!?.…]\s*\(\s*$")  # a word (or "Airplane!"), then "(" right before the year
_CITED_AFTER = re.compile(r"\s*\)")


def year_spans(vocab: Vocabulary, text: str, negated: list[tuple[int, int]]) -> tuple[list[Span], Range | None]:
    """Years, decades and ranges in ``text`` ("80s", "after 2000", "八十年代", "los 90") and the range they make."""
    spans: list[Span] = []
    unions: list[tuple[int, int]] = []
    lows: list[int] = []
    highs: list[int] = []

    def free(a: int, b: int) -> bool:
        return not any(s.start < b and a < s.end for s in spans)

    def named(start: int, end: int, years: tuple[int, int]) -> None:
        """A span naming ``years``: wanted unless the message negates it."""
        spans.append(Span(start, end, "year", years))
        if not in_ranges(start, negated):
            unions.append(years)

    for m in RANGE_BETWEEN.finditer(text):
        a, b = (int(m["a"]), int(m["b"])) if m["a"] else (int(m["c"]), int(m["d"]))
        spans.append(Span(m.start(), m.end(), "year", (min(a, b), max(a, b))))
        unions.append((min(a, b), max(a, b)))
    for m in BEFORE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        op = m["op"].lower()
        if m["y"]:
            year = int(m["y"])
            limit = year if op in {"until", "till", "up to", "through", "hasta"} else year - 1
        else:
            dec = decade_range(m, "b_")
            if dec is None:
                continue
            limit = dec[1] if op in {"until", "till", "up to", "through", "hasta"} else dec[0] - 1
        spans.append(Span(m.start(), m.end(), "year", None))
        if in_ranges(m.start(), negated):  # "nothing before 1980": 1980 or later
            lows.append(limit + 1)
        else:
            highs.append(limit)
    for m in AFTER.finditer(text):
        if not free(m.start(), m.end()):
            continue
        op = m["op"].lower()
        negd = in_ranges(m.start(), negated)
        if m["y"]:
            year = int(m["y"])
            if op == "from" and not m["on"]:
                if not negd:
                    unions.append((year, year))
                spans.append(Span(m.start(), m.end(), "year", None))
                continue
            limit = year + 1 if op in {"after", "newer than", "later than", "post"} or op.startswith("despues") else year
        else:
            dec = decade_range(m, "a_")
            if dec is None:
                continue
            if op == "from" and not m["on2"]:
                if not negd:
                    unions.append(dec)
                spans.append(Span(m.start(), m.end(), "year", None))
                continue
            limit = dec[1] + 1 if op in {"after", "post", "newer than", "later than"} or op.startswith("despues") \
                else dec[0]
        spans.append(Span(m.start(), m.end(), "year", None))
        (highs if negd else lows).append(limit - 1 if negd else limit)
    for m in CJK_DECADE_RE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        start = _decade_start(int(m["d"])) if m["d"] else CJK_DECADE_WORDS[m["w"]]
        named(m.start(), m.end(), (start, start + 9))
    for m in CJK_YEAR_RE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        y, op, negd = int(m["y"]), m["op"], in_ranges(m.start(), negated)
        spans.append(Span(m.start(), m.end(), "year", None if op else (y, y)))
        if op in CJK_YEAR_AFTER:
            (highs if negd else lows).append(y - 1 if negd else y)
        elif op:
            (lows if negd else highs).append(y if negd else y - 1)
        elif not negd:
            unions.append((y, y))
    for m in ES_DECADE_RE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        start = _decade_start(int(m["d"]))
        named(m.start(), m.end(), (start, start + 9))
    for m in DECADE_RE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        dec = decade_range(m)
        if dec is None:
            continue
        named(m.start(), m.end(), dec)
    for m in YEAR_RE.finditer(text):
        if not free(m.start("y"), m.end("y")):
            continue
        if _CITED_BEFORE.search(text, 0, m.start("y")) and _CITED_AFTER.match(text, m.end("y")):
            continue  # "Zorgon (2009)": the year of a title the catalogue lacks, not a wish
        y = int(m["y"])
        named(m.start("y"), m.end("y"), (y, y))
    for m in OLD_RE.finditer(text):
        if free(m.start(), m.end()) and not in_ranges(m.start(), negated):
            spans.append(Span(m.start(), m.end(), "year", "relative"))
            highs.append(vocab.old_until())
    for m in RECENT_RE.finditer(text):
        if free(m.start(), m.end()) and not in_ranges(m.start(), negated):
            spans.append(Span(m.start(), m.end(), "year", "relative"))
            lows.append(vocab.recent_from())

    lo = min((a for a, _ in unions), default=None)
    hi = max((b for _, b in unions), default=None)
    if lows:
        lo = max(lows) if lo is None else max(lo, *lows)
    if highs:
        hi = min(highs) if hi is None else min(hi, *highs)
    if lo is None and hi is None:
        return spans, None
    if lo is not None and hi is not None and lo > hi:
        log.debug("contradictory year constraints in %r: %s > %s; ignored", text, lo, hi)
        return spans, None
    return spans, Range(float(lo) if lo is not None else None, float(hi) if hi is not None else None)

def fact_spans(vocab: Vocabulary, text: str) -> tuple[list[Span], dict[str, Range]]:
    """Numeric constraints on catalogue facts ("under 2 hours", "less than 500 calories", "rated above 7")."""
    spans: list[Span] = []
    facts: dict[str, tuple[float | None, float | None]] = {}
    for m in [*FACT_RE.finditer(text), *FACT_CJK_POST_RE.finditer(text)]:
        value, unit = float(m["n"]), (m["unit"] or "").lower()
        # "calorias", "分钟", "gramos de proteina": the English unit words
        unit = " ".join(UNIT_WORDS.get(w, "of" if w == "de" else w) for w in unit.split())
        first = unit.split()[0] if unit else ""
        name: str | None = None
        if first in DURATION_UNITS:
            name = vocab.duration_fact()
            value *= DURATION_UNITS[first]
        elif m.groupdict().get("cur") or first in MONEY_UNITS:
            name = vocab.money_fact()
        elif unit:
            name = vocab.unit_fact(unit)
        if not name:
            continue
        lower = m["op"].lower() in LOWER_OPS or m["op"].lower() in ("mas de", "高于", "超过", "多于", "以上", "之上")
        lo, hi = facts.get(name, (None, None))
        facts[name] = (value, hi) if lower else (lo, value)
        spans.append(Span(m.start(), m.end(), "fact", name))
    for m in RATED_RE.finditer(text):
        if any(s.start < m.end() and m.start() < s.end for s in spans):
            continue
        value = float(m["n"])
        name = vocab.rating_fact(value, bool(m["pct"]))
        if not name:
            continue
        op = (m["op"] or "at least").lower()
        lo, hi = facts.get(name, (None, None))
        facts[name] = (value, hi) if op in LOWER_OPS or op == "at least" else (lo, value)
        spans.append(Span(m.start(), m.end(), "fact", name))
    return spans, {k: Range(lo, hi) for k, (lo, hi) in facts.items()}
