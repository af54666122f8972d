"""Recommendation cards as HTML: title, year, genres, director and stars, a plot line, key facts, the "why".

What people look for first comes first: who made it and who is in it (``people`` by role, from
:mod:`bot.item_facts`), a plot line where the catalogue has one, then a few facts with their units
("105 min", "8.1/10 from critics"; the wording is in ``prompts/explain/en.yaml``) and the card's own
checked "why" (:mod:`bot.explain`), which differs from card to card.

Everything that comes from the catalogue or the engine is escaped with :func:`html.escape` before it
goes into markup, so a title such as ``<script>`` shows as text. The cards carry no script and no
remote resources (no images, fonts or stylesheets from elsewhere): the page must work offline.

The Like / Dislike / Seen buttons are real Gradio buttons placed under each card by :mod:`bot.faces.ui.app`;
this module only draws the card and, once feedback is given, a badge saying which.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

from prompts.phrases import facts_config, phrase_book

FEEDBACK_BADGES = {"like": "liked", "dislike": "disliked", "seen": "seen"}
MAX_GENRES = 4
MAX_FACTS = 4
PEOPLE_SHOWN = (("director", 2), ("cast", 3), ("ingredient", 8))  # roles on a card, and how many names

# Scoped to each card's gr.HTML (css_template), so it applies however the app is launched.
CARD_CSS = """
.rb-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px;
           background: var(--background-fill-secondary); display: flex; flex-direction: column; gap: 6px; }
.rb-card header { display: flex; align-items: baseline; gap: 6px; flex-wrap: wrap; }
.rb-title { font-weight: 600; font-size: 1.05em; }
.rb-year { color: var(--body-text-color-subdued); }
.rb-badge { margin-left: auto; font-size: 0.8em; padding: 1px 8px; border-radius: 999px;
            background: var(--color-accent-soft); color: var(--body-text-color); }
.rb-badge-dislike { background: var(--background-fill-primary); text-decoration: line-through; }
.rb-genres { display: flex; gap: 4px; flex-wrap: wrap; }
.rb-chip { font-size: 0.8em; padding: 0 6px; border-radius: 6px;
           border: 1px solid var(--border-color-primary); }
.rb-facts { display: flex; gap: 10px; flex-wrap: wrap; margin: 0; font-size: 0.85em; }
.rb-facts div { display: flex; gap: 3px; }
.rb-facts dt { color: var(--body-text-color-subdued); }
.rb-facts dd { margin: 0; }
.rb-why { margin: 0; font-size: 0.9em; }
.rb-people { margin: 0; font-size: 0.88em; display: flex; flex-direction: column; gap: 2px; }
.rb-people span { color: var(--body-text-color-subdued); }
.rb-plot { margin: 0; font-size: 0.88em; font-style: italic; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def as_card(rec: Any) -> dict[str, Any]:
    """A :class:`~bot.chat_service.Recommendation` (or its dict) as a plain dict the UI can keep in state."""
    if is_dataclass(rec) and not isinstance(rec, type):
        return asdict(rec)
    if isinstance(rec, Mapping):
        return dict(rec)
    raise TypeError(f"expected a Recommendation or a mapping, got {type(rec).__name__}")


def format_fact(value: Any) -> str:
    """``7.2`` -> ``7.2``, ``100.0`` -> ``100``, lists joined by commas, the rest as text."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def shown_facts(facts: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The facts a card shows: the ones with a name people know first (runtime, rating…), never the
    bookkeeping ones (review counts, ids; ``card_hide`` in ``prompts/explain/en.yaml``)."""
    book = phrase_book("en").data
    names, hide = book.get("fact_names") or {}, set(book.get("card_hide") or ())
    kept = [(k, v) for k, v in facts.items() if k not in hide]
    return sorted(kept, key=lambda kv: kv[0] not in names)[:MAX_FACTS]


def fact_label(key: str, value: Any, language: str = "en") -> tuple[str, str]:
    """A fact as a person reads it, in ``language``: ("runtime", "105 min"), ("片长", "105 min")."""
    book = phrase_book(language)
    names = book.data.get("fact_names") or {}
    label = str(names.get(key, key.replace("_", " ")))
    show = ((facts_config().get("numbers") or {}).get(key) or {}).get("show")
    if show and show != "count" and isinstance(value, (int, float)) and not isinstance(value, bool):
        key = f"card_units.{show}" if book.has(f"card_units.{show}") else f"units.{show}"
        return label, book.render(key, v=format_fact(value), name=label)
    return label, format_fact(value)


def card_html(rec: Any, feedback: str | None = None) -> str:
    """One card. ``feedback`` (like / dislike / seen) adds a badge; anything else is ignored."""
    card = as_card(rec)
    book = phrase_book(card.get("language") or "en")  # labels in the language of the card's "why"
    title = card.get("title") or card.get("label") or card.get("id", "")
    year = card.get("year")
    parts = [f'<article class="rb-card" data-item-id="{_e(card.get("id", ""))}">', "<header>",
             f'<span class="rb-title">{_e(title)}</span>']
    if year:
        parts.append(f'<span class="rb-year">({_e(year)})</span>')
    if feedback in FEEDBACK_BADGES:
        parts.append(f'<span class="rb-badge rb-badge-{feedback}">{FEEDBACK_BADGES[feedback]}</span>')
    parts.append("</header>")
    genres = [g for g in card.get("genres") or [] if g][:MAX_GENRES]
    if genres:
        chips = "".join(f'<span class="rb-chip">{_e(book.genre(g))}</span>' for g in genres)
        parts.append(f'<div class="rb-genres">{chips}</div>')
    people = card.get("people") or {}
    roles = book.data.get("roles") or {}
    lines = [f"<div><span>{_e(roles.get(role, role))}:</span> {_e(', '.join(people[role][:n]))}</div>"
             for role, n in PEOPLE_SHOWN if people.get(role)]
    if lines:
        parts.append(f'<div class="rb-people">{"".join(lines)}</div>')
    if card.get("plot"):
        parts.append(f'<p class="rb-plot">{_e(card["plot"])}</p>')
    facts = shown_facts(card.get("facts") or {})
    if facts:
        rows = "".join(f"<div><dt>{_e(label)}</dt><dd>{_e(value)}</dd></div>"
                       for label, value in (fact_label(k, v, book.language) for k, v in facts))
        parts.append(f'<dl class="rb-facts">{rows}</dl>')
    why = card.get("why")
    if why:
        parts.append(f'<p class="rb-why"><b>{_e(book.data["card"]["why"])}:</b> {_e(why)}</p>')
    parts.append("</article>")
    return "".join(parts)


def cards_text(cards: Sequence[Any]) -> str:
    """A plain-text list of cards (for logs, the prompt lab and tests): ``- Title (Year): why``."""
    lines = []
    for rec in cards:
        card = as_card(rec)
        label = card.get("label") or card.get("title") or card.get("id", "")
        lines.append(f"- {label}: {card.get('why', '')}")
    return "\n".join(lines)
