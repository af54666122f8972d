"""Find catalogue titles in what people type: "Heat (1995)", "the babadook", "'Up'", "babadok".

Two entry points:

- :meth:`TitleIndex.resolve` maps one mention ("Heat (1995)", "matrix", "lord of the rigns") to an
  item: exact "Title (Year)" first, then the normalised title (case, punctuation, accents, a leading
  "The", "Matrix, The"), then a title without its subtitle ("Star Wars" -> "Star Wars: Episode IV…"),
  then fuzzy matching (rapidfuzz) over candidates that share a word with the mention.
- :meth:`TitleIndex.find_mentions` finds titles inside free text ("I loved the babadook and heat").
  Every window of up to ``max_title_tokens`` words is looked up in a dict (no scan of the catalogue
  per word), misspelt words are corrected against the title vocabulary once per word, and multi-word
  windows may also match fuzzily among titles that share their first and last word.

Free text is full of film titles that are ordinary words ("It", "Up", "Her", "Heat", "Yes", "Love"),
so a window is graded by how risky it is before it counts:

- *confident* — a distinctive title ("babadook", "pulp fiction"): accepted.
- *common* — one ordinary English word (by its frequency in pyspellchecker's English word counts:
  "weekend", "nightmares", "heat"), a word many titles share, a very short word or a number, or
  several everyday words ("stand by me", "home alone"): accepted only when quoted, capitalised in
  mid-sentence in text whose capitalisation means something, the whole message ("Heat"), followed by
  its year, or listed with a confident title ("the babadook and heat"). "The X" written with its
  article is confident when X is a rarer word ("the godfather", "the matrix").
- *function word* — pronouns and the like ("it", "her", "up", "them"): quoted, or capitalised in
  mid-sentence ("I watched Her twice").
- *reserved* — words the caller says mean something else (genre words like "horror", feedback words
  like "yes"): only when quoted.

When several items share a title, the most popular one is chosen (then the most recent) unless a year
is given ("Heat (1986)", "Heat 1986"); :meth:`TitleIndex.alternatives` lists the others so the bot can
ask which one was meant.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz import fuzz, process
from spellchecker import SpellChecker

from retrieval.schema import Item

log = logging.getLogger(__name__)

# A word: letters/digits, with inner apostrophes ("schindler's", "don't").
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_LABEL_RE = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
_QUOTE_RE = re.compile(r"\"([^\"\n]+)\"|“([^”\n]+)”|(?<!\w)'([^'\n]+?)'(?!\w)|‘([^’\n]+)’|\*([^*\n]+)\*")
_SUBTITLE_RE = re.compile(r"\s*(?::| - | – | — )\s*")
_TRAILING_ARTICLE_RE = re.compile(r"^(?P<rest>.+),\s*(?P<article>the|a|an)$", re.IGNORECASE)
_YEAR_AFTER_RE = re.compile(r"^\s*(?:\(\s*(\d{4})\s*\)|,?\s*(?:from\s+)?(\d{4})\b)")
_JOINER_RE = re.compile(r"^\s*(?:,|;|/|&|\+|and|or|plus|as well as|,\s*and|,\s*or|and also)\s*$",
                        re.IGNORECASE)
# "a film set in New York": a place, whatever the catalogue says
_PLACE_BEFORE_RE = re.compile(r"(?:set|takes? place|located|living|lives?|based|filmed|shot|happens?)\s+"
                              r"(?:in|at)\s+(?:the\s+)?$", re.IGNORECASE)
_SENTENCE_END_RE = re.compile(r"[.!?:;\n]\s*[\"'“‘(]*\s*$")

# Function words, pronouns, auxiliaries and interjections: titles made only of these are almost never
# meant as titles unless quoted or capitalised mid-sentence ("It", "Her", "Up", "Them", "Yes").
FUNCTION_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing don't down during each few for from further had has
have having he her here hers herself him himself his how i i'm i've i'd if in into is it it's its
itself just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there these they
this those through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves yes yeah yep nope ok okay hi hello hey thanks thank
please sure maybe also again still ever never always something anything nothing everything someone
anyone everyone one ones us let lets get got go going went gone come came see saw seen watch watched
say said like liked love loved want wanted need know think thought make made take took give gave tell
told look looked find found really well much many lot lots bit kind sort thing things stuff way
""".split())

