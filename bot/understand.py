"""Deterministic understanding of one message, and the checked merge of an LLM's reading of it.

:func:`understand` turns "I loved the babadook but nothing too gory, maybe something from the 80s"
into an :class:`Understanding`: catalogue titles (via :class:`~bot.titles.TitleIndex`) with the
sentiment of their clause, genres (the catalogue's own genre names plus synonyms: "scary" -> horror,
"sci fi" -> whatever the catalogue calls science fiction), people (multi-word names from the
catalogue), years and decades ("80s", "from the nineties", "after 2000", "between 1990 and 1995"),
numeric constraints on catalogue facts ("under 2 hours", "less than 500 calories"), moods, free-text
wishes, feedback on the last recommendations ("seen the second one", "loved it") and an intent.

Negation is scoped to a clause: a trigger ("no", "not", "without", "anything but", "I hated", "don't
want"…) negates what follows it up to the end of its clause (punctuation, "but", "however", or "and I
liked…"). Negated genres and people become *unwanted*, negated titles *disliked*; negated words never
reach the free-text wishes, because retrieval must not search for what people do not want.

Everything here is a catalogue lookup or a regular expression: no model, a few milliseconds a message.
An LLM can add what rules miss: :func:`merge_llm_output` validates its JSON against
:class:`LLMPreferences` (the schema also rendered into the ``understand`` prompt via
:func:`llm_json_schema`) and keeps only what resolves to the catalogue; titles must also appear in the
message, so a model cannot slip in titles of its own.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rapidfuzz import fuzz

from bot.titles import COMMON_WORDS, FUNCTION_WORDS, TitleIndex, fold_word, normalize, zipf
from retrieval.schema import Item, Range

if TYPE_CHECKING:
    from bot.state import SessionState

log = logging.getLogger(__name__)

Intent = Literal["recommend", "ask_about", "feedback", "chitchat"]
FeedbackKind = Literal["like", "dislike", "seen"]

# ------------------------------------------------------------------------------------------ lexicon
# Concept -> phrases. A concept counts only if the catalogue has a genre whose name is one of its
# phrases; every phrase then maps to that catalogue genre, whatever it is called there ("Sci-Fi",
# "science fiction"). Phrases are matched as whole words after normalisation ("sci-fi" == "sci fi").
GENRE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "horror": ("horror", "horrors", "scary", "scarier", "frightening", "creepy", "spooky", "terrifying",
               "slasher", "slashers", "gore", "gory", "horror movie", "horror film"),
    "comedy": ("comedy", "comedies", "funny", "funnier", "hilarious", "comedic", "humorous", "humour",
               "humor", "laugh", "laughs", "make me laugh"),
    "science fiction": ("science fiction", "sci fi", "scifi", "science-fiction", "futuristic"),
    "romance": ("romance", "romances", "romantic", "love story", "love stories"),
    "action": ("action", "action packed", "action movie", "action film"),
    "thriller": ("thriller", "thrillers", "suspense", "suspenseful"),
    "crime": ("crime", "crimes", "gangster", "gangsters", "mafia", "mob", "heist", "heists", "noir"),
    "documentary": ("documentary", "documentaries", "docs", "nonfiction", "non fiction"),
    "animation": ("animation", "animated", "cartoon", "cartoons", "anime"),
    "family": ("family", "family friendly", "for kids", "for children", "kids movie", "kids film"),
    "fantasy": ("fantasy", "fantasies", "magical", "fairy tale", "fairy tales"),
    "adventure": ("adventure", "adventures", "adventurous"),
    "musical": ("musical", "musicals"),
    "music": ("music",),
    "biography": ("biography", "biographies", "biopic", "biopics", "biographical", "true story"),
    "mystery": ("mystery", "mysteries", "whodunit", "whodunnit", "detective"),
    "war": ("war", "wartime", "war movie", "war film"),
    "western": ("western", "westerns", "cowboy", "cowboys"),
    "sport": ("sport", "sports"),
    "history": ("history", "historical", "period piece", "period drama"),
    "drama": ("drama", "dramas", "dramatic"),
}
# Phrases naming two concepts at once.
GENRE_COMBOS: dict[str, tuple[str, ...]] = {
    "romantic comedy": ("romance", "comedy"), "romantic comedies": ("romance", "comedy"),
    "rom com": ("romance", "comedy"), "romcom": ("romance", "comedy"), "rom coms": ("romance", "comedy"),
    "romcoms": ("romance", "comedy"), "dramedy": ("comedy", "drama"), "horror comedy": ("horror", "comedy"),
    "action comedy": ("action", "comedy"), "space opera": ("science fiction", "adventure"),
}
# Mood words go to the free-text wishes (and to state.moods); they are not catalogue fields.
MOODS: tuple[str, ...] = (
    "feel good", "feelgood", "uplifting", "light hearted", "lighthearted", "light", "dark", "gritty",
    "intense", "sad", "tearjerker", "happy", "relaxing", "cozy", "cosy", "wholesome", "thought provoking",
    "mind bending", "mindbending", "clever", "smart", "silly", "quirky", "weird", "heartwarming",
    "inspiring", "inspirational", "epic", "slow", "fast paced", "exciting", "tense", "emotional",
    "twist", "twisty", "atmospheric", "nostalgic", "cheesy", "violent", "disturbing", "depressing",
    "fun", "chill", "calm", "moving", "touching", "bleak",
)
_DECADE_WORDS = {"twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
                 "seventies": 1970, "eighties": 1980, "nineties": 1990, "noughties": 2000, "aughts": 2000}
_MIN_YEAR, _MAX_YEAR = 1870, 2100
MAX_LLM_GENRES = 3  # an LLM listing more genres than this in one field is ignored for that field
_EVERYDAY_ZIPF = 4.8  # a name made only of words this common ("The Game") must be capitalised

# Reactions and requests: never titles unless quoted ("Hated", "Loved", "Yes" and "More" are films).
_SENTIMENT_WORDS = frozenset("""
love loved loves like liked likes enjoy enjoyed enjoys adore adored hate hated hates dislike disliked
detest detested loathe loathed despise despised boring bored terrible awful bad worst sucked overrated meh
disappointing dull stupid horrible dreadful annoying great amazing awesome fantastic brilliant excellent
perfect wonderful good best favourite favorite masterpiece incredible beautiful cool nice mind
""".split())
_RESERVED_WORDS = _SENTIMENT_WORDS | frozenset(
    "yes no nope nah thanks more another something anything recommend suggest ok okay seen watched".split())

# Words that only ask, fill or react: they do not make a wish.
_FILLER = frozenset("""
want wants wanted looking look find recommend recommendation recommendations suggest suggestion
suggestions something anything movie movies film films flick flicks watch watching see show shows
please maybe perhaps some any kind sort type like similar good great nice really very quite pretty
tonight today now me i im id ive would could should can will shall get give need prefer preferably
one ones thing things stuff also again new else other another more less lot bit just probably
something's ideas idea hi hello hey thanks thank you ok okay sure yes no yeah yep nah well so
watched seen saw loved love liked enjoyed enjoy adore adored great awesome amazing fantastic
favourite favorite best year years old older recent era decade time hmm hm um uh oh ah lol haha
morning evening afternoon night there guys everyone bye goodbye cheers cool sorry
""".split()) | FUNCTION_WORDS | {w.replace("'", "") for w in FUNCTION_WORDS} | _SENTIMENT_WORDS | frozenset(
    "dont didnt doesnt cant wont isnt wasnt arent werent wouldnt couldnt shouldnt".split())

# --------------------------------------------------------------------------------------- patterns
_W = r"(?<![\w'’])"  # word start
_E = r"(?![\w'’])"  # word end
_NEG_EXCEPTIONS = re.compile(
    _W + r"(?:(?:do|would|does|did)(?:n'?t|n’t| not) mind|can(?:'?t|’t|not| not) (?:wait|get enough)"
    r"|not (?:bad|too bad|only)|no (?:problem|worries|preference|idea)|never mind|nothing (?:else|more)"
    r"|if not|whether or not|or not|not sure|no matter)" + _E, re.IGNORECASE)
_NEG_TRIGGER = re.compile(
    _W + r"(?:anything|everything|all|whatever|something) (?:but|except|other than)" + _E + r"|"
    + _W + r"(?:no|not|nothing|none|without|except|excluding|exclude|avoid|avoiding|skip|never|nor|"
    r"hate|hated|hates|hating|dislike|disliked|dislikes|detest|detested|loathe|loathed|despise|despised|"
    r"(?:do|does|did|would|could|should|is|are|was|were|wo|ca|have|has)(?:n'?t|n’t)|dont|didnt|doesnt|wont|"
    r"cant|cannot|isnt|wasnt|arent|werent|rather not|sick of|tired of|fed up with|"
    r"not (?:a fan of|into|in the mood for)|no more|anti)" + _E, re.IGNORECASE)
_CLAUSE_BREAK = re.compile(
    r"[.;!?\n]+|" + _W + r"(?:but|however|though|although|whereas|yet|except that)" + _E
    + r"|,\s*(?=(?:i|we|you|but|though|however|maybe|something|anything|preferably|ideally|and i|and we)"
    + _E + r")"
    + r"|" + _W + r"and(?=\s+(?:i|we)?\s*(?:really\s+)?"
    r"(?:love|loved|like|liked|enjoy|enjoyed|adore|adored|want|prefer)" + _E + r")", re.IGNORECASE)
_POSITIVE = re.compile(
    _W + r"(?:love|loved|loves|loving|like|liked|likes|enjoy|enjoyed|enjoys|adore|adored|favou?rite|"
    r"great|amazing|awesome|fantastic|brilliant|excellent|perfect|wonderful|good|best|fun|classic|"
    r"masterpiece|incredible|beautiful|cool|nice|into|fan of)" + _E, re.IGNORECASE)
_NEGATIVE = re.compile(
    _W + r"(?:terrible|awful|boring|bored|bad|worst|sucked|sucks|overrated|meh|disappointing|"
    r"disappointed|dull|stupid|hated|hate|horrible|dreadful|annoying|too (?:long|slow|scary|violent|sad)|"
    r"bores? me|leaves? me cold|gets? on my nerves|"
    r"not (?:for me|my thing|my cup of tea|good|great|that good|that great)|wasn'?t (?:good|great|for me)|"
    r"didn'?t (?:like|enjoy|love)|did not (?:like|enjoy|love))" + _E, re.IGNORECASE)
_SIMILAR = re.compile(
    _W + r"(?:like|similar to|such as|in the style of|along the lines of|reminds? me of|same as|"
    r"in the vein of|kind of like|more like|something like|stuff like|movies like|films like)" + _E,
    re.IGNORECASE)
_SEEN = re.compile(
    _W + r"(?:seen|saw|watched|already watched|already seen|have seen|i'?ve seen|watched it|seen it|"
    r"know it|know that one)" + _E, re.IGNORECASE)
_REQUEST = re.compile(
    _W + r"(?:recommend|recommendation|recommendations|suggest|suggestion|suggestions|ideas|any idea|"
    r"what should i (?:watch|see|try|cook|make|eat)|what to (?:watch|see)|give me|show me|find me|"
    r"surprise me|just pick|pick (?:one|something)|go ahead|another|more like|more of|one more|some more|"
    r"more (?:movies|films|suggestions|recommendations|options|please)|give me more|other options|"
    r"what else|anything else|something else|something different|any (?:good )?(?:movies?|films?)|"
    r"i(?:'m| am) looking for|looking for|can you (?:find|suggest|recommend)|"
    r"(?:what|how) about (?:something|anything|some|a|an))" + _E, re.IGNORECASE)
_DESIRE = re.compile(
    _W + r"(?:i'?d like|i would like|i want|i wanna|i need|looking for|in the mood for|"
    r"want to (?:watch|see|cook|make)|"
    r"something to (?:watch|see|cook|eat)|help me (?:find|choose|pick)|movie night)" + _E, re.IGNORECASE)
_WISH_CUE = re.compile(
    _W + r"(?:something|anything|movies?|films?|shows?|recipes?|dish|about|with|want|wants|like|looking for|"
    r"set in|featuring|involving|where|in which|based on)" + _E, re.IGNORECASE)
_QUESTION_START = re.compile(
    r"^\s*(?:what|who|whom|when|where|which|why|how|is|are|was|were|does|do|did|can|could|has|have|"
    r"tell me|say|explain)" + _E, re.IGNORECASE)
_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
             "fifth": 4, "5th": 4, "one": 0, "two": 1, "three": 2, "four": 3, "five": 4}
_REF_ORDINAL = re.compile(
    _W + r"(?:the\s+)?(?P<ord>first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last)"
    r"(?:\s+(?:one|movie|film|"
    r"recipe|suggestion|option|title))?" + _E + r"|" + _W + r"(?:number|no\.?|#)\s*(?P<num>[1-9])" + _E
    + r"|" + _W + r"(?:option|item)\s+(?P<num2>[1-9])" + _E, re.IGNORECASE)
_REF_ALL = re.compile(
    _W + r"(?:all of them|all of those|all three|both|all those|each of them|every one)" + _E, re.IGNORECASE)
_REF_NONE = re.compile(_W + r"(?:none of them|none of those|neither)" + _E, re.IGNORECASE)
_REF_PRONOUN = re.compile(_W + r"(?:it|that one|this one|that|this|that movie|this movie|that film|this film)"
                          + _E, re.IGNORECASE)

_WORDS = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_DECADE = (r"(?:(?P<pos>early|mid|late)[\s-]*)?(?:(?P<d4>1[89]\d0|20\d0)|['’]?(?P<d2>[0-9]0))(?:['’]?s)"
           r"|(?:(?P<pos2>early|mid|late)[\s-]*)?(?:the\s+)?(?P<dw>" + "|".join(_DECADE_WORDS) + r")")
_RANGE_BETWEEN = re.compile(
    _W + r"(?:between\s+(?P<a>" + _YEAR + r")\s+and\s+(?P<b>" + _YEAR + r")|(?:from\s+)?(?P<c>" + _YEAR
    + r")\s*(?:-|–|to|until|till|through)\s*(?P<d>" + _YEAR + r"))" + _E, re.IGNORECASE)
_BEFORE = re.compile(
    _W + r"(?P<op>before|pre|prior to|older than|earlier than|until|till|up to|through)[\s-]*(?:the\s+)?"
    r"(?:(?P<y>" + _YEAR + r")|(?P<dec>" + _DECADE.replace("?P<", "?P<b_") + r"))" + _E, re.IGNORECASE)
_AFTER = re.compile(
    _W + r"(?P<op>after|post|since|newer than|later than|from)[\s-]*(?:the\s+)?"
    r"(?:(?P<y>" + _YEAR + r")(?P<on>\s+(?:on|onwards?|and later|or later|and after|and newer))?|"
    r"(?P<dec>" + _DECADE.replace("?P<", "?P<a_") + r")(?P<on2>\s+(?:on|onwards?))?)" + _E, re.IGNORECASE)
_DECADE_RE = re.compile(_W + r"(?:" + _DECADE + r")" + _E, re.IGNORECASE)
_YEAR_RE = re.compile(_W + r"(?:in|from|of|released in)?\s*(?P<y>" + _YEAR + r")" + _E, re.IGNORECASE)
_OLD_RE = re.compile(_W + r"(?:classics?|oldies|old(?:er)? (?:movies|films|ones|stuff)|golden age|vintage)"
                     + _E, re.IGNORECASE)
_RECENT_RE = re.compile(_W + r"(?:recent|newer|latest|modern|new releases?|new (?:movies|films|ones))" + _E,
                        re.IGNORECASE)
_NUM = r"(?P<n>\d+(?:\.\d+)?)"
_FACT_RE = re.compile(
    _W + r"(?P<op>under|less than|fewer than|below|at most|max(?:imum)?|no more than|not more than|"
    r"shorter than|within|up to|over|more than|above|at least|min(?:imum)?|longer than|no less than)\s+"
    + _NUM + r"\s*(?P<unit>[a-z%]+(?:\s+of\s+[a-z]+)?)?", re.IGNORECASE)
_RATED_RE = re.compile(
    _W + r"(?:rated|rating|score|scored)\s+(?P<op>above|over|at least|more than|higher than|below|under|"
    r"less than)?\s*" + _NUM + r"\s*(?P<pct>%|percent)?", re.IGNORECASE)
_DURATION_UNITS = {"minute": 1.0, "minutes": 1.0, "mins": 1.0, "min": 1.0, "m": 1.0, "hour": 60.0,
                   "hours": 60.0, "hrs": 60.0, "hr": 60.0, "h": 60.0}
_DURATION_FACT_RE = re.compile(r"runtime|duration|length|minutes|prep|cook|time", re.IGNORECASE)
_RATING_FACT_RE = re.compile(r"rating|meter|score|metacritic|stars", re.IGNORECASE)
_LOWER_OPS = {"over", "more than", "above", "at least", "min", "minimum", "longer than", "no less than",
              "higher than"}


# ------------------------------------------------------------------------------------- vocabulary
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

    @classmethod
    def from_items(cls, items: Sequence[Item], *, synonyms: dict[str, tuple[str, ...]] | None = None,
                   person_min_words: int | None = None) -> Vocabulary:
        """Build from the catalogue. ``person_min_words`` defaults to 2 (multi-word names only, as for
        film people) unless most names in the catalogue are single words (ingredients), then 1."""
        synonyms = GENRE_SYNONYMS if synonyms is None else synonyms
        genre_counts: Counter[str] = Counter()
        people_counts: Counter[str] = Counter()
        fact_ranges: dict[str, list[float]] = {}
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
                if hit not in phrases[normalize(w)]:
                    phrases[normalize(w)].append(hit)
        for combo, concepts in GENRE_COMBOS.items():
            hits = [concept_genre[c] for c in concepts if c in concept_genre]
            if len(hits) == len(concepts):
                phrases[normalize(combo)] = hits

        people: dict[str, str] = {}
        surnames: dict[str, list[str]] = defaultdict(list)
        for name, _ in people_counts.most_common():
            key = normalize(name)
            if key and key not in people:
                people[key] = name
                parts = key.split()
                if len(parts) >= 2:
                    surnames[parts[-1]].append(name)
        if person_min_words is None:
            sample = list(people)[:2000]
            multi = sum(1 for k in sample if len(k.split()) >= 2)
            person_min_words = 2 if sample and multi / len(sample) >= 0.5 else 1

        reserved = set(phrases) | {normalize(m) for m in MOODS} | _RESERVED_WORDS
        titles = TitleIndex(items, reserved_words=reserved)
        return cls(
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
            max_phrase_words=max(4, *(len(p.split()) for p in phrases)) if phrases else 4,
        )

    def resolve_genre(self, text: str) -> list[str]:
        """Catalogue genres named by ``text`` ("scary" -> ["horror"]); empty when none."""
        return list(self.genre_phrases.get(normalize(text), []))

    def resolve_person(self, text: str, threshold: float = 92.0) -> str | None:
        """A catalogue person: exact (case/accents ignored), a dominant surname, or a close spelling."""
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
        return any(f" {phrase} " in padded for phrase, gs in self.genre_phrases.items() if genre in gs)

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

    def unit_fact(self, unit: str) -> str | None:
        """A numeric fact named by a unit word: "calories" -> calories, "grams of protein" -> protein."""
        words_ = [w for w in normalize(unit).split() if w not in {"of", "g", "grams", "gram"}]
        for w in words_:
            for name in self.numeric_facts:
                n = normalize(name.replace("_", " "))
                if w == n or w.rstrip("s") == n.rstrip("s") or (n.startswith(w) and len(w) >= 4):
                    return name
        return None


# ----------------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class Feedback:
    """A reaction to an item: like, dislike or seen."""

    kind: FeedbackKind
    item_id: str


@dataclass
class Understanding:
    """What one message says. Lists keep catalogue ids / names; nothing here is free invention."""

    text: str
    intent: Intent = "chitchat"
    asks_for_recommendation: bool = False
    is_question: bool = False
    liked_ids: list[str] = field(default_factory=list)
    disliked_ids: list[str] = field(default_factory=list)
    seen_ids: list[str] = field(default_factory=list)
    about_id: str | None = None
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # item chosen -> other same-title items
    genres: list[str] = field(default_factory=list)
    unwanted_genres: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    unwanted_people: list[str] = field(default_factory=list)
    year: Range | None = None
    facts: dict[str, Range] = field(default_factory=dict)
    moods: list[str] = field(default_factory=list)
    unwanted_moods: list[str] = field(default_factory=list)
    wishes: list[str] = field(default_factory=list)
    feedback: list[Feedback] = field(default_factory=list)
    llm_used: bool = False
    llm_error: str | None = None

    def has_preferences(self) -> bool:
        """Whether the message says anything about taste (not counting feedback on shown items)."""
        return bool(self.liked_ids or self.disliked_ids or self.genres or self.unwanted_genres or self.people
                    or self.unwanted_people or self.year or self.facts or self.moods or self.wishes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------ the parser
@dataclass
class _Span:
    start: int
    end: int
    kind: str  # title | person | genre | mood | year | fact
    value: Any

    def overlaps(self, other: _Span) -> bool:
        return self.start < other.end and other.start < self.end


def _add(target: list[str], values: Iterable[str]) -> None:
    for v in values:
        if v not in target:
            target.append(v)


_BUT_IS_TRIGGER = re.compile(r"(?:anything|everything|all|whatever|something|nothing)\s*$", re.IGNORECASE)


def _clauses(text: str) -> list[tuple[int, int]]:
    """Clause boundaries (start, end) over ``text``."""
    bounds, pos = [], 0
    for m in _CLAUSE_BREAK.finditer(text):
        if m.group(0).lower() == "but" and _BUT_IS_TRIGGER.search(text[:m.start()]):
            continue  # "anything but horror": a negation, not a new clause
        if m.start() > pos:
            bounds.append((pos, m.start()))
        pos = m.end()
    if pos < len(text):
        bounds.append((pos, len(text)))
    return bounds


def _negated_ranges(text: str, clauses: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Character ranges under a negation: from a trigger to the end of its clause."""
    masked = _NEG_EXCEPTIONS.sub(lambda m: " " * len(m.group(0)), text)
    out = []
    for start, end in clauses:
        m = _NEG_TRIGGER.search(masked, start, end)
        if m:
            out.append((m.start(), end))
    return out


