"""Which language a message is written in: Chinese by its script, Spanish or English by their words.

Rules and word lists (the ``stopwords`` of each lexicon file), no model: a few microseconds a message.
A message too short to tell ("Heat", "ok") keeps the conversation's language.
"""

from __future__ import annotations

import re

from bot.understanding.lexicon import load_lexicon
from bot.understanding.patterns import fold_chars

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LETTER_WORD = re.compile(r"[^\W\d_]+")
_SPANISH_MARKS = re.compile(r"[ñ¿¡áéíóú]", re.IGNORECASE)
SUPPORTED = ("en", "es", "zh")


def detect_language(text: str, previous: str | None = None) -> str:
    """``zh``, ``es`` or ``en`` (``ja``/``ko`` by script too); ``previous`` (or ``en``) when unclear."""
    fallback = previous or "en"
    if not text or not text.strip():
        return fallback
    han = len(_HAN.findall(text))
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    latin_words = _LETTER_WORD.findall(fold_chars(text).casefold())
    latin_words = [w for w in latin_words if not _HAN.search(w)]
    if han and han >= len(latin_words):
        return "zh"
    stop = load_lexicon().stopwords
    es = sum(w in stop.get("es", ()) for w in latin_words) + 2 * len(_SPANISH_MARKS.findall(text))
    en = sum(w in stop.get("en", ()) for w in latin_words)
    if es == en or max(es, en) < 1 or (len(latin_words) <= 2 and max(es, en) < 2):
        return fallback
    return "es" if es > en else "en"
