"""The word lists understanding uses, read from ``bot/understanding/lexicon/<language>.yaml``.

Every language file has the same keys (``en.yaml`` documents them). :func:`load_lexicon` merges the
files into one :class:`Lexicon`: genre phrases of every language point at the same concepts
("terror" and "恐怖" are both *horror*), moods of other languages map to the English mood words, and
the per-language trigger lists (negation, requests…) are kept apart so patterns can be built from them.
A malformed file is a :class:`LexiconError` naming the file and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

LEXICON_DIR = Path(__file__).with_name("lexicon")
LANGUAGES = ("en", "es", "zh")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class LexiconError(ValueError):
    """A lexicon file that cannot be used; the message names the file and the key."""


def is_cjk(text: str) -> bool:
    """Whether ``text`` contains Chinese characters (such phrases are matched as substrings)."""
    return bool(_CJK.search(text))


@dataclass(frozen=True)
class Modifier:
    """A relative request ("funnier", "older", "no sequels") and what it does to the wishes."""

    name: str
    phrases: tuple[str, ...]
    genres: tuple[str, ...] = ()
    replace: bool = False
    drop_genres: tuple[str, ...] = ()
    avoid_genres: tuple[str, ...] = ()
    moods: tuple[str, ...] = ()
    avoid_moods: tuple[str, ...] = ()
    year: str | None = None  # older | newer
    duration: str | None = None  # shorter | longer | quick
    exclude: str | None = None  # sequels | remakes
    another: bool = False
    like_reference: bool = False


@dataclass
class Lexicon:
    """All languages' word lists, merged. Phrases are stored as written (callers normalise them)."""

    genre_synonyms: dict[str, list[str]] = field(default_factory=dict)  # concept -> phrases
    genre_combos: dict[str, list[str]] = field(default_factory=dict)  # phrase -> concepts
    moods: dict[str, str] = field(default_factory=dict)  # phrase -> English mood word
    decade_words: dict[str, int] = field(default_factory=dict)
    sentiment_words: set[str] = field(default_factory=set)
    reserved_words: set[str] = field(default_factory=set)
    filler_words: set[str] = field(default_factory=set)
    never_titles: set[str] = field(default_factory=set)
    person_cues: list[str] = field(default_factory=list)
    people_aliases: dict[str, str] = field(default_factory=dict)  # alias -> catalogue spelling
    title_aliases: dict[str, str] = field(default_factory=dict)  # foreign title -> "Original (Year)"
    modifiers: list[Modifier] = field(default_factory=list)
    question_fields: dict[str, list[str]] = field(default_factory=dict)  # phrase list per field
    superlatives: dict[str, tuple[str, str]] = field(default_factory=dict)  # phrase -> (field, min|max)
    ordinals: dict[str, int] = field(default_factory=dict)
    pronoun_refs: list[str] = field(default_factory=list)
    off_topic: list[str] = field(default_factory=list)
    prompt_leak: list[str] = field(default_factory=list)
    injection: list[str] = field(default_factory=list)
    stopwords: dict[str, set[str]] = field(default_factory=dict)  # language -> words
    diets: dict[str, list[str]] = field(default_factory=dict)  # diet -> ingredient words it excludes
    diet_keep: dict[str, list[str]] = field(default_factory=dict)  # diet -> words that keep a name allowed
    diet_phrases: dict[str, str] = field(default_factory=dict)  # phrase (any language) -> diet
    unit_words: dict[str, str] = field(default_factory=dict)  # "calorias", "分钟" -> English unit word
    # per-language trigger phrases (English triggers live in patterns.py as regular expressions)
    negation: list[str] = field(default_factory=list)
    positive: list[str] = field(default_factory=list)
    negative: list[str] = field(default_factory=list)
    request: list[str] = field(default_factory=list)
    small_talk: list[str] = field(default_factory=list)  # greetings, thanks: no preference to read
    clause_breaks: list[str] = field(default_factory=list)

    def modifier_phrases(self) -> dict[str, Modifier]:
        """Phrase -> modifier, for every language."""
        return {p: m for m in self.modifiers for p in m.phrases}