def _in(pos: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in ranges)


def _clause_of(pos: int, clauses: list[tuple[int, int]]) -> tuple[int, int]:
    return next(((a, b) for a, b in clauses if a <= pos < b), (0, 0))


def _decade_range(m: re.Match[str], prefix: str = "") -> tuple[int, int] | None:
    g = {k[len(prefix):]: v for k, v in m.groupdict().items() if k.startswith(prefix) and v}
    if "d4" in g:
        start = int(g["d4"])
    elif "d2" in g:
        d = int(g["d2"])
        start = 1900 + d if d >= 20 else 2000 + d
    elif "dw" in g:
        start = _DECADE_WORDS[g["dw"].lower()]
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


class Understander:
    """Parses messages against one catalogue's :class:`Vocabulary`. Cheap to call; build once."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self._mood_keys = {normalize(m): m for m in MOODS}

    @classmethod
    def from_items(cls, items: Sequence[Item]) -> Understander:
        return cls(Vocabulary.from_items(items))

    # -------------------------------------------------------------------------- entity spotting
    def _plausible_person(self, text: str, window: list[tuple[int, int, str]]) -> bool:
        """Names made of everyday words ("The Game", "Big Boy", "Too Short") need capitals."""
        keys = [t[2] for t in window]
        if all(k in FUNCTION_WORDS for k in keys) or (len(keys) == 1 and len(keys[0]) < 3):
            return False
        if self.vocab.person_min_words < 2:  # ingredients and the like are ordinary words by nature
            return True
        everyday = all(k in FUNCTION_WORDS or k in COMMON_WORDS or zipf(k) >= _EVERYDAY_ZIPF for k in keys)
        return not everyday or all(text[a:a + 1].isupper() for a, _, _ in window)

    def _phrase_spans(self, text: str) -> list[_Span]:
        """Genres, moods and people: word n-grams looked up in dicts, longest first, no overlaps."""
        tokens = [(m.start(), m.end(), fold_word(m.group(0))) for m in _WORDS.finditer(text)]
        spans: list[_Span] = []
        taken = [False] * len(tokens)
        max_n = max(self.vocab.max_phrase_words, 4)
        for n in range(max_n, 0, -1):
            for i in range(len(tokens) - n + 1):
                if any(taken[i:i + n]):
                    continue
                window = tokens[i:i + n]
                key = " ".join(t[2] for t in window)
                start, end = window[0][0], window[-1][1]
                span = None
                if key in self.vocab.genre_phrases:
                    span = _Span(start, end, "genre", self.vocab.genre_phrases[key])
                elif (n >= self.vocab.person_min_words and key in self.vocab.people
                      and self._plausible_person(text, window)):
                    span = _Span(start, end, "person", self.vocab.people[key])
                elif key in self._mood_keys:
                    span = _Span(start, end, "mood", self._mood_keys[key])
                if span:
                    spans.append(span)
                    for j in range(i, i + n):
                        taken[j] = True
        return spans

    def _year_spans(self, text: str, negated: list[tuple[int, int]]) -> tuple[list[_Span], Range | None]:
        spans: list[_Span] = []
        unions: list[tuple[int, int]] = []
        lows: list[int] = []
        highs: list[int] = []

        def free(a: int, b: int) -> bool:
            return not any(s.start < b and a < s.end for s in spans)

        for m in _RANGE_BETWEEN.finditer(text):
            a, b = (int(m["a"]), int(m["b"])) if m["a"] else (int(m["c"]), int(m["d"]))
            spans.append(_Span(m.start(), m.end(), "year", (min(a, b), max(a, b))))
            unions.append((min(a, b), max(a, b)))
        for m in _BEFORE.finditer(text):
            if not free(m.start(), m.end()):
                continue
            op = m["op"].lower()
            if m["y"]:
                year = int(m["y"])
                limit = year if op in {"until", "till", "up to", "through"} else year - 1
            else:
                dec = _decade_range(m, "b_")
                if dec is None:
                    continue
                limit = dec[1] if op in {"until", "till", "up to", "through"} else dec[0] - 1
            spans.append(_Span(m.start(), m.end(), "year", None))
            if _in(m.start(), negated):  # "nothing before 1980": 1980 or later
                lows.append(limit + 1)
            else:
                highs.append(limit)
        for m in _AFTER.finditer(text):
            if not free(m.start(), m.end()):
                continue
            op = m["op"].lower()
            negd = _in(m.start(), negated)
            if m["y"]:
                year = int(m["y"])
                if op == "from" and not m["on"]:
                    if not negd:
                        unions.append((year, year))
                    spans.append(_Span(m.start(), m.end(), "year", None))
                    continue
                limit = year + 1 if op in {"after", "newer than", "later than", "post"} else year
            else:
                dec = _decade_range(m, "a_")
                if dec is None:
                    continue
                if op == "from" and not m["on2"]:
                    if not negd:
                        unions.append(dec)
                    spans.append(_Span(m.start(), m.end(), "year", None))
                    continue
                limit = dec[1] + 1 if op in {"after", "post", "newer than", "later than"} else dec[0]
            spans.append(_Span(m.start(), m.end(), "year", None))
            (highs if negd else lows).append(limit - 1 if negd else limit)
        for m in _DECADE_RE.finditer(text):
            if not free(m.start(), m.end()):
                continue
            dec = _decade_range(m)
            if dec is None:
                continue
            spans.append(_Span(m.start(), m.end(), "year", dec))
            if not _in(m.start(), negated):
                unions.append(dec)
        for m in _YEAR_RE.finditer(text):
            if not free(m.start("y"), m.end("y")):
                continue
            y = int(m["y"])
            spans.append(_Span(m.start("y"), m.end("y"), "year", (y, y)))
            if not _in(m.start("y"), negated):
                unions.append((y, y))
        yr = self.vocab.year_range
        for m in _OLD_RE.finditer(text):
            if free(m.start(), m.end()) and not _in(m.start(), negated):
                spans.append(_Span(m.start(), m.end(), "year", None))
                highs.append(1979)
        for m in _RECENT_RE.finditer(text):
            if free(m.start(), m.end()) and not _in(m.start(), negated):
                spans.append(_Span(m.start(), m.end(), "year", None))
                lows.append((yr[1] if yr else 2020) - 5)

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

    def _fact_spans(self, text: str) -> tuple[list[_Span], dict[str, Range]]:
        spans: list[_Span] = []
        facts: dict[str, tuple[float | None, float | None]] = {}
        for m in _FACT_RE.finditer(text):
            value, unit = float(m["n"]), (m["unit"] or "").lower()
            first = unit.split()[0] if unit else ""
            name: str | None = None
            if first in _DURATION_UNITS:
                name = self.vocab.duration_fact()
                value *= _DURATION_UNITS[first]
            elif unit:
                name = self.vocab.unit_fact(unit)
            if not name:
                continue
            lower = m["op"].lower() in _LOWER_OPS
            lo, hi = facts.get(name, (None, None))
            facts[name] = (value, hi) if lower else (lo, value)
            spans.append(_Span(m.start(), m.end(), "fact", name))
        for m in _RATED_RE.finditer(text):
            if any(s.start < m.end() and m.start() < s.end for s in spans):
                continue
            value = float(m["n"])
            name = self.vocab.rating_fact(value, bool(m["pct"]))
            if not name:
                continue
            op = (m["op"] or "at least").lower()
            lo, hi = facts.get(name, (None, None))
            facts[name] = (value, hi) if op in _LOWER_OPS or op == "at least" else (lo, value)
            spans.append(_Span(m.start(), m.end(), "fact", name))
        return spans, {k: Range(lo, hi) for k, (lo, hi) in facts.items()}

    # --------------------------------------------------------------------------------- parse
    def parse(self, text: str, state: SessionState | None = None) -> Understanding:
        """Understand ``text``; ``state`` (optional) resolves "the second one" / "it" to shown items."""
        u = Understanding(text=text)
        if not text or not text.strip():
            return u
        clauses = _clauses(text)
        negated = _negated_ranges(text, clauses)
        last = list(state.last_recommendations) if state is not None else []

        # titles first, then people/genres/moods outside them (a title containing a name wins, a
        # one-word title inside a name loses: "Tom Cruise" is not the film "Cruise")
        title_spans = [_Span(s, e, "title", (item_id, score))
                       for (s, e), item_id, score in self.vocab.titles.find_mentions(text, expected_ids=last)]
        phrase_spans = self._phrase_spans(text)
        people = [p for p in phrase_spans if p.kind == "person"]
        title_spans = [t for t in title_spans
                       if not any(p.start <= t.start and t.end <= p.end for p in people)]
        phrase_spans = [p for p in phrase_spans if not any(p.overlaps(t) for t in title_spans)]
        masked = list(text)  # titles blanked out: "2012" the film is not a year
        for t in title_spans:
            masked[t.start:t.end] = " " * (t.end - t.start)
        masked_text = "".join(masked)
        year_spans, u.year = self._year_spans(masked_text, negated)
        fact_spans, u.facts = self._fact_spans(masked_text)
        u.is_question = "?" in text or bool(_QUESTION_START.match(text))
        u.asks_for_recommendation = bool(_REQUEST.search(text))

        for span in phrase_spans:
            # negated ("no horror") or judged right after it ("horror is not my thing", "westerns bore me")
            _, b = _clause_of(span.start, clauses)
            after = _NEG_EXCEPTIONS.sub(" ", text[span.end:b].split(",")[0])
            neg = _in(span.start, negated) or bool(_NEGATIVE.search(after))
            if span.kind == "genre":
                _add(u.unwanted_genres if neg else u.genres, span.value)
            elif span.kind == "person":
                _add(u.unwanted_people if neg else u.people, [span.value])
            elif span.kind == "mood":
                _add(u.unwanted_moods if neg else u.moods, [span.value])
        # a thing both wanted and unwanted in one message: the negation wins
        u.genres = [g for g in u.genres if g not in u.unwanted_genres]
        u.people = [p for p in u.people if p not in u.unwanted_people]

        # titles: feedback on shown items, or taste statements, or a question about one
        about: list[str] = []
        for span in title_spans:
            item_id, _score = span.value
            alternatives = self.vocab.titles.alternatives(item_id)
            if alternatives:
                u.ambiguous[item_id] = alternatives
            kind = self._title_sentiment(text, span, clauses, negated)
            if item_id in last and kind in ("like", "dislike", "seen"):
                fb = Feedback(kind, item_id)  # type: ignore[arg-type]
                if fb not in u.feedback:
                    u.feedback.append(fb)
            if kind == "like":
                _add(u.liked_ids, [item_id])
            elif kind == "dislike":
                _add(u.disliked_ids, [item_id])
            elif kind == "seen":
                _add(u.seen_ids, [item_id])
            else:
                about.append(item_id)

        # references to the last recommendations: "the second one", "seen it", "none of them"
        if last:
            self._reference_feedback(text, clauses, negated, last, u, bool(title_spans))

        # intent
        if u.feedback:
            u.intent = "feedback"
        elif u.is_question and not u.asks_for_recommendation and (about or self._question_target(text, last)):
            u.intent = "ask_about"
            u.about_id = about[0] if about else self._question_target(text, last)
        elif about and not u.is_question:
            # a bare title with no sentiment ("Heat", answering "a film you liked?") is a liked example
            _add(u.liked_ids, about)
            u.intent = "recommend"
        else:
            wants = u.asks_for_recommendation or u.has_preferences() or bool(_DESIRE.search(text))
            u.intent = "recommend" if wants else "chitchat"

        if u.intent != "ask_about":
            spans = [*title_spans, *phrase_spans, *year_spans, *fact_spans]
            u.wishes = self._wishes(text, clauses, negated, spans)
        if u.wishes and u.intent == "chitchat":
            u.intent = "recommend"
        return u

    def _title_sentiment(self, text: str, span: _Span, clauses: list[tuple[int, int]],
                         negated: list[tuple[int, int]]) -> str | None:
        """like | dislike | seen | None for a title mention, from its clause."""
        if _in(span.start, negated):
            return "dislike"
        a, b = _clause_of(span.start, clauses)
        if text[b:b + 1] == "?" or _QUESTION_START.match(text[a:b]):
            return None  # "Is Heat any good?", "Have you seen Alien?": a question, not a verdict
        clause = text[a:b]
        before, after = text[a:span.start], text[span.end:b]
        if _NEGATIVE.search(after) or _NEGATIVE.search(before):
            return "dislike"
        if _NEG_TRIGGER.search(_NEG_EXCEPTIONS.sub(" ", after)) and _POSITIVE.search(after):
            return "dislike"  # "Heat wasn't good"
        if _SIMILAR.search(before) or _POSITIVE.search(before) or _POSITIVE.search(after):
            return "like"
        if _SEEN.search(clause):
            return "seen"
        return None

    @staticmethod
    def _question_target(text: str, last: list[str]) -> str | None:
        m = _REF_ORDINAL.search(text)
        if m and last:
            idx = _ref_index(m, len(last))
            return last[idx] if idx is not None else None
        if len(last) == 1 and _REF_PRONOUN.search(text):
            return last[0]
        return None

    @staticmethod
    def _reference_feedback(text: str, clauses: list[tuple[int, int]], negated: list[tuple[int, int]],
                            last: list[str], u: Understanding, titles_named: bool) -> None:
        """Feedback on shown items named by position ("the second one"), "all/none of them", or "it"."""

        def verdict(segment: str, neg: bool, none_of: bool) -> FeedbackKind | None:
            if none_of:
                return None if _SEEN.search(segment) else "dislike"
            if _SEEN.search(segment):
                return None if neg else "seen"
            if _NEGATIVE.search(segment) or (neg and _POSITIVE.search(segment)):
                return "dislike"
            if _POSITIVE.search(segment) or _SIMILAR.search(segment):
                return "like"
            return None

        for a, b in clauses:
            clause = text[a:b]
            neg_clause = any(a <= n < b for n, _ in negated)
            none_of = bool(_REF_NONE.search(clause))
            if _REF_ALL.search(clause) or none_of:
                scoped = [(list(last), clause)]
            else:
                refs = [(m, _ref_index(m, len(last))) for m in _REF_ORDINAL.finditer(clause)]
                refs = [(m, i) for m, i in refs if i is not None]
                # each reference owns the text up to the next one: "seen the first, the second looks great"
                scoped = [([last[i]], clause[(0 if k == 0 else m.start()):
                                             (refs[k + 1][0].start() if k + 1 < len(refs) else len(clause))])
                          for k, (m, i) in enumerate(refs)]
                if not scoped and not titles_named and len(last) == 1 and _REF_PRONOUN.search(clause):
                    scoped = [([last[0]], clause)]
            for targets, segment in scoped:
                kind = verdict(segment, neg_clause, none_of) or verdict(clause, neg_clause, none_of)
                if kind is None:
                    continue
                for item_id in targets:
                    fb = Feedback(kind, item_id)
                    if fb not in u.feedback:
                        u.feedback.append(fb)
                    target = {"like": u.liked_ids, "dislike": u.disliked_ids, "seen": u.seen_ids}[kind]
                    _add(target, [item_id])

    def _wishes(self, text: str, clauses: list[tuple[int, int]], negated: list[tuple[int, int]],
                spans: list[_Span]) -> list[str]:
        """Free text worth searching for: each clause up to its negation, titles cut out, kept when
        it has a content word that is not filler and not already understood (a genre, a person…)."""
        titles = [(s.start, s.end) for s in spans if s.kind == "title"]
        entity_words = {w for s in spans for w in normalize(text[s.start:s.end]).split()}
        parts: list[str] = []
        for a, b in clauses:
            end = min([n_a for n_a, _ in negated if a <= n_a < b], default=b)
            pieces, pos = [], a
            for t_a, t_b in titles:
                if a <= t_a < end:
                    pieces.append(text[pos:t_a])
                    pos = max(pos, t_b)
            pieces.append(text[pos:end])
            part = " ".join(" ".join(pieces).split())
            part = re.sub(r"\s*([,;])(?:\s*[,;])+", r"\1", part).strip(" ,.;:!?-")
            content = [w for w in normalize(part).split()
                       if w not in _FILLER and w not in entity_words and not w.isdigit() and len(w) > 2]
            if len(content) >= 2 or (content and _WISH_CUE.search(part)):
                parts.append(part)
        wish = ", ".join(parts)
        return [wish[:200]] if wish else []


def _ref_index(m: re.Match[str], n: int) -> int | None:
    if m.group("ord"):
        word = m.group("ord").lower()
        idx = n - 1 if word == "last" else _ORDINALS[word]
    else:
        idx = int(m.group("num") or m.group("num2")) - 1
    return idx if 0 <= idx < n else None


def understand(text: str, vocab: Vocabulary, state: SessionState | None = None) -> Understanding:
    """Shorthand for ``Understander(vocab).parse(text, state)``."""
    return Understander(vocab).parse(text, state)


# ------------------------------------------------------------------------------------ LLM output
class LLMPreferences(BaseModel):
    """What the ``understand`` prompt asks the LLM for. Unknown keys are ignored, wrong types rejected."""

    model_config = ConfigDict(extra="ignore")

    intent: Intent = Field("recommend", description="what the person wants from this message")
    liked_titles: list[str] = Field(default_factory=list, description="titles they like or want similar to")
    disliked_titles: list[str] = Field(default_factory=list, description="titles they dislike")
    wanted_genres: list[str] = Field(default_factory=list, description="genres they want")
    unwanted_genres: list[str] = Field(default_factory=list, description="genres they do not want")
    wanted_people: list[str] = Field(default_factory=list, description="actors/directors they want")
    unwanted_people: list[str] = Field(default_factory=list, description="actors/directors they avoid")
    year_min: int | None = Field(None, description="earliest release year, or null")
    year_max: int | None = Field(None, description="latest release year, or null")
    wishes: list[str] = Field(default_factory=list, description="other wishes in a few words (plot, mood)")
    about_title: str | None = Field(None, description="the title a question is about, or null")

    @field_validator("liked_titles", "disliked_titles", "wanted_genres", "unwanted_genres", "wanted_people",
                     "unwanted_people", "wishes", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        if v is None:
            return []
        if isinstance(v, str):
            return [v] if v.strip() else []
        return v

    @field_validator("year_min", "year_max", mode="before")
    @classmethod
    def _year(cls, v: Any) -> Any:
        if v in (None, "", "null"):
            return None
        return v


def llm_json_schema() -> str:
    """The JSON schema of :class:`LLMPreferences` for the ``understand`` prompt: compact (no titles, no
    spaces), because every prompt token costs time on a CPU. For grammar-constrained decoding pass
    ``LLMPreferences.model_json_schema()`` as ``GenerationConfig.json_schema``."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "title"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    schema = strip(LLMPreferences.model_json_schema())
    schema.pop("description", None)  # the class docstring is for programmers
    return json.dumps(schema, separators=(",", ":"))