# Ordinary words that are also titles: a lone one needs quotes or mid-sentence capitals.
COMMON_WORDS = frozenset("""
heat home big red blue green black white gold time life man woman men women boy boys girl girls kid
kids baby family friend friends love good bad best better new old young last first next night day days
morning evening tonight today tomorrow week year years world house room door road city town country
water fire ice air earth sky sun moon star stars light dark dead alive death war peace game games play
money power hero heroes king queen father mother brother sister son daughter wife husband school work
job story stories song music dance party fun funny happy sad nice great little small long short high
low hot cold fast slow hard easy free run running drive driving crash fall rush shine fly fear rage
hope faith trust truth lies secret secrets signs taken taxi hunger rain storm snow wind wild safe
gone lost found alone together heaven hell paradise dream dreams fame glory honor justice revenge
nine ten twelve hundred thousand million happiness beauty beast monster monsters ghost ghosts magic
action comedy drama horror thriller romance mystery western musical documentary animation adventure
fantasy crime sport sports history biography science fiction family war movie movies film films show
shows series recommend recommendation suggestion suggestions something else another more less
""".split())

_SHORT_WORD_LEN = 3  # words this short are "common" whatever else is said about them
_COMMON_ZIPF = 3.6  # a lone word at least this frequent in English is "common" ("nightmares", "weekend")
_COMMON_ZIPF_WITH_ARTICLE = 4.0  # "the godfather" / "the matrix" are titles, "the weekend" is not
_COMMON_ZIPF_IN_PHRASE = 5.0  # a phrase of such everyday words is "common" ("stand by me", "home alone")
_COMMON_DF = 5  # a word in this many titles or more is "common"
_MIN_CORRECT_LEN = 5  # only words at least this long are spell-corrected
_CORRECT_CUTOFF = 85.0


@lru_cache(maxsize=1)
def _english_counts() -> tuple[dict[str, int], int]:
    """Word counts of pyspellchecker's English dictionary (subtitle text, ~1.6 billion words)."""
    wf = SpellChecker(language="en", distance=1).word_frequency
    return dict(wf.dictionary), int(wf.total_words)


def zipf(word: str) -> float:
    """How common an English word is, on the Zipf scale: log10 of uses per billion words.

    About 7 for "the", 5-6 for everyday words ("stand", "home"), 4-5 for ordinary ones ("weekend",
    "heat"), about 3 for rarer ones ("godfather", "matrix"), 0 for words it has never seen ("babadook").
    """
    counts, total = _english_counts()
    n = counts.get(word, 0)
    return math.log10(n * 1e9 / total) if n else 0.0


