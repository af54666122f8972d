"""Replies written without the LLM: answers from catalogue facts, honest "I can't", and questions.

The wording lives in prompt templates (``answer_fact``, ``cant``, ``ask_fixed`` in
``prompts/templates/default``), one branch per language; this module only chooses what to say and
reads the facts: people by role (:class:`bot.item_facts.ItemFacts`), years, durations, ratings, genres
in the person's language. They are exact and instant, which the small LLM on two cores is not.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.item_facts import ItemFacts
from bot.state import SessionState
from bot.understanding import Vocabulary
from prompts.loader import PromptLibrary
from retrieval.schema import Item

log = logging.getLogger(__name__)
_ROLE_FIELDS = {"director": "director", "writer": "writer", "cast": "cast"}
# rating-like facts and how a value is shown (the catalogue decides which exist)
_RATING_SHOW = {"rt_rating": ("Rotten Tomatoes critics' average", "{:g}/10"), "rt_meter": ("Tomatometer", "{:g}%"),
                "metacritic": ("Metacritic", "{:g}/100"), "rating": ("rating", "{:g}")}
_RATING_NAMES = {"es": {"Rotten Tomatoes critics' average": "media de la crítica en Rotten Tomatoes",
                        "rating": "puntuación"},
                 "zh": {"Rotten Tomatoes critics' average": "烂番茄影评人平均分", "Tomatometer": "烂番茄新鲜度",
                        "rating": "评分"}}


def render(prompts: PromptLibrary, template: str, prompt_set: str = "default", **values: Any) -> str:
    """The text of a one-message template (the fixed replies)."""
    messages = prompts.get(template, set=prompt_set).render(**values)
    return "".join(m["content"] for m in messages).strip()


def _genre_names(genres: list[str], language: str) -> list[str]:
    if language == "en":
        return genres
    try:
        from prompts.phrases import phrase_book

        book = phrase_book(language)
        return [book.genre(g) for g in genres]
    except Exception:
        log.debug("no genre names for %s", language, exc_info=True)
        return genres


def answer_values(item: Item, field: str, vocab: Vocabulary, language: str = "en") -> tuple[str, list[str]]:
    """(field, values) for a question about ``item``: the field as the template knows it and the
    catalogue's facts as strings; values are empty when the catalogue does not hold the answer."""
    facts = ItemFacts.of(item)
    if field in _ROLE_FIELDS:
        names = list(facts.roles.get(_ROLE_FIELDS[field], ()))
        return field, names[:6]
    if field == "year":
        return field, [str(item.year)] if item.year else []
    if field == "duration":
        name = vocab.duration_fact()
        value = item.facts.get(name) if name else None
        return field, [f"{value:g}"] if isinstance(value, (int, float)) and value else []
    if field == "rating":
        shown = []
        for name, (label, fmt) in _RATING_SHOW.items():
            value = item.facts.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
                label = _RATING_NAMES.get(language, {}).get(label, label)
                shown.append(f"{label} {fmt.format(value)}")
        return field, shown
    if field == "genres":
        return field, _genre_names(list(item.genres), language)
    if field == "people":
        names = list(facts.roles.get("ingredient", ())) or list(item.people)
        return field, names[:12]
    if field == "plot":
        return field, [facts.plot] if facts.plot else []
    if field == "summary":  # a question the rules could not place: the main facts, all true
        parts = []
        for fld in ("director", "year", "genres", "duration", "rating", "people"):
            _, vals = answer_values(item, fld, vocab, language)
            if vals and not (fld == "people" and facts.roles.get("director")):
                parts.append(", ".join(vals[:4]) if fld != "duration" else f"{vals[0]} min")
        return field, ["; ".join(parts)] if parts else []
    value = item.facts.get(field)
    if value not in (None, "", 0):
        return field, [f"{value:g}" if isinstance(value, float) else str(value)]
    return field, []


def answer_text(prompts: PromptLibrary, prompt_set: str, item: Item, field: str, vocab: Vocabulary,
                language: str, item_noun: str) -> str:
    """The answer to "<field> of <item>?" from the catalogue, or an honest "the catalogue doesn't say"."""
    fld, values = answer_values(item, field, vocab, language)
    label = item.title if language == "zh" else item.label  # the Chinese wording adds 《》
    return render(prompts, "answer_fact", prompt_set, language=language, field=fld, label=label, values=values,
                  item_noun=item_noun)


def pick_question(prompts: PromptLibrary, prompt_set: str, state: SessionState, slot: str, language: str,
                  domain: str, item_noun: str) -> str:
    """A wording of the ``slot`` question not asked before in this conversation ("" when all were)."""
    asked = {" ".join(q.split()) for q in state.asked_questions}
    for variant in range(10):
        text = render(prompts, "ask_fixed", prompt_set, language=language, slot=slot, variant=variant,
                      domain=domain, item_noun=item_noun)
        if not text:
            return ""
        if text not in asked:
            return text
    return ""


def fixed_reply(prompts: PromptLibrary, prompt_set: str, state: SessionState, action: Any, vocab: Vocabulary,
                item: Item | None, *, domain: str, item_noun: str, fixed_questions: bool = True) -> str | None:
    """The reply of a turn that needs no LLM, or ``None``: "cant" turns, answers to a known field,
    questions (when ``fixed_questions``), and small talk in languages other than English."""
    language = state.language or "en"
    if action.kind == "cant":
        topic, _, detail = (action.topic or "").partition(":")
        return render(prompts, "cant", prompt_set, language=language, topic=topic, domain=domain,
                      last_year=detail if topic == "year_after" else "", name=detail if topic == "missing_item" else "",
                      catalogue_end=str(vocab.year_range[1]) if vocab.year_range else "")
    if action.kind == "answer" and item is not None:  # a field the rules could not place: the main facts
        return answer_text(prompts, prompt_set, item, action.question or "summary", vocab, language, item_noun)
    if action.kind == "ask" and (fixed_questions or language != "en"):
        return pick_question(prompts, prompt_set, state, action.slot or "genre", language, domain, item_noun) or None
    if action.kind == "chitchat" and language != "en":
        return render(prompts, "ask_fixed", prompt_set, language=language, slot="greeting", variant=0,
                      domain=domain, item_noun=item_noun)
    return None


def follow_up(prompts: PromptLibrary, prompt_set: str, state: SessionState, *, domain: str, item_noun: str) -> str:
    """A question after recommendations, never one asked before in this conversation ("" when none is left)."""
    text = pick_question(prompts, prompt_set, state, "follow_up", state.language or "en", domain, item_noun)
    if text:
        state.record_follow_up(text)
    return text
