"""Regular expressions of the parser: negation scope, clause breaks, sentiment, requests, years, facts.

The English grammar is written here as patterns, and its cue phrase lists (liked, disliked, requests,
"seen", "similar to"…) as regular expressions in ``lexicon/en_cues.yaml``; the other languages add their
trigger phrases from the lexicon files (``negation``, ``positive``, ``negative``, ``request``,
``clause_breaks``). Patterns run on
text whose accents are folded (:func:`fold_chars`, same length as the original), so "acción" and
"accion" match alike and spans still index the original text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import yaml

from bot.understanding.lexicon import LEXICON_DIR, LexiconError, is_cjk, load_lexicon

_LEX = load_lexicon()
CUES_FILE = LEXICON_DIR / "en_cues.yaml"  # the English cue phrases, as regular expressions


def fold_chars(text: str) -> str:
    """``text`` with accents removed character by character (same length, so spans stay valid)."""
    out = []
    for ch in text:
        if ord(ch) < 128:
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch)[:1]
        out.append(base if base and not unicodedata.combining(base) else ch)
    return "".join(out)


def alternation(phrases: Iterable[str]) -> str:
    """One regex alternative per phrase, longest first; Latin phrases as whole words, CJK as substrings."""
    parts = []
    for p in sorted(set(phrases), key=len, reverse=True):
        esc = r"\s+".join(re.escape(w) for w in p.split())
        parts.append(esc if is_cjk(p) else W + esc + E)
    return "|".join(parts) if parts else r"(?!x)x"


W = r"(?<![\w'’])"  # word start
E = r"(?![\w'’])"  # word end
_CUES: dict[str, list[str]] = yaml.safe_load(CUES_FILE.read_text(encoding="utf-8"))


def _cue(name: str, phrases: Iterable[str] | None = None) -> re.Pattern[str]:
    """The cue ``name`` of :data:`CUES_FILE` as whole words, then the other languages' ``phrases``."""
    try:
        pattern = W + "(?:" + "|".join(_CUES[name]) + ")" + E
        return re.compile(pattern + ("" if phrases is None else "|" + alternation(phrases)), re.IGNORECASE)
    except (KeyError, TypeError, re.error) as exc:
        raise LexiconError(f"{CUES_FILE}: key {name!r}: {type(exc).__name__}: {exc}") from exc
NEG_EXCEPTIONS = _cue("neg_exceptions")
NEG_TRIGGER = re.compile(
    W + r"(?:anything|everything|all|whatever|something) (?:but|except|other than)" + E + r"|"
    + W + r"(?:no|not|nothing|none|without|except|excluding|exclude|avoid|avoiding|skip|never|nor|"
    r"hate|hated|hates|hating|dislike|disliked|dislikes|detest|detested|loathe|loathed|despise|despised|"
    r"(?:do|does|did|would|could|should|is|are|was|were|wo|ca|have|has)(?:n'?t|n’t)|dont|didnt|doesnt|wont|"
    r"cant|cannot|isnt|wasnt|arent|werent|rather not|sick of|tired of|fed up with|"
    r"not (?:a fan of|into|in the mood for)|no more|anti)" + E + "|" + alternation(_LEX.negation), re.IGNORECASE)
NEG_SCOPE_END = _cue("negation_scope_end")
INTENSITY = _cue("intensity")
MILDER = _cue("milder")
NEG_SCOPE_KEEP = frozenset(w.casefold() for w in _CUES["negation_scope_keep_after"])
CLAUSE_BREAK = re.compile(
    r"[.;!?\n]+|" + W + r"(?:but|however|though|although|whereas|yet|except that)" + E
    + r"|,\s*(?=(?:i|we|you|but|though|however|maybe|something|anything|preferably|ideally|and i|and we)"
    + E + r")"
    + r"|,\s*(?=(?:algo|pero|aunque|prefiero|mejor|quiero|me gusta|me gustan|me encanta)" + E + r")"
    + r"|,\s*(?=[¿\u3400-\u9fff])"  # "me encantó X, ¿algo parecido?", "我很喜欢教父，有类似的吗" (， folds to ,)
    + r"|" + W + r"and(?=\s+(?:i|we)?\s*(?:really\s+)?"
    r"(?:love|loved|like|liked|enjoy|enjoyed|adore|adored|want|prefer)" + E + r")|"
    + alternation(_LEX.clause_breaks), re.IGNORECASE)
