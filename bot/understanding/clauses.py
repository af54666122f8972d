"""Clauses of a message and the reach of its negations (helpers of :mod:`bot.understanding.parser`)."""

from __future__ import annotations

import re

from bot.understanding.lexicon import is_cjk
from bot.understanding.patterns import (
    BUT_IS_TRIGGER,
    CLAUSE_BREAK,
    NEG_EXCEPTIONS,
    NEG_SCOPE_END,
    NEG_SCOPE_KEEP,
    NEG_TRIGGER,
)

_LAST_WORD = re.compile(r"([\w'’]+)\W*$")


def split_clauses(text: str) -> list[tuple[int, int]]:
    """Clause boundaries (start, end) over ``text``."""
    bounds, pos = [], 0
    for m in CLAUSE_BREAK.finditer(text):
        if m.group(0).lower() == "but" and BUT_IS_TRIGGER.search(text[:m.start()]):
            continue  # "anything but horror": a negation, not a new clause
        if m.start() > pos:
            bounds.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        bounds.append((pos, len(text)))
    return bounds


def negated_ranges(text: str, clauses: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Character ranges under a negation: from a trigger to the end of its clause (or of its sentence)."""
    masked = NEG_EXCEPTIONS.sub(lambda m: " " * len(m.group(0)), text)
    out = []
    for start, end in clauses:
        m = NEG_TRIGGER.search(masked, start, end)
        if m:
            if is_cjk(m.group(0)):  # "不含蘑菇的晚餐": the negation ends at 的, the dish is still wanted
                end = de if (de := masked.find("的", m.end(), end)) > m.end() else end
            else:
                end = negation_end(masked, m.span(), end)
            out.append((m.start(), end))
    return out


def clause_of(pos: int, clauses: list[tuple[int, int]]) -> tuple[int, int]:
    return next(((a, b) for a, b in clauses if a <= pos < b), (0, 0))


def negation_end(text: str, trigger: tuple[int, int], end: int) -> int:
    """Where a negation found at ``trigger`` (start, end) stops within its clause ending at ``end``: at the
    first visible start of a new sentence (``negation_scope_end`` in the cue file), else at ``end``."""
    for m in NEG_SCOPE_END.finditer(text, trigger[1], end):
        before = _LAST_WORD.search(text, trigger[0], m.start())
        if before is not None and before.group(1).casefold() not in NEG_SCOPE_KEEP:
            return m.start()
    return end


__all__ = ["clause_of", "negated_ranges", "negation_end", "split_clauses"]
