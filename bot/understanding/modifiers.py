"""Relative requests: "funnier", "older", "shorter", "less violent", "no sequels", "another one".

Each is a :class:`~bot.understanding.lexicon.Modifier` from the lexicon files. :func:`find_modifiers`
spots them (longest phrase first, in every language); :func:`apply_modifiers` writes their effect into
the message's :class:`Understanding`, relative to the items the message refers to ("like Ocean's
Eleven but older": older than *Ocean's Eleven*) or, failing that, to the items shown last. Genres and
durations come from the catalogue's own vocabulary, so "quicker" means prep time on recipes and
runtime on films, and a concept the catalogue lacks is simply ignored.
"""

from __future__ import annotations

import re

from bot.understanding.lexicon import Modifier, load_lexicon
from bot.understanding.patterns import alternation, fold_chars
from bot.understanding.preferences import Understanding
from bot.understanding.references import add, field_value
from bot.understanding.vocabulary import Vocabulary
from retrieval.schema import Range

_LEX = load_lexicon()
_BY_PHRASE = {" ".join(fold_chars(p).casefold().split()): m for p, m in _LEX.modifier_phrases().items()}
_MODIFIER_RE = re.compile(alternation(_LEX.modifier_phrases()), re.IGNORECASE)
# "more protein", "fewer calories", "menos grasa": a relative wish on any numeric catalogue fact
_FACT_SHIFT = re.compile(r"(?<![\w'’])(?P<dir>more|higher|extra|richer in|high|less|fewer|lower|low|reduced|mas|menos)"
                         r"\s+(?:in\s+|de\s+)?(?P<word>[^\W\d_]{4,})", re.IGNORECASE)
_FACT_WORDS = {"calorias": "calories", "caloria": "calories", "grasa": "fat", "grasas": "fat",
               "carbohidratos": "carbs", "proteina": "protein", "proteinas": "protein"}
_CHEAPER = re.compile(r"(?<![\w'’])(?:cheaper|less expensive|more affordable|lower price|on a budget|mas barat[oa]s?)"
                      r"(?![\w'’])|便宜", re.IGNORECASE)
_PRICIER = re.compile(r"(?<![\w'’])(?:pricier|more expensive|higher end|premium|mas car[oa]s?)(?![\w'’])|更贵|贵一点",
                      re.IGNORECASE)
_ZH_FACTS = {"蛋白质": "protein", "蛋白": "protein", "热量": "calories", "卡路里": "calories", "脂肪": "fat",
             "碳水": "carbs"}
_ZH_WORDS = "|".join(sorted(_ZH_FACTS, key=len, reverse=True))
_ZH_SHIFT = re.compile(r"(?P<up1>更高|更多|高)(?:一点)?的?(?P<w1>" + _ZH_WORDS + r")|(?P<dn1>更低|更少|低)(?:一点)?的?(?P<w2>"
                       + _ZH_WORDS + r")|(?P<w3>" + _ZH_WORDS + r")(?P<dir3>更高|更多|高一点|多一点|更低|更少|低一点|少一点)")


def find_modifiers(folded: str) -> list[tuple[int, int, Modifier]]:
    """Relative requests in accent-folded text, as (start, end, modifier), left to right."""
    out = []
    for m in _MODIFIER_RE.finditer(folded):
        mod = _BY_PHRASE.get(" ".join(m.group(0).casefold().split()))
        if mod is not None:
            out.append((m.start(), m.end(), mod))
    return out


def _values(vocab: Vocabulary, ids: list[str], fld: str) -> list[float]:
    return [v for i in ids if (v := field_value(vocab, i, fld)) is not None]


def apply_modifiers(u: Understanding, mods: list[Modifier], vocab: Vocabulary, references: list[str],
                    last: list[str], current: Range | None = None,
                    current_facts: dict[str, Range] | None = None, years_said: bool = False) -> None:
    """Write the effect of ``mods`` into ``u``. ``references``: items the message names or points at;
    ``last``: the items shown last; ``current``: the year range wanted so far; ``years_said``: the
    message gives years itself ("1990 or newer"), so "older"/"newer" add nothing (they replace a
    vague "newer"/"classics" reading otherwise)."""
    anchors = references or last
    for mod in mods:
        if mod.like_reference and not mod.another:
            continue  # "more like X": X's sentiment is read with the title itself
        add(u.modifiers, [mod.name])
        u.asks_for_recommendation = True
        genres = vocab.genres_of(mod.genres)
        add(u.genres, [g for g in genres if g not in u.unwanted_genres])
        if mod.replace and genres:
            u.replace_genres = True
        add(u.drop_genres, [g for g in vocab.genres_of(mod.drop_genres) if g not in u.genres])
        add(u.unwanted_genres, [g for g in vocab.genres_of(mod.avoid_genres) if g not in u.genres])
        add(u.moods, [m for m in mod.moods if m not in u.unwanted_moods])
        add(u.unwanted_moods, [m for m in mod.avoid_moods if m not in u.moods])
        if mod.exclude in ("sequels", "remakes") and mod.exclude not in u.no_series:
            u.no_series.append(mod.exclude)  # type: ignore[arg-type]
        if mod.another:
            u.another = True
        if mod.year and not years_said:
            _shift_year(u, mod.year, _values(vocab, anchors, "year"), vocab, current)
        if mod.duration:
            _shift_duration(u, mod.duration, vocab, anchors, current_facts or {})