POSITIVE = _cue("positive", _LEX.positive)
NEGATIVE = _cue("negative", _LEX.negative)
SIMILAR = _cue("similar")
SIMILAR_REFERENCE = _cue("similar_reference")
SEEN = _cue("seen")
HEARD_OF = _cue("heard_of")
REQUEST = _cue("request", _LEX.request)
DESIRE = _cue("desire")
WISH_CUE = _cue("wish_cue")
QUESTION_START = re.compile(
    r"^\s*[¿]?(?:what|who|whom|when|where|which|why|how|is|are|was|were|does|do|did|can|could|has|have|"
    r"tell me|say|explain|quien|que|cual|cuando|cuanto|como|donde|hay)" + E + r"|^\s*¿"
    r"|(?:吗|呢|谁|哪|什么|多少|多长|多久|几)[？?。！!]*\s*$|^\s*(?:谁|哪|什么)", re.IGNORECASE)
ORDINALS: dict[str, int] = {fold_chars(k).lower(): v for k, v in _LEX.ordinals.items()}  # -1: the last
_LATIN_ORDS = [k for k in ORDINALS if not is_cjk(k)]
_CJK_ORDS = [k for k in ORDINALS if is_cjk(k)]
REF_ORDINAL = re.compile(
    W + r"(?:the\s+|la\s+|el\s+)?(?P<ord>" + "|".join(sorted(_LATIN_ORDS, key=len, reverse=True)) + r")"
    r"(?:\s+(?:one|movie|film|recipe|suggestion|option|title|pelicula|receta|opcion))?" + E
    + r"|(?P<ordz>" + "|".join(sorted(_CJK_ORDS, key=len, reverse=True)) + r")(?:部|个|道|条)?"
    + r"|" + W + r"(?:number|no\.?|#)\s*(?P<num>[1-9])" + E
    + r"|" + W + r"(?:option|item)\s+(?P<num2>[1-9])" + E, re.IGNORECASE)
REF_ALL = _cue("ref_all")
REF_NONE = _cue("ref_none")
REF_PLURAL = _cue("ref_plural")
REF_PRONOUN = re.compile(alternation(_LEX.pronoun_refs), re.IGNORECASE)

DECADE_WORDS: dict[str, int] = {k: v for k, v in _LEX.decade_words.items() if not is_cjk(k)}
CJK_DECADE_RE = re.compile(r"(?P<d>19[0-9]0|20[0-9]0|[1-9]0)\s*年代|(?P<w>"
                           + "|".join(k for k in _LEX.decade_words if is_cjk(k)) + ")")
# "2000年以后", "1990年以前", "2020年的": a year written the Chinese way, with its bound after it
CJK_YEAR_RE = re.compile(r"(?<!\d)(?P<y>1[89]\d\d|20\d\d)\s*年(?!代)\s*(?P<op>以后|之后|以来|后|起|以前|之前|前)?")
CJK_YEAR_AFTER = frozenset(["以后", "之后", "以来", "后", "起"])  # the year itself included, as people mean it
CJK_DECADE_WORDS: dict[str, int] = {k: v for k, v in _LEX.decade_words.items() if is_cjk(k)}
ES_DECADE_RE = re.compile(W + r"(?:anos|los|decada de(?:\s+los)?)\s+(?P<d>19[0-9]0|20[0-9]0|[1-9]0)" + E,
                          re.IGNORECASE)
WORDS = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
YEAR = r"(?:1[89]\d\d|20\d\d)"
DECADE = (r"(?:(?P<pos>early|mid|late)[\s-]*)?(?:(?P<d4>1[89]\d0|20\d0)|['’]?(?P<d2>[0-9]0))(?:['’]?s)"
           r"|(?:(?P<pos2>early|mid|late)[\s-]*)?(?:the\s+)?(?P<dw>" + "|".join(DECADE_WORDS) + r")")