def _words(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise LexiconError(f"{where}: expected a list of strings or a space-separated string")


def _merge_file(lex: Lexicon, path: Path) -> None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise LexiconError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("language"), str):
        raise LexiconError(f"{path}: expected a mapping with a 'language' key")
    lang = data["language"]
    for concept, phrases in (data.get("genre_synonyms") or {}).items():
        known = lex.genre_synonyms.setdefault(concept, [])
        known.extend(w for w in _words(phrases, f"{path}: genre_synonyms.{concept}") if w not in known)
    for phrase, concepts in (data.get("genre_combos") or {}).items():
        lex.genre_combos[phrase] = _words(concepts, f"{path}: genre_combos.{phrase}")
    moods = data.get("moods") or []
    if isinstance(moods, dict):
        lex.moods.update({str(k): str(v) for k, v in moods.items()})
    else:
        lex.moods.update({m: m for m in _words(moods, f"{path}: moods")})
    for key, year in (data.get("decade_words") or {}).items():
        if not isinstance(year, int):
            raise LexiconError(f"{path}: decade_words.{key}: expected a year")
        lex.decade_words[str(key)] = year
    for name in ("sentiment_words", "reserved_words", "filler_words", "never_titles"):
        getattr(lex, name).update(_words(data.get(name), f"{path}: {name}"))
    for name in ("person_cues", "pronoun_refs", "off_topic", "prompt_leak", "injection", "negation", "positive",
                 "negative", "request", "small_talk", "clause_breaks"):
        getattr(lex, name).extend(_words(data.get(name), f"{path}: {name}"))
    lex.people_aliases.update({str(k): str(v) for k, v in (data.get("people_aliases") or {}).items()})
    lex.title_aliases.update({str(k): str(v) for k, v in (data.get("title_aliases") or {}).items()})
    lex.unit_words.update({str(k): str(v) for k, v in (data.get("unit_words") or {}).items()})
    lex.stopwords[lang] = set(_words(data.get("stopwords"), f"{path}: stopwords"))
    for name, spec in (data.get("modifiers") or {}).items():
        where = f"{path}: modifiers.{name}"
        if not isinstance(spec, dict) or "phrases" not in spec:
            raise LexiconError(f"{where}: expected a mapping with 'phrases'")
        unknown = set(spec) - set(Modifier.__dataclass_fields__) - {"phrases"}
        if unknown:
            raise LexiconError(f"{where}: unknown keys {sorted(unknown)}")
        kw = {k: tuple(_words(v, f"{where}.{k}")) if k in ("phrases", "genres", "drop_genres", "avoid_genres",
                                                           "moods", "avoid_moods") else v
              for k, v in spec.items()}
        lex.modifiers.append(Modifier(name=name, **kw))
    for fld, phrases in (data.get("question_fields") or {}).items():
        lex.question_fields.setdefault(fld, []).extend(_words(phrases, f"{path}: question_fields.{fld}"))
    for phrase, spec in (data.get("superlatives") or {}).items():
        if not isinstance(spec, dict) or spec.get("order") not in ("min", "max") or "field" not in spec:
            raise LexiconError(f"{path}: superlatives.{phrase}: expected {{field: ..., order: min|max}}")
        lex.superlatives[str(phrase)] = (str(spec["field"]), spec["order"])
    for diet, spec in (data.get("diets") or {}).items():
        if not isinstance(spec, dict):
            raise LexiconError(f"{path}: diets.{diet}: expected a mapping with phrases (and exclude)")
        lex.diets.setdefault(diet, []).extend(_words(spec.get("exclude"), f"{path}: diets.{diet}.exclude"))
        lex.diet_keep.setdefault(diet, []).extend(_words(spec.get("keep"), f"{path}: diets.{diet}.keep"))
        for phrase in _words(spec.get("phrases"), f"{path}: diets.{diet}.phrases"):
            lex.diet_phrases[phrase] = diet
    for word, idx in (data.get("ordinals") or {}).items():
        if not isinstance(idx, int):
            raise LexiconError(f"{path}: ordinals.{word}: expected an integer position")
        lex.ordinals[str(word)] = idx


@lru_cache(maxsize=4)
def load_lexicon(directory: Path = LEXICON_DIR, languages: tuple[str, ...] = LANGUAGES) -> Lexicon:
    """Every language's file in ``directory``, merged (cached: the files are read once)."""
    lex = Lexicon()
    for lang in languages:
        path = directory / f"{lang}.yaml"
        if not path.exists():
            raise LexiconError(f"{path}: missing lexicon file for language {lang!r}")
        _merge_file(lex, path)
    return lex
