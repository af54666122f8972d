"""Text keys and word lists for title matching: folding, normalising, title keys, word frequencies.

Shared by :mod:`bot.titles` (finding titles in text), the understanding package and the grounding
check. The word lists live in ``bot/understanding/lexicon/title_words.yaml``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import yaml
from spellchecker import SpellChecker

_WORDS_FILE = Path(__file__).with_name("understanding") / "lexicon" / "title_words.yaml"
_LISTS = yaml.safe_load(_WORDS_FILE.read_text(encoding="utf-8"))
FUNCTION_WORDS = frozenset(w for word in _LISTS["function_words"].split() for w in (word, word.replace("'", "")))  # "dont" too
COMMON_WORDS = frozenset(_LISTS["common_words"].split())

# A word: letters/digits, with inner apostrophes ("schindler's", "don't").
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# the words of free text, and "&" (which titles and their keys spell "and": "Fast & Furious")
_TOKEN_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|&")
_LABEL_RE = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
_QUOTE_RE = re.compile(r"\"([^\"\n]+)\"|“([^”\n]+)”|(?<!\w)'([^'\n]+?)'(?!\w)|‘([^’\n]+)’|\*([^*\n]+)\*")
_SUBTITLE_RE = re.compile(r"\s*(?::| - | – | — )\s*")
_TRAILING_ARTICLE_RE = re.compile(r"^(?P<rest>.+),\s*(?P<article>the|a|an)$", re.IGNORECASE)
_BRACKETED_RE = re.compile(r"\(\s*\d{4}\s*\)")  # a year in brackets, as titles are cited
_BRACKETED_END_RE = re.compile(r"\(\s*\d{4}\s*\)\s*$")
# "Heat (1995)", "Heat, 1995", "Heat from 1995"; "Airplane! (1980)" (a title's own closing punctuation)
_YEAR_AFTER_RE = re.compile(r"^(?:[!?.…]*\s*\(\s*(\d{4})\s*\)|\s*,?\s*(?:from\s+)?(\d{4})\b)")
_JOINER_RE = re.compile(r"^\s*(?:,|;|/|&|\+|and|or|plus|as well as|,\s*and|,\s*or|and also)\s*$",
                        re.IGNORECASE)
# "a film set in New York": a place, whatever the catalogue says
_PLACE_BEFORE_RE = re.compile(r"(?:set|takes? place|located|living|lives?|based|filmed|shot|happens?)\s+"
                              r"(?:in|at)\s+(?:the\s+)?$", re.IGNORECASE)
_SENTENCE_END_RE = re.compile(r"[.!?:;\n]\s*[\"'“‘(]*\s*$")

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


def bracketed_year(after: str) -> int | None:
    """The year in brackets that ``after`` (the text after a title) starts with: "(1995)", "! (1980)"."""
    m = _YEAR_AFTER_RE.match(after)
    return int(m.group(1)) if m and m.group(1) else None


def cites_year(text: str) -> bool:
    """``text`` has a year in brackets, as a cited title does: "Heat (1995)"."""
    return bool(_BRACKETED_RE.search(text))


def ends_with_year(mention: str) -> bool:
    """A mention ending with its year in brackets names exactly one of the items sharing its title."""
    return bool(_BRACKETED_END_RE.search(mention))


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
class Token:
    start: int
    end: int
    raw: str
    key: str  # folded


@dataclass
class Candidate:
    start_tok: int
    end_tok: int  # exclusive
    ids: list[str]
    score: float
    risk: int
    quoted: bool = False

    @property
    def length(self) -> int:
        return self.end_tok - self.start_tok


def capitals_informative(text: str, tokens: list[Token]) -> bool:
    """False for all-lowercase, ALL-CAPS or Title Cased Text, where capitals say nothing."""
    letters = [t for t in tokens if t.raw[:1].isalpha()]
    if not letters or text.islower() or text.isupper():
        return False
    inner = [t for k, t in enumerate(letters) if k > 0 and t.raw != "I"]
    if not inner:
        return True
    capitalised = sum(1 for t in inner if t.raw[0].isupper())
    return capitalised / len(inner) < 0.6

def sentence_initial(text: str, token: Token) -> bool:
    before = text[:token.start]
    return not before.strip() or bool(_SENTENCE_END_RE.search(before))

def adjacent(text: str, tokens: list[Token], a: Candidate, b: Candidate) -> bool:
    if a.end_tok <= b.start_tok:
        between = text[tokens[a.end_tok - 1].end:tokens[b.start_tok].start]
    elif b.end_tok <= a.start_tok:
        between = text[tokens[b.end_tok - 1].end:tokens[a.start_tok].start]
    else:
        return False
    between = between.strip(" \"'“”‘’")
    return bool(_JOINER_RE.match(between))