RANGE_BETWEEN = re.compile(
    W + r"(?:between\s+(?P<a>" + YEAR + r")\s+and\s+(?P<b>" + YEAR + r")|(?:from\s+)?(?P<c>" + YEAR
    + r")\s*(?:-|–|to|until|till|through)\s*(?P<d>" + YEAR + r"))" + E, re.IGNORECASE)
BEFORE = re.compile(
    W + r"(?P<op>before|pre|prior to|older than|earlier than|until|till|up to|through|antes del?|hasta)[\s-]*"
    r"(?:the\s+)?"
    r"(?:(?P<y>" + YEAR + r")|(?P<dec>" + DECADE.replace("?P<", "?P<b_") + r"))" + E, re.IGNORECASE)
AFTER = re.compile(
    W + r"(?P<op>after|post|since|newer than|later than|from|despues del?|desde|a partir del?)[\s-]*(?:the\s+)?"
    r"(?:(?P<y>" + YEAR + r")(?P<on>\s+(?:on|onwards?|and later|or later|and after|and newer))?|"
    r"(?P<dec>" + DECADE.replace("?P<", "?P<a_") + r")(?P<on2>\s+(?:on|onwards?))?)" + E, re.IGNORECASE)
DECADE_RE = re.compile(W + r"(?:" + DECADE + r")" + E, re.IGNORECASE)
YEAR_RE = re.compile(W + r"(?:in|from|of|released in)?\s*(?P<y>" + YEAR + r")" + E, re.IGNORECASE)
OLD_RE = _cue("old")
RECENT_RE = _cue("recent")
NUM = r"(?P<n>\d+(?:\.\d+)?)"
FACT_RE = re.compile(
    W + r"(?P<op>under|less than|fewer than|below|at most|max(?:imum)?|no more than|not more than|"
    r"shorter than|within|up to|over|more than|above|at least|min(?:imum)?|longer than|no less than|"
    r"cheaper than|menos de|mas de|por debajo de|低于|不超过|高于|少于|小于|超过|多于)\s*(?P<cur>[$€£¥])?\s*"
    + NUM + r"\s*(?P<unit>[a-z%]+(?:\s+(?:of|de)\s+[a-z]+)?|"
    + "|".join(sorted((re.escape(u) for u in _LEX.unit_words if is_cjk(u)), key=len, reverse=True)) + r")?",
    re.IGNORECASE)
# Chinese puts the bound after the number: "90分钟以内", "300卡路里以下", "100克蛋白质以上"
FACT_CJK_POST_RE = re.compile(
    NUM + r"\s*(?P<unit>" + "|".join(sorted((re.escape(u) for u in _LEX.unit_words if is_cjk(u)), key=len,
                                             reverse=True)) + r")\s*(?P<op>以内|以下|之内|内|以上|之上)")
UNIT_WORDS: dict[str, str] = {fold_chars(k).casefold(): v for k, v in _LEX.unit_words.items()}
RATED_RE = re.compile(
    W + r"(?:rated|rating|score|scored)\s+(?P<op>above|over|at least|more than|higher than|below|under|"
    r"less than)?\s*" + NUM + r"\s*(?P<pct>%|percent)?", re.IGNORECASE)
DURATION_UNITS = {"minute": 1.0, "minutes": 1.0, "mins": 1.0, "min": 1.0, "m": 1.0, "hour": 60.0,
                   "hours": 60.0, "hrs": 60.0, "hr": 60.0, "h": 60.0}
DURATION_FACT_RE = re.compile(r"runtime|duration|length|minutes|prep|cook|time", re.IGNORECASE)
RATING_FACT_RE = re.compile(r"rating|meter|score|metacritic|stars", re.IGNORECASE)
LOWER_OPS = {"over", "more than", "above", "at least", "min", "minimum", "longer than", "no less than",
              "higher than"}

BUT_IS_TRIGGER = re.compile(r"(?:anything|everything|all|whatever|something|nothing)\s*$", re.IGNORECASE)
