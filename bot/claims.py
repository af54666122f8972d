"""Checks what a sentence claims about items against those items' facts, and repairs or rejects it.

A sentence is about the items it names (found by the catalogue's :class:`TitleIndex`) or, when it
names none, about the items of the reply it belongs to. Checked, with the rules of
``prompts/explain/facts.yaml``:

- **people and roles**: every catalogue person named must belong to an item the sentence is about;
  "directed by X" / "X directed" / "starring X" must match that item's roles (an unknown role is not
  a licence: the claim is rejected); a capitalised name after a role phrase that is nobody of the
  item is rejected too ("directed by John Smith");
- **years and decades**: a year must be the year of an item the sentence is about or names;
- **numbers**: a number must carry a unit the item has a fact for, and the value must match it
  ("8.1 out of 100" and "a 39-meter rating" fail); bare small counts (≤ 12) pass;
- **awards**: "Oscar-winning" needs an item with Oscars;
- **genres**: genre words must be genres of an item the sentence is about;
- **exclusions**: "without mushrooms" fails when the item lists mushrooms;
- **comparisons**: "A is older than B", "shorter than", … are computed from both items' facts.

Third-person references to the reader ("the person") are repaired to "you". Everything else that
fails makes the sentence rejected: :meth:`ClaimChecker.check` returns the problems found.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bot.item_facts import ItemFacts
from bot.titles import Mention, TitleIndex
from prompts.phrases import facts_config, languages, phrase_book
from retrieval.schema import Item

_YEAR = re.compile(r"(?<![\d.])(1[89]\d\d|20[0-4]\d)(?![\d])(?!s\b)(?!\s*(?:min|minutes|kcal|calories|%))")
_DECADE = re.compile(r"(?<![\d])(?:(1[89]\d|20[0-4])0|'?(\d)0)s\b")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\d])")
_L = r"A-Za-zÀ-ÖØ-öø-ÿĀ-ž'’.-"  # letters of Latin-script names ("和" or "执导" end a name)
_NAME_WORD = rf"(?:[A-ZÀ-ÖØ-Þ][{_L}]*|de|da|del|van|von|der|le|la|di|du)"
_NAME_RUN = re.compile(rf"[A-ZÀ-ÖØ-Þ][{_L}]*(?:\s+{_NAME_WORD})+")
_CAP_RUN_AFTER = re.compile(rf"\s*(?:the\s+)?([A-ZÀ-ÖØ-Þ][{_L}]*(?:\s+[A-ZÀ-ÖØ-Þ][{_L}]*)+)")
_COUNT_MAX = 12
_NEGATED = re.compile(r"(?:\b(?:no|not an?|not|without|sin|ni)\s+(?:\w+\s+)?|不是|没有|不含|非)$", re.IGNORECASE)
_LABEL_YEAR = re.compile(r"\((1[89]\d\d|20[0-4]\d)\)")


@dataclass
class ClaimResult:
    text: str  # the sentence, repaired (unchanged when nothing needed repair)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@functools.lru_cache(maxsize=1)
def _rules() -> dict:
    cfg = facts_config()
    units = {fact: [re.compile(u, re.IGNORECASE) for u in spec.get("units", [])]
             for fact, spec in (cfg.get("numbers") or {}).items()}
    awards = {fact: re.compile("|".join(pats), re.IGNORECASE) for fact, pats in (cfg.get("awards") or {}).items()}
    role_before = {role: sorted(spec.get("before", []), key=len, reverse=True)
                   for role, spec in (cfg.get("role_claims") or {}).items()}
    role_after = {role: spec.get("after", []) for role, spec in (cfg.get("role_claims") or {}).items()}
    comparisons = [(re.compile(c["pattern"], re.IGNORECASE), c["fact"], c["holds"])
                   for c in cfg.get("comparisons") or []]
    repairs = [(re.compile(a), b) for a, b in cfg.get("reader_repairs") or []]
    genre_words: dict[str, str] = {}  # word in any language -> canonical (English, folded) genre key
    for lang in languages():
        for key, word in (phrase_book(lang).data.get("genres") or {}).items():
            genre_words[str(word).casefold()] = str(key).casefold()
    return {"units": units, "awards": awards, "role_before": role_before, "role_after": role_after,
            "comparisons": comparisons, "repairs": repairs, "genre_words": genre_words,
            "excluded": re.compile(r"\b(?:without|no|free of|sin)\s+([a-z][a-z-]+)|不含([\w]+)|([a-z][a-z]+)-free\b",
                                   re.IGNORECASE)}


def _same_genre(word_key: str, genre: str) -> bool:
    g = genre.casefold()
    aliases = {"sci-fi": "science fiction", "science fiction": "sci-fi"}
    # "snack" and "snacks" are one genre (a phrase book may name both with the same word: 小吃)
    return g == word_key or aliases.get(g) == word_key or (g.endswith("s") and g[:-1] == word_key) or (
        word_key.endswith("s") and word_key[:-1] == g)


class ClaimChecker:
    """Claim checks for one catalogue. Build it once per catalogue (it indexes the people's names)."""

    def __init__(self, titles: TitleIndex, get: Callable[[str], Item | None], items: Iterable[Item]) -> None:
        self.titles = titles
        self.get = get
        people: set[str] = set()
        genres: set[str] = set()
        for it in items:
            people.update(p.casefold() for p in it.people if " " in p.strip())
            genres.update(g.casefold() for g in it.genres)
        self.people = people
        rules = _rules()
        # genre words worth checking: the catalogue's genres and their translations
        words = {g: g for g in genres if len(g) > 2}
        words.update(rules["genre_words"])  # every genre the phrase books know, in every language
        words.update({k: k for k in rules["genre_words"].values()})
        for ambiguous in ("short", "news", "family", "music", "history", "war", "sport", "adventure", "action",
                          "drama", "talk-show", "reality-tv", "game-show", "adult", "healthy", "snack"):
            words.pop(ambiguous, None)
        self.genre_words = words
        self._genre_re = (re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
                                     + r")(?![\w-])", re.IGNORECASE) if words else None)

    # ------------------------------------------------------------------------------------ helpers
    def _facts(self, item_id: str) -> ItemFacts | None:
        it = self.get(item_id)
        return ItemFacts.of(it) if it is not None else None

    def names_in(self, sentence: str, skip: Sequence[tuple[int, int]] = ()) -> list[tuple[str, int, int]]:
        """Catalogue people named in ``sentence``: (name, start, end), outside the ``skip`` spans."""
        found = []
        for m in _NAME_RUN.finditer(sentence):
            words = m.group(0).split()
            pos = m.start()
            starts = []
            for w in words:
                pos = sentence.index(w, pos)
                starts.append(pos)
                pos += len(w)
            i = 0
            while i < len(words):
                hit = None
                for n in range(min(4, len(words) - i), 1, -1):
                    cand = " ".join(words[i:i + n]).rstrip(".,'’")
                    if cand.casefold() in self.people:
                        hit = (cand, starts[i], starts[i] + len(cand))
                        break
                if hit and not any(a <= hit[1] < b for a, b in skip):
                    found.append(hit)
                    i += len(hit[0].split())
                else:
                    i += 1
        return found

    # -------------------------------------------------------------------------------------- check
    def check(self, sentence: str, about_ids: Sequence[str], context_ids: Iterable[str] = (),
              stated: Iterable[float] = ()) -> ClaimResult:
        """``stated``: numbers the person gave (limits, year bounds); a sentence may repeat them."""
        rules = _rules()
        said = {float(x) for x in stated}
        text = sentence
        for pattern, repl in rules["repairs"]:
            text = pattern.sub(repl, text)
        if not text.strip():
            return ClaimResult(text)
        mentions: list[Mention] = self.titles.find_mentions(text)
        spans = [m.span for m in mentions]
        named = [m.item_id for m in mentions]
        about_named = [i for i in named if i in set(about_ids)]
        subjects = [f for f in (self._facts(i) for i in (about_named or list(about_ids))) if f is not None]
        mentioned = [f for f in (self._facts(i) for i in {*named, *context_ids}) if f is not None]
        problems: list[str] = []
        if not subjects:
            return ClaimResult(text)
        everyone = subjects + mentioned

        # people and roles
        names = self.names_in(text, spans)
        for name, start, end in names:
            if not any(f.has_person(name) for f in everyone):
                problems.append(f"{name} is not in {subjects[0].label}")
        for role, phrases in rules["role_before"].items():
            for phrase in phrases:
                for m in re.finditer(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])", text, re.IGNORECASE):
                    after = _CAP_RUN_AFTER.match(text, m.end())
                    if not after:
                        continue
                    run = after.group(1)
                    claimed = [n for n, s, _ in names if s >= after.start(1) and s < after.end(1)] or [run]
                    for name in claimed[:1]:
                        if any(a <= after.start(1) < b for a, b in spans):
                            continue  # a title follows ("with Alien"), not a person
                        if not any(role in f.roles_of(name) for f in subjects):
                            problems.append(f"{name} is not the {role} of {subjects[0].label}")
        for role, phrases in rules["role_after"].items():
            for name, _, end in names:
                tail = text[end:end + 20]
                if any(tail.casefold().startswith(p.casefold()) for p in phrases) and not any(
                        role in f.roles_of(name) for f in subjects):
                    problems.append(f"{name} is not the {role} of {subjects[0].label}")

        # years, decades and numbers (outside titles)
        # where the items' own titles and labels stand ("48 Hrs. (1982)"): their numbers are no claims
        title_spans = [*spans, *((m.start(), m.end()) for f in everyone for name in {f.label, f.title} if name
                                 for m in re.finditer(re.escape(name), text))]

        def in_title(pos: int) -> bool:
            return any(a <= pos < b for a, b in title_spans)
        years = {f.year for f in everyone if f.year}
        year_spans: list[tuple[int, int]] = []
        labels = [m.span(1) for m in _LABEL_YEAR.finditer(text)]
        for m in _YEAR.finditer(text):
            year_spans.append(m.span())
            if in_title(m.start()) or m.span(1) in labels:
                continue
            if int(m.group(1)) not in years and float(m.group(1)) not in said:
                problems.append(f"year {m.group(1)} is not the year of {subjects[0].label}")
        for m in _DECADE.finditer(text):
            year_spans.append(m.span())
            decade = int(m.group(1) + "0") if m.group(1) else 1900 + int(m.group(2)) * 10
            if not any(f.year and decade <= f.year < decade + 10 for f in subjects):
                problems.append(f"{subjects[0].label} is not from the {decade}s")
        unit_spans: list[tuple[int, int]] = []
        for m in _NUMBER.finditer(text):
            if any(a <= m.start() < b for a, b in [*year_spans, *unit_spans]) or in_title(m.start()):
                continue
            if not text[:m.start()].strip() and re.match(r"[.)]\s", text[m.end():m.end() + 2]):
                continue  # a list marker: "1. Alien (1979): …"
            value = float(m.group(1))
            if value in said:
                continue
            after = text[m.end():m.end() + 40]
            units = [(f, u) for f, pats in rules["units"].items() for p in pats if (u := p.match(after))]
            facts = [f for f, _ in units]
            unit_spans += [(m.end(), m.end() + u.end()) for _, u in units]
            if facts:
                if not any(abs(s.numbers.get(f, float("nan")) - value) < 0.051 for s in subjects for f in facts):
                    problems.append(f"{m.group(0)}{after[:12].rstrip()} does not match {subjects[0].label}")
            elif "." in m.group(1) or value > _COUNT_MAX:
                problems.append(f"unverifiable number {m.group(0)} ({after[:12].strip()})")
        for fact, pattern in rules["awards"].items():
            claimed = [m for m in pattern.finditer(text) if not in_title(m.start())]
            if claimed and not any(s.numbers.get(fact, 0) > 0 for s in subjects):
                problems.append(f"{subjects[0].label} has no {fact}")

        # genres, and exclusions claimed ("without mushrooms")
        if self._genre_re is not None:
            for m in self._genre_re.finditer(text):
                if in_title(m.start()):
                    continue
                key = self.genre_words.get(m.group(1).casefold(), m.group(1).casefold())
                if _NEGATED.search(text[max(0, m.start() - 12):m.start()]):  # "no romance": none of them is
                    if any(_same_genre(key, g) for f in subjects for g in f.genres):
                        problems.append(f"{subjects[0].label} is {m.group(1)}")
                elif not any(_same_genre(key, g) for f in everyone for g in f.genres):
                    problems.append(f"{subjects[0].label} is not {m.group(1)}")
        for m in rules["excluded"].finditer(text):
            word = (m.group(1) or m.group(2) or m.group(3) or "").casefold()
            stem = word[:-1] if word.endswith("s") and len(word) > 3 else word
            if stem and any(re.search(rf"\b{re.escape(stem)}", p.casefold()) for f in subjects for p in f.people):
                problems.append(f"{subjects[0].label} has {word}")

        # comparisons between two items
        for pattern, fact, holds in rules["comparisons"]:
            for m in pattern.finditer(text):
                before = [x for x in mentions if x.span[1] <= m.start()]
                after_m = [x for x in mentions if x.span[0] >= m.end() - (len(m.group("other"))
                           if "other" in pattern.groupindex and m.group("other") else 0)]
                a = self._facts(before[-1].item_id) if before else (subjects[0] if len(subjects) == 1 else None)
                b = self._facts(after_m[0].item_id) if after_m else None
                va = (a.year if fact == "year" else a.numbers.get(fact)) if a else None
                vb = (b.year if fact == "year" else b.numbers.get(fact)) if b else None
                if va is None or vb is None or a is b or (va < vb if holds == "less" else va > vb) is False:
                    problems.append(f"comparison '{m.group(0)}' does not hold")
        return ClaimResult(text, problems)