_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_llm_json(raw: str) -> dict[str, Any]:
    """The first JSON object in an LLM reply (code fences and chatter around it are ignored)."""
    m = _JSON_OBJECT.search(raw)
    if not m:
        raise ValueError(f"no JSON object in LLM output: {raw[:120]!r}")
    text = m.group(0)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        # a reply cut off or followed by a second object: try the shortest balanced prefix
        depth, end = 0, None
        in_str = esc = False
        for i, ch in enumerate(text):
            if in_str:
                esc = ch == "\\" and not esc
                if ch == '"' and not esc:
                    in_str = False
                continue
            if ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    end = i + 1
                    break
        if end is None:
            raise ValueError(f"unbalanced JSON in LLM output: {raw[:120]!r}") from None
        data = json.loads(text[:end])
    if not isinstance(data, dict):
        raise ValueError("LLM output is not a JSON object")
    return data


def _grounded(phrase: str, message: str, threshold: float = 85.0) -> bool:
    """Whether ``phrase`` (a title or name from the LLM) appears, roughly, in the message itself."""
    p, m = normalize(phrase), normalize(message)
    if not p:
        return False
    if p in m:
        return True
    return fuzz.partial_ratio(p, m) >= threshold and len(p) >= 4


_TITLE_YEAR = re.compile(r"\(\s*(?:18|19|20)\d\d\s*\)")


