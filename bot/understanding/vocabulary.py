"""What a catalogue lets people talk about, derived from its items and the lexicon files.

:class:`Vocabulary` is built once per catalogue (:meth:`Vocabulary.from_items`): its own genre names
(plus the lexicon's synonyms in every language, kept only for concepts the catalogue has), its people
(ingredients in a recipes catalogue), its numeric facts and their ranges, its years and its titles.
Nothing here is specific to films: a catalogue without a "horror" genre simply has no horror words.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from bot.titles import FUNCTION_WORDS, TitleIndex, normalize
from bot.understanding.lexicon import is_cjk, load_lexicon
from retrieval.schema import Item

_LEX = load_lexicon()
# concept -> phrases in every language (the lexicon files); exported for callers and tests
GENRE_SYNONYMS: dict[str, tuple[str, ...]] = {c: tuple(p) for c, p in _LEX.genre_synonyms.items()}
GENRE_COMBOS: dict[str, tuple[str, ...]] = {c: tuple(p) for c, p in _LEX.genre_combos.items()}
MOODS: tuple[str, ...] = tuple(dict.fromkeys(_LEX.moods.values()))
_DURATION_FACT_RE = re.compile(r"runtime|duration|length|minutes|prep|cook|time", re.IGNORECASE)
_MONEY_FACT_RE = re.compile(r"price|cost|msrp|amount|fee", re.IGNORECASE)
_RATING_FACT_RE = re.compile(r"rating|meter|score|metacritic|stars", re.IGNORECASE)


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("oes", "shes", "ches", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    values = sorted(values)
    n = len(values)
    return values[n // 4], values[n // 2], values[min(n - 1, 3 * n // 4)]


OLD_YEARS = 20  # a vague "old" film is at least this many years older than the catalogue's newest
RECENT_YEARS = 10  # a vague "recent" one at most this many (recommenders answer "recent" with films of the last decade)


@dataclass
class Vocabulary:
    """What a catalogue lets people talk about: its genres (with synonyms), people, facts and titles."""

    genre_names: list[str]  # as written in the catalogue
    genre_phrases: dict[str, list[str]]  # normalised phrase -> catalogue genre(s)
    people: dict[str, str]  # normalised name -> name as written
    people_counts: Counter[str]
    surnames: dict[str, list[str]]  # normalised last word -> names, most prolific first
    numeric_facts: dict[str, tuple[float, float]]  # fact name -> (min, max) seen
    fact_names: list[str]
    year_range: tuple[int, int] | None
    titles: TitleIndex
    person_min_words: int = 2
    max_phrase_words: int = 4
    concept_genres: dict[str, str] = field(default_factory=dict)  # lexicon concept -> catalogue genre
    moods: dict[str, str] = field(default_factory=dict)  # normalised mood phrase -> mood word
    cjk_phrases: dict[str, tuple[str, Any]] = field(default_factory=dict)  # 科幻 -> ("genre", [...])
    items: dict[str, Item] = field(default_factory=dict)  # id -> item (facts of shown items, years)
    fact_quartiles: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # 25/50/75%
    people_words: dict[str, list[str]] = field(default_factory=dict)  # word -> names (ingredient catalogues)
    title_aliases: dict[str, str] = field(default_factory=dict)  # "el padrino" -> item id (lexicon files)

    @classmethod
    def from_items(cls, items: Sequence[Item], *, synonyms: dict[str, tuple[str, ...]] | None = None,
                   person_min_words: int | None = None) -> Vocabulary:
        """Build from the catalogue. ``person_min_words`` defaults to 2 (multi-word names only, as for
        film people) unless most names in the catalogue are single words (ingredients), then 1."""
        synonyms = GENRE_SYNONYMS if synonyms is None else synonyms
        cjk: dict[str, tuple[str, Any]] = {}
        genre_counts: Counter[str] = Counter()
        people_counts: Counter[str] = Counter()
        fact_ranges: dict[str, list[float]] = {}
        fact_values: dict[str, list[float]] = defaultdict(list)
        fact_names: dict[str, None] = {}
        years: list[int] = []
        for item in items:
            genre_counts.update(g for g in item.genres if g)
            people_counts.update(p for p in item.people if p)
            if item.year:
                years.append(item.year)
            for name, value in item.facts.items():
                fact_names.setdefault(name)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    lo_hi = fact_ranges.setdefault(name, [float(value), float(value)])
                    lo_hi[0], lo_hi[1] = min(lo_hi[0], value), max(lo_hi[1], value)
                    if value:
                        fact_values[name].append(float(value))

        genre_names = [g for g, _ in genre_counts.most_common()]
        phrases: dict[str, list[str]] = defaultdict(list)
        by_norm: dict[str, str] = {}
        for g in genre_names:
            key = normalize(g)
            by_norm.setdefault(key, g)
            for form in (key, key + "s", key[:-1] + "ies" if key.endswith("y") else key + "s"):
                if g not in phrases[form]:
                    phrases[form].append(g)
        concept_genre: dict[str, str] = {}
        for concept, words_ in synonyms.items():
            hit = next((by_norm[normalize(w)] for w in (concept, *words_) if normalize(w) in by_norm), None)
            if hit is None:
                continue
            concept_genre[concept] = hit
            for w in words_:
                if is_cjk(w):
                    cjk[w] = ("genre", [hit])
                elif hit not in phrases[normalize(w)]:
                    phrases[normalize(w)].append(hit)
        for combo, concepts in GENRE_COMBOS.items():
            hits = [concept_genre[c] for c in concepts if c in concept_genre]
            if len(hits) == len(concepts):
                if is_cjk(combo):
                    cjk[combo] = ("genre", hits)
                else:
                    phrases[normalize(combo)] = hits
        moods: dict[str, str] = {}
        for phrase, mood in _LEX.moods.items():
            if is_cjk(phrase):
                cjk[phrase] = ("mood", mood)
            else:
                moods[normalize(phrase)] = mood

        people: dict[str, str] = {}
        surnames: dict[str, list[str]] = defaultdict(list)
        for name, _ in people_counts.most_common():
            key = normalize(name)
            if key and key not in people:
                people[key] = name
                parts = key.split()
                if len(parts) >= 2:
                    surnames[parts[-1]].append(name)
        for alias, name in _LEX.people_aliases.items():
            if normalize(name) in people:
                if is_cjk(alias):
                    cjk[alias] = ("person", people[normalize(name)])
                else:
                    people.setdefault(normalize(alias), people[normalize(name)])
        if person_min_words is None:
            sample = list(people)[:2000]
            multi = sum(1 for k in sample if len(k.split()) >= 2)
            # film people are nearly all multi-word names (99.7% here); ingredients are not (70%)
            person_min_words = 2 if sample and multi / len(sample) >= 0.9 else 1

        reserved = set(phrases) | set(moods) | {normalize(w) for w in (*_LEX.reserved_words, *_LEX.sentiment_words)}
        reserved |= {normalize(w) for w in _LEX.unit_words if not is_cjk(w)}  # "88 minutos" is no *88 Minutes*
        titles = TitleIndex(items, reserved_words=reserved)
        people_words: dict[str, list[str]] = defaultdict(list)
        if person_min_words < 2:
            for key, name in people.items():
                for w in key.split():
                    if len(w) > 2 and w not in FUNCTION_WORDS:
                        people_words[_singular(w)].append(name)
        title_aliases: dict[str, str] = {}
        for alias, original in _LEX.title_aliases.items():
            match = titles.resolve(original, threshold=97.0)
            if match is None:
                continue
            if is_cjk(alias):
                cjk[alias] = ("title", (match.item_id, 100.0))
            else:
                title_aliases[normalize(alias)] = match.item_id
        return cls(
            title_aliases=title_aliases,
            people_words=dict(people_words),
            genre_names=genre_names,
            genre_phrases=dict(phrases),
            people=people,
            people_counts=people_counts,
            surnames=dict(surnames),
            numeric_facts={k: (v[0], v[1]) for k, v in fact_ranges.items()},
            fact_names=list(fact_names),
            year_range=(min(years), max(years)) if years else None,
            titles=titles,
            person_min_words=person_min_words,
            max_phrase_words=max([4, *(len(p.split()) for p in [*phrases, *title_aliases])]),
            concept_genres=concept_genre,
            items={it.id: it for it in items},
            fact_quartiles={k: _quartiles(v) for k, v in fact_values.items() if v},
            moods=moods,
            cjk_phrases=cjk,
        )

    def old_until(self) -> int:
        """The last year of a vague "old"/"older" wish: 20 years before the newest item (people who call
        films "old" name 80s and 90s ones as often as earlier ones); 1979 without years."""
        return self.year_range[1] - OLD_YEARS if self.year_range else 1979

    def recent_from(self) -> int:
        """The first year of a vague "recent"/"newer" wish: 10 years before the newest item."""
        return self.year_range[1] - RECENT_YEARS if self.year_range else 2015

    def resolve_genre(self, text: str) -> list[str]:
        """Catalogue genres named by ``text`` ("scary" -> ["horror"]); empty when none."""
        return list(self.genre_phrases.get(normalize(text), []))

    def resolve_person(self, text: str, threshold: float = 92.0) -> str | None:
        """A catalogue person: exact (case/accents ignored), a dominant surname, or a close spelling."""
        if text in self.cjk_phrases and self.cjk_phrases[text][0] == "person":
            return str(self.cjk_phrases[text][1])
        key = normalize(text)
        if not key:
            return None
        if key in self.people:
            return self.people[key]
        parts = key.split()
        if len(parts) == 1 and parts[0] in self.surnames and parts[0] not in FUNCTION_WORDS:
            names = self.surnames[parts[0]]
            top = self.people_counts[names[0]]
            second = self.people_counts[names[1]] if len(names) > 1 else 0
            if top >= 2 and top >= 2 * max(second, 1):
                return names[0]
            return None
        if len(parts) >= 2 and parts[-1] in self.surnames:
            best = max(self.surnames[parts[-1]], key=lambda n: fuzz.ratio(key, normalize(n)))
            if fuzz.ratio(key, normalize(best)) >= threshold:
                return best
        return None

    def genre_named_in(self, genre: str, text: str) -> bool:
        """Whether ``text`` names catalogue ``genre`` itself or by a synonym ("scary" for horror)."""
        padded = f" {normalize(text)} "
        if any(f" {phrase} " in padded for phrase, gs in self.genre_phrases.items() if genre in gs):
            return True
        return any(p in text for p, (kind, v) in self.cjk_phrases.items() if kind == "genre" and genre in v)

    def names_with(self, word: str) -> list[str]:
        """Every ingredient-like name containing all words of ``word`` ("mushrooms" -> Mushrooms, Porcini
        mushrooms…; "ground beef" -> Ground beef, not Ground ginger); empty for film people."""
        keys = [_singular(w) for w in normalize(word).split()]
        if not keys:
            return []
        names = [n for n in self.people_words.get(keys[0], [])
                 if all(k in {_singular(x) for x in normalize(n).split()} for k in keys[1:])]
        return list(dict.fromkeys(names))

    def diet_exclusions(self, diet: str) -> list[str]:
        """The catalogue's names a diet rules out ("vegetarian" -> Chicken breast, Bacon…), from the lexicon."""
        keep = {_singular(w) for w in _LEX.diet_keep.get(diet, [])}
        names = dict.fromkeys(n for w in _LEX.diets.get(diet, []) for n in self.names_with(w))
        return [n for n in names if not keep & {_singular(w) for w in normalize(n).split()}]

    def genres_of(self, concepts: Sequence[str]) -> list[str]:
        """Catalogue genres for lexicon concepts ("comedy" -> "Comedy"); concepts it lacks are skipped."""
        return [self.concept_genres[c] for c in concepts if c in self.concept_genres]

    def duration_fact(self) -> str | None:
        return next((f for f in self.numeric_facts if _DURATION_FACT_RE.search(f)), None)

    def rating_fact(self, value: float, percent: bool) -> str | None:
        """A rating-like fact whose scale fits ``value`` (0-10 or 0-100)."""
        for name, (_, hi) in self.numeric_facts.items():
            if not _RATING_FACT_RE.search(name) or "review" in name or "count" in name:
                continue
            if (percent or value > 10) and 10 < hi <= 100:
                return name
            if not percent and value <= 10 and hi <= 10:
                return name
        return None

    def money_fact(self) -> str | None:
        """The catalogue's price-like numeric fact (price, cost, msrp…), if it has one."""
        return next((f for f in self.numeric_facts if _MONEY_FACT_RE.search(f)), None)

    def unit_fact(self, unit: str) -> str | None:
        """A numeric fact named by a unit word: "calories" -> calories, "grams of protein" -> protein."""
        words_ = [w for w in normalize(unit).split() if w not in {"of", "g", "grams", "gram"}]
        for w in words_:
            for name in self.numeric_facts:
                n = normalize(name.replace("_", " "))
                if w == n or w.rstrip("s") == n.rstrip("s") or (n.startswith(w) and len(w) >= 4):
                    return name
        return None
