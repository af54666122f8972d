"""The checked merge of an LLM's JSON reading of a message into the rules' :class:`Understanding`.

:class:`LLMPreferences` is what the ``understand`` prompt asks for (its schema is rendered into the
prompt by :func:`llm_json_schema`). :func:`merge_llm_output` validates the JSON and keeps only what
resolves to the catalogue; titles and people must also appear in the message, so a model cannot slip
in items of its own. :func:`resolve_foreign_titles` is the same check for titles written in another
language: the model gives each title as written and its original (English) title, the original must
resolve to the catalogue and the title as written must be in the message ("星际穿越" -> *Interstellar*).
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from rapidfuzz import fuzz

from bot.titles import normalize
from bot.understanding.patterns import CJK_DECADE_RE, DECADE_WORDS, OLD_RE, RECENT_RE, E, W, fold_chars
from bot.understanding.preferences import Feedback, Understanding
from bot.understanding.references import add
from bot.understanding.vocabulary import Vocabulary
from retrieval.schema import Range

if TYPE_CHECKING:
    from bot.state import SessionState

log = logging.getLogger(__name__)
MAX_LLM_GENRES = 3  # an LLM listing more genres than this in one field is ignored for that field
_MIN_YEAR, _MAX_YEAR = 1870, 2100
LLMIntent = Literal["recommend", "ask_about", "feedback", "chitchat"]
# Bounds in the schema, so grammar-constrained decoding cannot run on until the token cap (a small model
# otherwise repeats one title until the JSON is cut off and lost); longer answers are cut, not rejected.
MAX_LLM_ITEMS, MAX_LLM_CHARS = 3, 60
Phrase = Annotated[str, StringConstraints(max_length=MAX_LLM_CHARS)]
Phrases = Annotated[list[Phrase], Field(default_factory=list, max_length=MAX_LLM_ITEMS)]


class LLMPreferences(BaseModel):
    """What the ``understand`` prompt asks the LLM for. Unknown keys are ignored, wrong types rejected."""

    model_config = ConfigDict(extra="ignore")

    intent: LLMIntent = Field("recommend", description="what the person wants from this message")
    liked_titles: Phrases = Field(description="titles they like or want similar to")
    disliked_titles: Phrases = Field(description="titles they dislike")
    wanted_genres: Phrases = Field(description="genres they want")
    unwanted_genres: Phrases = Field(description="genres they do not want")
    wanted_people: Phrases = Field(description="actors/directors they want")
    unwanted_people: Phrases = Field(description="actors/directors they avoid")
    year_min: int | None = Field(None, description="earliest release year, or null")
    year_max: int | None = Field(None, description="latest release year, or null")
    wishes: Phrases = Field(description="other wishes in a few words (plot, mood)")
    about_title: Phrase | None = Field(None, description="the title a question is about, or null")

    @field_validator("liked_titles", "disliked_titles", "wanted_genres", "unwanted_genres", "wanted_people",
                     "unwanted_people", "wishes", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        if v is None:
            return []
        if isinstance(v, str):
            v = [v] if v.strip() else []
        if isinstance(v, list):
            return [x[:MAX_LLM_CHARS] if isinstance(x, str) else x for x in v[:MAX_LLM_ITEMS]]
        return v

    @field_validator("about_title", mode="before")
    @classmethod
    def _cut(cls, v: Any) -> Any:
        return v[:MAX_LLM_CHARS] if isinstance(v, str) else v

    @field_validator("year_min", "year_max", mode="before")
    @classmethod
    def _year(cls, v: Any) -> Any:
        if v in (None, "", "null"):
            return None
        return v


_UNPROMPTED = {"title", "maxItems", "maxLength"}  # bounds are enforced by the grammar; not worth prompt tokens


def llm_json_schema() -> str:
    """The JSON schema of :class:`LLMPreferences` for the ``understand`` prompt: compact (no titles, no
    spaces), because every prompt token costs time on a CPU. For grammar-constrained decoding pass
    ``LLMPreferences.model_json_schema()`` as ``GenerationConfig.json_schema``."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in _UNPROMPTED}
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
        raise ValueError("LLM output is not a JSON object")  # noqa: TRY004 - callers catch ValueError
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
_DECADE_WORD = re.compile(W + "(?:" + "|".join(map(re.escape, DECADE_WORDS)) + ")" + E, re.IGNORECASE)


def _speaks_of_time(text: str) -> bool:
    """The message says something about when (a number, a decade, "old", "recent"): only then may the LLM's
    years be kept. Small models otherwise copy the years of the prompt's example into a plain "hello"."""
    folded = fold_chars(text)
    return bool(re.search(r"\d", text) or _DECADE_WORD.search(folded) or OLD_RE.search(folded)
                or RECENT_RE.search(folded) or CJK_DECADE_RE.search(text) or "年" in text)


