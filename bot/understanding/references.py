"""References to the items just shown: "the second one", "that one", "the shortest", "who directed it?".

:func:`reference_feedback` turns reactions to shown items into feedback ("seen the first one", "loved
it", "none of them"); :func:`question_target` finds the shown item a question is about;
:func:`question_field` what the question asks (director, cast, year, duration, rating…), and
:func:`superlative_target` answers "which is the shortest / oldest / best rated?" from the items' facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.understanding.lexicon import load_lexicon
from bot.understanding.patterns import (
    NEGATIVE,
    ORDINALS,
    POSITIVE,
    REF_ALL,
    REF_NONE,
    REF_ORDINAL,
    REF_PLURAL,
    REF_PRONOUN,
    SEEN,
    SIMILAR,
    alternation,
)
from bot.understanding.preferences import Feedback, FeedbackKind, Understanding
from bot.understanding.vocabulary import Vocabulary

_LEX = load_lexicon()
_FIELD_RES = {f: re.compile(alternation(p), re.IGNORECASE) for f, p in _LEX.question_fields.items()}
_SUPERLATIVE = re.compile(alternation(_LEX.superlatives), re.IGNORECASE)
_SUPERLATIVE_KEYS = {" ".join(k.split()).casefold(): v for k, v in _LEX.superlatives.items()}


def add(target: list[str], values: Iterable[str]) -> None:
    for v in values:
        if v not in target:
            target.append(v)


def question_target(text: str, last: list[str]) -> str | None:
    """The shown item a question points at: by position ("the first one"), or "it" when one was shown."""
    m = REF_ORDINAL.search(text)
    if m and last:
        idx = ref_index(m, len(last))
        return last[idx] if idx is not None else None
    if len(last) == 1 and REF_PRONOUN.search(text):
        return last[0]
    return None


def question_field(text: str) -> str | None:
    """What a question asks about: the field whose phrase starts earliest (longest on ties)."""
    best: tuple[int, int, str] | None = None
    for fld, rx in _FIELD_RES.items():
        m = rx.search(text)
        if m and (best is None or (m.start(), -(m.end() - m.start())) < (best[0], -best[1])):
            best = (m.start(), m.end() - m.start(), fld)
    return best[2] if best else None


def superlative(text: str) -> tuple[str, str, tuple[int, int]] | None:
    """("duration", "min", span) for "which is the shortest?", or None."""
    m = _SUPERLATIVE.search(text)
    if not m:
        return None
    fld, order = _SUPERLATIVE_KEYS[" ".join(m.group(0).split()).casefold()]
    return fld, order, (m.start(), m.end())


def field_value(vocab: Vocabulary, item_id: str, fld: str) -> float | None:
    """A numeric value of an item for comparisons: year, duration, rating, or a fact by name."""
    it = vocab.items.get(item_id)
    if it is None:
        return None
    if fld == "year":
        return float(it.year) if it.year else None
    name = {"duration": vocab.duration_fact(), "rating": vocab.rating_fact(80, percent=True)
            or vocab.rating_fact(8, percent=False)}.get(fld, fld)
    value = it.facts.get(name) if name else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value else None


def superlative_target(vocab: Vocabulary, last: list[str], fld: str, order: str) -> str | None:
    """The shown item with the smallest/largest value of ``fld`` (items without the value are skipped)."""
    valued = [(v, i) for i in last if (v := field_value(vocab, i, fld)) is not None]
    if not valued:
        return None
    return (min(valued) if order == "min" else max(valued))[1]


def reference_feedback(text: str, clauses: list[tuple[int, int]], negated: list[tuple[int, int]],
                        last: list[str], u: Understanding, titles_named: bool) -> None:
    """Feedback on shown items named by position ("the second one"), "all/none of them", or "it"."""

    def verdict(segment: str, neg: bool, none_of: bool) -> FeedbackKind | None:
        if none_of:
            return None if SEEN.search(segment) else "dislike"
        if SEEN.search(segment):
            return None if neg else "seen"
        if NEGATIVE.search(segment) or (neg and POSITIVE.search(segment)):
            return "dislike"
        if POSITIVE.search(segment) or SIMILAR.search(segment):
            return "like"
        return None

    for a, b in clauses:
        clause = text[a:b]
        neg_clause = any(a <= n < b for n, _ in negated)
        none_of = bool(REF_NONE.search(clause))
        if REF_ALL.search(clause) or none_of:
            scoped = [(list(last), clause)]
        else:
            refs = [(m, ref_index(m, len(last))) for m in REF_ORDINAL.finditer(clause)]
            refs = [(m, i) for m, i in refs if i is not None]
            # each reference owns the text up to the next one: "seen the first, the second looks great"
            scoped = [([last[i]], clause[(0 if k == 0 else m.start()):
                                         (refs[k + 1][0].start() if k + 1 < len(refs) else len(clause))])
                      for k, (m, i) in enumerate(refs)]
            if not scoped and not titles_named and len(last) == 1 and REF_PRONOUN.search(clause):
                scoped = [([last[0]], clause)]
            elif not scoped and not titles_named and len(last) > 1 and REF_PLURAL.search(clause):
                scoped = [(list(last), clause)]  # "I love those", "seen them"
        for targets, segment in scoped:
            kind = verdict(segment, neg_clause, none_of) or verdict(clause, neg_clause, none_of)
            if kind is None:
                continue
            for item_id in targets:
                fb = Feedback(kind, item_id)
                if fb not in u.feedback:
                    u.feedback.append(fb)
                target = {"like": u.liked_ids, "dislike": u.disliked_ids, "seen": u.seen_ids}[kind]
                add(target, [item_id])


def ref_index(m: re.Match[str], n: int) -> int | None:
    word = (m.group("ord") or m.group("ordz") or "").lower()
    if word:
        pos = ORDINALS[word]
        idx = n + pos if pos < 0 else pos
    else:
        idx = int(m.group("num") or m.group("num2")) - 1
    return idx if 0 <= idx < n else None