def fold(text: str) -> str:
    """Casefold and strip accents: "Amélie" -> "amelie", "Æon" -> "æon"."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def fold_word(word: str) -> str:
    """One word as it is indexed: folded, without apostrophes ("Schindler's" -> "schindlers")."""
    return fold(word).replace("'", "")


def words(text: str) -> list[str]:
    """The folded words of ``text``; "&" counts as "and"."""
    return [fold_word(w) for w in _WORD_RE.findall(text.replace("&", " and "))]


def normalize(text: str) -> str:
    """Words joined by single spaces: "Ocean's Eleven!" -> "oceans eleven"."""
    return " ".join(words(text))


def title_key(title: str) -> str:
    """The lookup key of a title: normalised, "Matrix, The" -> "matrix", leading "the" dropped."""
    m = _TRAILING_ARTICLE_RE.match(title.strip())
    if m:
        title = f"{m['article']} {m['rest']}"
    ws = words(title)
    if len(ws) > 1 and ws[0] == "the":
        ws = ws[1:]
    return " ".join(ws)


def split_label(text: str) -> tuple[str, int | None]:
    """ "Heat (1995)" -> ("Heat", 1995); "Heat" -> ("Heat", None)."""
    m = _LABEL_RE.match(text.strip())
    if m and m["title"]:
        return m["title"], int(m["year"])
    return text.strip(), None


class Mention(NamedTuple):
    """A title found in text: ``text[span[0]:span[1]]`` names item ``item_id`` with ``score`` (0-100)."""

    span: tuple[int, int]
    item_id: str
    score: float


@dataclass(frozen=True)
class TitleMatch:
    """The result of :meth:`TitleIndex.resolve`."""

    item_id: str
    label: str
    score: float
    alternatives: tuple[str, ...] = ()  # other items with the same title (e.g. remakes)

    @property
    def ambiguous(self) -> bool:
        return bool(self.alternatives)


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    raw: str
    key: str  # folded


@dataclass
class _Candidate:
    start_tok: int
    end_tok: int  # exclusive
    ids: list[str]
    score: float
    risk: int
    quoted: bool = False

    @property
    def length(self) -> int:
        return self.end_tok - self.start_tok


class TitleIndex:
    """Resolve mentions of catalogue titles to item ids. Build once per catalogue; lookups are cheap."""

    def __init__(self, items: Iterable[Item], *, reserved_words: Iterable[str] = (),
                 fuzzy_threshold: float = 88.0, max_title_tokens: int = 10) -> None:
        """``reserved_words``: words and phrases that mean something else in a message (genre names,
        moods, feedback words). A title made only of reserved words counts only when quoted; a title
        equal to a reserved phrase ("love story") is treated as common."""
        self.items: dict[str, Item] = {}
        self._exact: dict[str, list[str]] = defaultdict(list)  # title_key -> ids
        self._compact: dict[str, list[str]] = defaultdict(list)  # key without spaces -> ids
        self._alias: dict[str, list[str]] = defaultdict(list)  # title without subtitle -> ids
        self._raw: dict[str, list[str]] = defaultdict(list)  # folded raw title -> ids
        self._full: dict[str, list[str]] = defaultdict(list)  # normalised title, article kept -> ids
        self._postings: dict[str, set[str]] = defaultdict(set)  # word -> keys containing it
        self._key_len: dict[str, int] = {}
        self.fuzzy_threshold = fuzzy_threshold
        self.max_title_tokens = max_title_tokens
        for item in items:
            self._add(item)
        reserved = [normalize(p) for p in reserved_words]
        self.reserved = frozenset(p for p in reserved if p and " " not in p)
        self.reserved_phrases = frozenset(p for p in reserved if " " in p)
        self._df = {w: len(keys) for w, keys in self._postings.items()}
        _english_counts()  # load the word counts now rather than on the first message
        self._vocab = [w for w in self._postings if len(w) >= _MIN_CORRECT_LEN - 1]
        self._corrections: dict[str, str | None] = {}
        log.debug("title index: %d items, %d distinct titles, %d words", len(self.items), len(self._exact),
                  len(self._postings))

    def _add(self, item: Item) -> None:
        if item.id in self.items:
            raise ValueError(f"duplicate item id {item.id!r} ({item.label})")
        self.items[item.id] = item
        key = title_key(item.title)
        if not key:
            return
        self._exact[key].append(item.id)
        self._raw[fold(item.title).strip()].append(item.id)
        self._full[normalize(item.title)].append(item.id)
        self._compact[key.replace(" ", "")].append(item.id)
        self._key_len[key] = len(key.split())
        for w in set(key.split()):
            self._postings[w].add(key)
        parts = _SUBTITLE_RE.split(item.title, maxsplit=1)
        if len(parts) == 2:
            alias = title_key(parts[0])
            if alias and alias != key and len(alias.split()) >= 2:
                self._alias[alias].append(item.id)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.items

    def label(self, item_id: str) -> str:
        return self.items[item_id].label

    def alternatives(self, item_id: str) -> list[str]:
        """Other items with the same title (case, accents and punctuation aside), best first."""
        key = normalize(self.items[item_id].title)
        return [i for i in self._rank(self._full.get(key, [])) if i != item_id]

    # ------------------------------------------------------------------------------------ ranking
    def _rank(self, ids: Iterable[str], year: int | None = None) -> list[str]:
        """Most likely first: the given year (or the nearest), then popularity, then recency."""
        def sort_key(i: str) -> tuple[float, float, float]:
            it = self.items[i]
            distance = abs((it.year or 0) - year) if year is not None else 0
            return (distance, -(it.popularity or 0.0), -(it.year or 0))

        return sorted(dict.fromkeys(ids), key=sort_key)

    def _pick(self, ids: list[str], score: float, year: int | None) -> TitleMatch | None:
        if not ids:
            return None
        ranked = self._rank(ids, year)
        best = ranked[0]
        if year is not None and self.items[best].year != year:
            score -= 10 if self.items[best].year and abs(self.items[best].year - year) <= 1 else 25
        return TitleMatch(best, self.items[best].label, score, tuple(ranked[1:]))

    # ------------------------------------------------------------------------------------ resolve
    def resolve(self, mention: str, year: int | None = None,
                threshold: float | None = None) -> TitleMatch | None:
        """The item a mention names, or ``None`` below ``threshold`` (default ``fuzzy_threshold``)."""
        threshold = self.fuzzy_threshold if threshold is None else threshold
        title, label_year = split_label(mention)
        year = year if year is not None else label_year
        if not title:
            return None
        raw = fold(title).strip()
        key = title_key(title)
        for ids, score in ((self._raw.get(raw, []), 100.0), (self._full.get(normalize(title), []), 100.0),
                           (self._exact.get(key, []), 99.0),
                           (self._compact.get(key.replace(" ", ""), []), 97.0),
                           (self._alias.get(key, []), 92.0)):
            match = self._pick(ids, score, year)
            if match and match.score >= threshold:
                return match
        best = self._fuzzy(key, threshold)
        if best is None:
            return None
        key_hit, score = best
        match = self._pick(self._exact[key_hit], score, year)
        return match if match and match.score >= threshold else None

    def _fuzzy(self, key: str, threshold: float) -> tuple[str, float] | None:
        """Best title key by edit distance among keys sharing a (corrected) word with ``key``."""
        ws = [w for w in key.split() if w]
        if not ws or len(key) < 4:
            return None
        pool: set[str] = set()
        for w in sorted(set(ws), key=lambda w: self._df.get(w, 0)):
            fixed = w if w in self._postings else self._correct(w)
            if fixed is None or fixed in FUNCTION_WORDS:
                continue
            pool |= self._postings[fixed]
            if len(pool) > 2000:
                break
        if not pool:
            return None
        n = len(ws)
        choices = [k for k in pool if abs(self._key_len[k] - n) <= max(1, n // 3)]
        hit = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=threshold)
        return (hit[0], float(hit[1])) if hit else None

    def _correct(self, word: str) -> str | None:
        """A title word close to ``word`` (a likely typo), cached; ``None`` when there is none."""
        if word in self._corrections:
            return self._corrections[word]
        fixed = None
        if len(word) >= _MIN_CORRECT_LEN and word not in FUNCTION_WORDS and not word.isdigit():
            hit = process.extractOne(word, self._vocab, scorer=fuzz.ratio, score_cutoff=_CORRECT_CUTOFF)
            fixed = hit[0] if hit else None
        self._corrections[word] = fixed
        return fixed

    # ------------------------------------------------------------------------------- free text
    def _listed_common(self, k: str) -> bool:
        return (k in FUNCTION_WORDS or k in COMMON_WORDS or k in self.reserved or len(k) <= _SHORT_WORD_LEN
                or k.isdigit())

    def _risk(self, keys: list[str], with_article: bool = False) -> int:
        """0 confident, 1 common, 2 function words, 3 reserved (see the module docs).

        ``with_article``: the text said "the X" and the title is "The X"; a single word is then common
        only when it is an everyday word ("the weekend", "the heat"), not when it is a rarer one that
        many titles share ("the godfather").
        """
        content = [k for k in keys if k != "the"] or keys
        if all(k in self.reserved for k in content):
            return 3
        if all(k in FUNCTION_WORDS for k in content):
            return 2
        if " ".join(content) in self.reserved_phrases:
            return 1
        if len(content) == 1:
            k = content[0]
            if self._listed_common(k):
                return 1
            if with_article:
                return 1 if zipf(k) >= _COMMON_ZIPF_WITH_ARTICLE else 0
            return 1 if zipf(k) >= _COMMON_ZIPF or self._df.get(k, 0) >= _COMMON_DF else 0
        if all(self._listed_common(k) or zipf(k) >= _COMMON_ZIPF_IN_PHRASE for k in content):
            return 1
        return 0

    def find_mentions(self, text: str, expected_ids: Collection[str] = ()) -> list[Mention]:
        """Titles named in ``text``, in order, without overlaps; see the module docs for the rules.

        ``expected_ids``: items the person is likely to name (the ones just recommended); their titles
        count even when they are ordinary words ("Drive looks great"), unless reserved.
        """
        if not text or not text.strip():
            return []
        tokens = [_Token(m.start(), m.end(), m.group(0), fold_word(m.group(0)))
                  for m in _WORD_RE.finditer(text)]
        if not tokens:
            return []
        accepted: list[_Candidate] = []
        used = [False] * len(tokens)

        # 1. quoted titles: resolved as a whole, fuzzily, whatever their risk (except reserved words)
        for m in _QUOTE_RE.finditer(text):
            group = next(g for g in range(1, 6) if m.group(g) is not None)
            start, end = m.start(group), m.end(group)
            inside = [i for i, t in enumerate(tokens) if t.start >= start and t.end <= end]
            if not inside or any(used[i] for i in inside):
                continue
            match = self.resolve(m.group(group))
            if match is None:
                continue
            cand = _Candidate(inside[0], inside[-1] + 1, [match.item_id, *match.alternatives], match.score,
                              0, quoted=True)
            accepted.append(cand)
            for i in inside:
                used[i] = True

        # 2. every free window looked up exactly (and with typo-corrected words), then fuzzily
        informative = self._capitals_informative(text, tokens)
        expected = set(expected_ids)
        candidates: list[_Candidate] = []
        n = len(tokens)
        for i in range(n):
            if used[i]:
                continue
            for length in range(min(self.max_title_tokens, n - i), 0, -1):
                if used[i + length - 1]:
                    continue
                cand = self._window(tokens, i, length)
                if cand is not None:
                    hits = [x for x in cand.ids if x in expected]
                    if hits and cand.risk < 3:
                        cand.ids, cand.risk = hits, 0
                    candidates.append(cand)

        # 3. keep what passes the risk rules, longest and best first, without overlaps
        pending: list[_Candidate] = []
        candidates.sort(key=lambda c: (-c.length, -c.score, c.start_tok))
        for cand in candidates:
            if any(used[j] for j in range(cand.start_tok, cand.end_tok)):
                continue
            verdict = self._accept(cand, text, tokens, informative)
            if verdict is True:
                accepted.append(cand)
                for j in range(cand.start_tok, cand.end_tok):
                    used[j] = True
            elif verdict is None:
                pending.append(cand)

        # 4. common titles listed next to an accepted one: "the babadook and heat"
        changed = True
        while changed and pending:
            changed = False
            for cand in list(pending):
                if any(used[j] for j in range(cand.start_tok, cand.end_tok)):
                    pending.remove(cand)
                    continue
                if any(self._adjacent(text, tokens, cand, other) for other in accepted):
                    accepted.append(cand)
                    pending.remove(cand)
                    for j in range(cand.start_tok, cand.end_tok):
                        used[j] = True
                    changed = True

        mentions = [self._finish(text, tokens, c) for c in accepted]
        return sorted(mentions, key=lambda m: m.span)

    def _window(self, tokens: list[_Token], i: int, length: int) -> _Candidate | None:
        keys = [t.key for t in tokens[i:i + length]]
        lookup = keys[1:] if keys[0] == "the" and length > 1 else keys
        key = " ".join(lookup)
        full = self._full.get(" ".join(keys))  # the words as written, article included
        if full:
            with_article = keys[0] == "the" and length > 1
            return _Candidate(i, i + length, list(full), 100.0, self._risk(lookup, with_article))
        risk = self._risk(lookup)
        ids = self._exact.get(key)
        if ids:
            return _Candidate(i, i + length, list(ids), 99.0, risk)
        if length <= 3:
            ids = self._compact.get(key.replace(" ", ""))
            if ids:
                return _Candidate(i, i + length, list(ids), 96.0, risk)
        ids = self._alias.get(key)
        if ids and risk == 0:
            return _Candidate(i, i + length, list(ids), 92.0, risk)
        # typo-corrected words: "babadok" -> "babadook"
        fixed = [w if w in self._postings or w in FUNCTION_WORDS else (self._correct(w) or w) for w in lookup]
        if fixed != lookup:
            fixed_key = " ".join(fixed)
            ids = self._exact.get(fixed_key)
            if ids:
                score = float(fuzz.ratio(key, fixed_key))
                if score >= self.fuzzy_threshold and self._risk(fixed) == 0:
                    return _Candidate(i, i + length, list(ids), score, 0)
        # fuzzy multi-word: among titles sharing the first and last (corrected) word
        if len(lookup) >= 2 and risk == 0 and len(key) >= 8:
            first, last = fixed[0], fixed[-1]
            if first in FUNCTION_WORDS or last in FUNCTION_WORDS:
                return None
            a, b = self._postings.get(first), self._postings.get(last)
            if not a or not b:
                return None
            pool = a & b if len(a) <= len(b) else b & a
            choices = [k for k in pool if abs(self._key_len[k] - len(lookup)) <= 1]
            if choices:
                hit = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=self.fuzzy_threshold)
                if hit:
                    return _Candidate(i, i + length, list(self._exact[hit[0]]), float(hit[1]), 0)
        return None

    @staticmethod
    def _capitals_informative(text: str, tokens: list[_Token]) -> bool:
        """False for all-lowercase, ALL-CAPS or Title Cased Text, where capitals say nothing."""
        letters = [t for t in tokens if t.raw[:1].isalpha()]
        if not letters or text.islower() or text.isupper():
            return False
        inner = [t for k, t in enumerate(letters) if k > 0 and t.raw != "I"]
        if not inner:
            return True
        capitalised = sum(1 for t in inner if t.raw[0].isupper())
        return capitalised / len(inner) < 0.6

    @staticmethod
    def _sentence_initial(text: str, token: _Token) -> bool:
        before = text[:token.start]
        return not before.strip() or bool(_SENTENCE_END_RE.search(before))

    def _accept(self, cand: _Candidate, text: str, tokens: list[_Token], informative: bool) -> bool | None:
        """True: accept; None: accept only next to an accepted title; False: reject."""
        window = tokens[cand.start_tok:cand.end_tok]
        if cand.risk == 3 or _PLACE_BEFORE_RE.search(text[:window[0].start]):
            return False
        if cand.risk == 0:
            return True
        content = [t for t in window if t.key != "the"] or window
        capitalised = (informative and content[0].raw[0].isupper()
                       and not self._sentence_initial(text, window[0]))
        if cand.risk == 2:
            return (capitalised and all(t.raw[0].isupper() for t in content)
                    and content[0].key not in {"i", "a"})
        # risk 1: common words
        if capitalised:
            return True
        rest = (text[:window[0].start] + text[window[-1].end:]).strip(" \t\n.!?,;:\"'“”‘’()")
        if not rest:
            return True  # the whole message is the title
        if _YEAR_AFTER_RE.match(text[window[-1].end:]):
            return True
        return None

    @staticmethod
    def _adjacent(text: str, tokens: list[_Token], a: _Candidate, b: _Candidate) -> bool:
        if a.end_tok <= b.start_tok:
            between = text[tokens[a.end_tok - 1].end:tokens[b.start_tok].start]
        elif b.end_tok <= a.start_tok:
            between = text[tokens[b.end_tok - 1].end:tokens[a.start_tok].start]
        else:
            return False
        between = between.strip(" \"'“”‘’")
        return bool(_JOINER_RE.match(between))

    def _finish(self, text: str, tokens: list[_Token], cand: _Candidate) -> Mention:
        start, end = tokens[cand.start_tok].start, tokens[cand.end_tok - 1].end
        if cand.quoted:
            # include the quote marks in the span
            if start > 0 and text[start - 1] in "\"'“‘*":
                start -= 1
            if end < len(text) and text[end] in "\"'”’*":
                end += 1
        year = None
        m = _YEAR_AFTER_RE.match(text[end:])
        if m:
            year = int(m.group(1) or m.group(2))
        ranked = self._rank(cand.ids, year)
        best = ranked[0]
        if year is not None and self.items[best].year == year:
            end += m.end()
        return Mention((start, end), best, round(cand.score, 1))