def _shift_year(u: Understanding, direction: str, years: list[float], vocab: Vocabulary,
                current: Range | None) -> None:
    if direction == "older":
        if years:
            u.year = Range(None, min(years) - 1)
        elif current is not None and current.min is not None:
            u.year = Range(None, current.min - 1)
        else:
            u.year = Range(None, float(vocab.old_until()))
    else:
        if years:
            u.year = Range(max(years) + 1, None)
        elif current is not None and current.max is not None:
            u.year = Range(current.max + 1, None)
        elif vocab.year_range:
            u.year = Range(float(vocab.recent_from()), None)


def _shift_duration(u: Understanding, direction: str, vocab: Vocabulary, anchors: list[str],
                    current: dict[str, Range]) -> None:
    fact = vocab.duration_fact()
    if fact is None or fact in u.facts:
        return
    values = _values(vocab, anchors, "duration")
    quartiles = vocab.fact_quartiles.get(fact)
    if direction == "quick":  # quicker than most: at most the median
        if quartiles:
            u.facts[fact] = Range(None, quartiles[1])
    elif direction == "shorter":
        if values:
            u.facts[fact] = Range(None, min(values) - 1)
        elif fact in current and current[fact].max is not None:
            u.facts[fact] = Range(None, current[fact].max * 0.8)  # type: ignore[operator]
        elif quartiles:
            u.facts[fact] = Range(None, quartiles[1])
    elif direction == "longer":
        if values:
            u.facts[fact] = Range(max(values) + 1, None)
        elif quartiles:
            u.facts[fact] = Range(quartiles[2], None)


def fact_shift_spans(folded: str, vocab: Vocabulary) -> list[tuple[int, int]]:
    """Where "more protein" / "fewer calories" name a numeric fact (those words are not ingredients)."""
    return [(m.start(), m.end()) for m in _FACT_SHIFT.finditer(folded)
            if vocab.unit_fact(_FACT_WORDS.get(m["word"].casefold(), m["word"].casefold())) in vocab.fact_quartiles]


def apply_fact_shifts(u: Understanding, folded: str, vocab: Vocabulary, references: list[str],
                      last: list[str]) -> None:
    """"more protein" -> protein above the items referred to (or shown last), or the upper quartile;
    "fewer calories" -> below them, or the lower quartile. Only numeric facts of the catalogue count."""
    anchors = references or last
    found = [(m["word"].casefold(), m["dir"].casefold() in ("more", "higher", "extra", "richer in", "high", "mas"))
             for m in _FACT_SHIFT.finditer(folded)]
    for m in _ZH_SHIFT.finditer(folded):  # "蛋白质更高", "低热量"
        word = m["w1"] or m["w2"] or m["w3"]
        up = bool(m["up1"]) or bool(m["dir3"] and m["dir3"][0] in "更多高" and "低" not in m["dir3"]
                                    and "少" not in m["dir3"])
        found.append((_ZH_FACTS[word], up))
    if _CHEAPER.search(folded) and vocab.money_fact():
        found.append((vocab.money_fact() or "", False))
    elif _PRICIER.search(folded) and vocab.money_fact():
        found.append((vocab.money_fact() or "", True))
    for word, up in found:
        name = vocab.unit_fact(_FACT_WORDS.get(word, word))
        if not name or name in u.facts or name == vocab.duration_fact() or name not in vocab.fact_quartiles:
            continue
        values = _values(vocab, anchors, name)
        q25, _, q75 = vocab.fact_quartiles[name]
        u.facts[name] = (Range(max(values) + 1 if values else q75, None) if up
                         else Range(None, min(values) - 1 if values else q25))
        add(u.modifiers, [("more_" if up else "less_") + name])
        u.asks_for_recommendation = True
