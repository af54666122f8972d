"""Recommendation cards as HTML: title, year, genres, a few key facts and the one-line "why".

Everything that comes from the catalogue or the engine is escaped with :func:`html.escape` before it
goes into markup, so a title such as ``<script>`` shows as text. The cards carry no script and no
remote resources (no images, fonts or stylesheets from elsewhere): the page must work offline.

The Like / Dislike / Seen buttons are real Gradio buttons placed under each card by :mod:`bot.ui.app`;
this module only draws the card and, once feedback is given, a badge saying which.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

FEEDBACK_BADGES = {"like": "liked", "dislike": "disliked", "seen": "seen"}
MAX_GENRES = 4
MAX_FACTS = 4

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
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def as_card(rec: Any) -> dict[str, Any]:
    """A :class:`bot.engine.Recommendation` (or its dict) as a plain dict the UI can keep in state."""
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


def card_html(rec: Any, feedback: str | None = None) -> str:
    """One card. ``feedback`` (like / dislike / seen) adds a badge; anything else is ignored."""
    card = as_card(rec)
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
        chips = "".join(f'<span class="rb-chip">{_e(g)}</span>' for g in genres)
        parts.append(f'<div class="rb-genres">{chips}</div>')
    facts = list((card.get("facts") or {}).items())[:MAX_FACTS]
    if facts:
        rows = "".join(f"<div><dt>{_e(k.replace('_', ' '))}</dt><dd>{_e(format_fact(v))}</dd></div>"
                       for k, v in facts)
        parts.append(f'<dl class="rb-facts">{rows}</dl>')
    why = card.get("why")
    if why:
        parts.append(f'<p class="rb-why"><b>Why:</b> {_e(why)}</p>')
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
