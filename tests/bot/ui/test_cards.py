"""Recommendation cards: what they show, and that catalogue text can never become markup."""

from __future__ import annotations

import re

import pytest

from bot.engine import Recommendation
from bot.ui.cards import MAX_FACTS, as_card, card_html, cards_text, format_fact


def _rec(**overrides) -> Recommendation:
    values = dict(id="72909", title="They Live", year=1988, label="They Live (1988)",
                  genres=["sci-fi", "thriller", "comedy", "action", "horror"],
                  facts={"rated": "R", "runtime": 94, "metacritic": 55.0, "rt_rating": 7.2, "rt_meter": 84},
                  why="genre: action, comedy; from 1988", reasons=["genre: action, comedy", "from 1988"],
                  score=1.19)
    values.update(overrides)
    return Recommendation(**values)


def test_card_shows_title_year_genres_facts_and_why():
    html = card_html(_rec())
    assert 'data-item-id="72909"' in html
    assert '<span class="rb-title">They Live</span>' in html
    assert "(1988)" in html
    chips = re.findall(r'<span class="rb-chip">([^<]*)</span>', html)
    assert chips == ["sci-fi", "thriller", "comedy", "action"]
    facts = re.findall(r"<dt>([^<]*)</dt>", html)
    assert facts == ["rated", "runtime", "metacritic", "rt rating"][:MAX_FACTS]
    assert "<dd>55</dd>" in html  # 55.0 shown as 55
    assert "<b>Why:</b> genre: action, comedy; from 1988" in html
    assert "rb-badge" not in html


@pytest.mark.parametrize("kind,word", [("like", "liked"), ("dislike", "disliked"), ("seen", "seen")])
def test_feedback_adds_a_badge(kind, word):
    html = card_html(_rec(), kind)
    assert f'<span class="rb-badge rb-badge-{kind}">{word}</span>' in html


def test_unknown_feedback_adds_nothing():
    assert "rb-badge" not in card_html(_rec(), "<b>")


def test_every_catalogue_value_is_escaped():
    evil = '<script>alert("x")</script>'
    html = card_html(_rec(id='1" onmouseover="x', title=evil, genres=[evil], facts={"a<b": evil}, why=evil))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert 'data-item-id="1&quot; onmouseover=&quot;x"' in html
    assert "<dt>a&lt;b</dt>" in html


def test_card_without_year_facts_or_why():
    html = card_html({"id": "r1", "title": "Plain soup", "genres": [], "facts": {}, "why": ""})
    for part in ("rb-year", "rb-facts", "rb-why", "rb-genres"):
        assert part not in html
    assert '<span class="rb-title">Plain soup</span>' in html


def test_as_card_accepts_dataclasses_and_dicts_only():
    assert as_card(_rec())["id"] == "72909"
    assert as_card({"id": "x"}) == {"id": "x"}
    with pytest.raises(TypeError, match="expected a Recommendation"):
        as_card(["not", "a", "card"])


def test_format_fact_and_text_list():
    assert format_fact(7.0) == "7" and format_fact(7.25) == "7.25" and format_fact(["a", "b"]) == "a, b"
    assert cards_text([_rec(), {"title": "X", "why": "y"}]) == (
        "- They Live (1988): genre: action, comedy; from 1988\n- X: y")