def merge_llm_output(understanding: Understanding, data: dict[str, Any] | str, vocab: Vocabulary,
                     state: SessionState | None = None) -> Understanding:
    """A copy of ``understanding`` with what the LLM found that resolves to the catalogue.

    Rules: the deterministic parse wins on conflicts (a title it saw as disliked stays disliked);
    titles and people must appear in the message and resolve to the catalogue; genres must be
    catalogue genres (or synonyms); years must be plausible; wishes that carry a negation are
    dropped (dislikes are never query text). The LLM's intent is used only when the rules found
    nothing firmer (no feedback, no question about an item). Invalid output is logged and recorded
    in ``llm_error``; the understanding is then returned unchanged.
    """
    u = replace(understanding, liked_ids=list(understanding.liked_ids),
                disliked_ids=list(understanding.disliked_ids), seen_ids=list(understanding.seen_ids),
                genres=list(understanding.genres), unwanted_genres=list(understanding.unwanted_genres),
                people=list(understanding.people), unwanted_people=list(understanding.unwanted_people),
                facts=dict(understanding.facts), moods=list(understanding.moods),
                unwanted_moods=list(understanding.unwanted_moods), wishes=list(understanding.wishes),
                feedback=list(understanding.feedback), ambiguous=dict(understanding.ambiguous))
    try:
        raw = parse_llm_json(data) if isinstance(data, str) else data
        prefs = LLMPreferences.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        log.warning("ignoring invalid LLM understanding output (%s)", type(exc).__name__)
        log.debug("invalid LLM understanding output: %s", exc)  # may quote the user's words
        u.llm_error = str(exc)[:500]
        return u
    u.llm_used = True
    text = u.text

    def titles(names: list[str]) -> list[str]:
        out = []
        for name in names[:10]:
            if not isinstance(name, str) or not _grounded(name, text):
                continue
            match = vocab.titles.resolve(name)
            if match is not None:
                out.append(match.item_id)
        return out

    liked, disliked = titles(prefs.liked_titles), titles(prefs.disliked_titles)
    _add(u.liked_ids, [i for i in liked if i not in u.disliked_ids])
    _add(u.disliked_ids, [i for i in disliked if i not in u.liked_ids])

    # Small models like to list every genre they were shown: a list longer than MAX_LLM_GENRES is noise.
    # Unwanted genres are hard filters, so they must be named in the message; a wanted genre may be
    # inferred ("tearjerkers" -> drama) only when it is the model's single guess.
    def genres(names: list[str], *, allow_one_inferred: bool) -> list[str]:
        names = [n for n in names if isinstance(n, str) and n.strip()]
        if len(names) > MAX_LLM_GENRES:
            return []
        resolved = [g for n in names for g in vocab.resolve_genre(n)]
        grounded = [g for g in resolved if vocab.genre_named_in(g, text)]
        if not grounded and allow_one_inferred and len(resolved) == 1:
            return resolved
        return grounded

    wanted = genres(prefs.wanted_genres, allow_one_inferred=True)
    _add(u.genres, [g for g in wanted if g not in u.unwanted_genres])
    _add(u.unwanted_genres, [g for g in genres(prefs.unwanted_genres, allow_one_inferred=False)
                             if g not in u.genres])

    def people(names: list[str]) -> list[str]:
        out = []
        for name in names[:10]:
            if isinstance(name, str) and _grounded(name, text):
                resolved = vocab.resolve_person(name)
                if resolved:
                    out.append(resolved)
        return out

    _add(u.people, [p for p in people(prefs.wanted_people) if p not in u.unwanted_people])
    _add(u.unwanted_people, [p for p in people(prefs.unwanted_people) if p not in u.people])

    if u.year is None:
        lo, hi = prefs.year_min, prefs.year_max
        # "like The Babadook (2014)" names a film, not a wish for films from 2014 on: a year the message
        # gives only in parentheses after a title is no year preference (small models copy it anyway)
        without_title_years = _TITLE_YEAR.sub(" ", text)
        ok = all(v is None or (_MIN_YEAR <= v <= _MAX_YEAR
                               and not (str(v) in text and str(v) not in without_title_years)) for v in (lo, hi))
        if ok and (lo is not None or hi is not None) and (lo is None or hi is None or lo <= hi):
            u.year = Range(float(lo) if lo is not None else None, float(hi) if hi is not None else None)

    neg_words = re.compile(_W + r"(?:no|not|without|never|hate|hated|dislike|avoid|except|nothing)" + _E
                           + r"|n['’]t" + _E, re.IGNORECASE)
    for wish in prefs.wishes[:5]:
        wish = " ".join(str(wish).split())[:200]
        if wish and not neg_words.search(wish) and wish not in u.wishes and not any(
                normalize(wish) == normalize(w) for w in u.wishes):
            u.wishes.append(wish)

    last = list(state.last_recommendations) if state is not None else []
    for kind, ids in (("like", liked), ("dislike", disliked)):
        for item_id in ids:
            fb = Feedback(kind, item_id)  # type: ignore[arg-type]
            kept = u.liked_ids if kind == "like" else u.disliked_ids
            if item_id in last and fb not in u.feedback and item_id in kept:
                u.feedback.append(fb)

    if u.about_id is None and prefs.about_title and _grounded(prefs.about_title, text):
        match = vocab.titles.resolve(prefs.about_title)
        if match is not None:
            u.about_id = match.item_id
    if u.feedback:
        u.intent = "feedback"
    elif u.intent != "ask_about":
        if prefs.intent == "ask_about" and u.about_id is not None:
            u.intent = "ask_about"
        elif u.has_preferences() or u.asks_for_recommendation or prefs.intent == "recommend":
            u.intent = "recommend"
        else:
            u.intent = "chitchat"
    return u