_Reply = TypeVar("_Reply", bound=BaseModel)


def _validated(model: type[_Reply], data: dict[str, Any] | str, u: Understanding, what: str,
               level: int) -> _Reply | None:
    """``data`` (an LLM reply, or the JSON parsed from one) as ``model``; ``None`` when it is not valid,
    with the error kept in ``u.llm_error`` and logged at ``level`` (its text, which may quote the user's
    words, only at debug level)."""
    try:
        return model.model_validate(parse_llm_json(data) if isinstance(data, str) else data)
    except (ValueError, ValidationError) as exc:
        log.log(level, "ignoring invalid %s (%s)", what, type(exc).__name__)
        log.debug("invalid %s: %s", what, exc)
        u.llm_error = str(exc)[:500]
        return None


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
    u = understanding.model_copy(deep=True)
    prefs = _validated(LLMPreferences, data, u, "LLM understanding output", logging.WARNING)
    if prefs is None:
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
    add(u.liked_ids, [i for i in liked if i not in u.disliked_ids])
    add(u.disliked_ids, [i for i in disliked if i not in u.liked_ids])

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
    add(u.genres, [g for g in wanted if g not in u.unwanted_genres])
    add(u.unwanted_genres, [g for g in genres(prefs.unwanted_genres, allow_one_inferred=False)
                             if g not in u.genres])

    def people(names: list[str]) -> list[str]:
        out = []
        for name in names[:10]:
            if isinstance(name, str) and _grounded(name, text):
                resolved = vocab.resolve_person(name)
                if resolved:
                    out.append(resolved)
        return out

    add(u.people, [p for p in people(prefs.wanted_people) if p not in u.unwanted_people])
    add(u.unwanted_people, [p for p in people(prefs.unwanted_people) if p not in u.people])

    if u.year is None and _speaks_of_time(text):
        lo, hi = prefs.year_min, prefs.year_max
        # "like The Babadook (2014)" names a film, not a wish for films from 2014 on: a year the message
        # gives only in parentheses after a title is no year preference (small models copy it anyway)
        without_title_years = _TITLE_YEAR.sub(" ", text)
        ok = all(v is None or (_MIN_YEAR <= v <= _MAX_YEAR
                               and not (str(v) in text and str(v) not in without_title_years)) for v in (lo, hi))
        if ok and (lo is not None or hi is not None) and (lo is None or hi is None or lo <= hi):
            u.year = Range(float(lo) if lo is not None else None, float(hi) if hi is not None else None)

    neg_words = re.compile(W + r"(?:no|not|without|never|hate|hated|dislike|avoid|except|nothing)" + E
                           + r"|n['’]t" + E, re.IGNORECASE)
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


class ForeignTitle(BaseModel):
    """One title as the person wrote it and its original title, from the ``translate_titles`` prompt."""

    model_config = ConfigDict(extra="ignore")

    written: str = Field(description="the title exactly as written in the message")
    original: str = Field(description="the film's original (usually English) title")
    year: int | None = Field(None, description="release year if known, or null")


class ForeignTitles(BaseModel):
    model_config = ConfigDict(extra="ignore")

    titles: list[ForeignTitle] = Field(default_factory=list, description="titles mentioned in the message")


def resolve_foreign_titles(understanding: Understanding, data: dict[str, Any] | str,
                           vocab: Vocabulary) -> Understanding:
    """A copy of ``understanding`` with titles written in another language that resolve to the catalogue.

    Each title as written must appear in the message and its original title must resolve (exactly or
    closely) to a catalogue item; such titles become liked examples unless the message negates them
    (a negation trigger in the message makes them disliked). Invalid output changes nothing.
    """
    u = understanding.model_copy(deep=True)
    found = _validated(ForeignTitles, data, u, "title translation", logging.INFO)
    if found is None:
        return u
    from bot.understanding.patterns import NEG_TRIGGER

    negated = bool(NEG_TRIGGER.search(u.text))
    for t in found.titles[:5]:
        if not t.written.strip() or t.written.strip() not in u.text:
            continue
        match = vocab.titles.resolve(t.original, year=t.year)
        if match is None or match.item_id in u.liked_ids or match.item_id in u.disliked_ids:
            continue
        u.llm_used = True
        add(u.disliked_ids if negated else u.liked_ids, [match.item_id])
        if u.intent in ("chitchat", "off_topic"):
            u.intent = "recommend"
    return u
