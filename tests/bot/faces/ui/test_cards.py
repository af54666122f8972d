"""Recommendation cards: what they show, and that catalogue text can never become markup."""

from __future__ import annotations

import re

import pytest

from bot.engine import Recommendation
from bot.faces.ui.cards import MAX_FACTS, as_card, card_html, cards_text, format_fact


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
    facts = re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", html)
    assert facts == [("rated", "R"), ("runtime", "94 min"), ("Metacritic", "55/100"),
                     ("critics&#x27; rating", "7.2/10")][:MAX_FACTS]  # 55.0 shown as 55, with units
    assert "<b>Why:</b> genre: action, comedy; from 1988" in html
    assert "rb-badge" not in html


def test_card_shows_director_stars_and_a_plot_line():
    html = card_html(_rec(people={"director": ["John Carpenter"], "writer": ["Ray Nelson"],
                                  "cast": ["Roddy Piper", "Keith David", "Meg Foster", "George Flower"]},
                          plot="A drifter finds sunglasses that reveal the truth."))
    assert "<span>Director:</span> John Carpenter" in html
    assert "<span>With:</span> Roddy Piper, Keith David, Meg Foster</div>" in html  # three names at most
    assert "Ray Nelson" not in html  # writers are not on the card
    assert '<p class="rb-plot">A drifter finds sunglasses that reveal the truth.</p>' in html
    assert html.index("rb-people") < html.index("rb-plot") < html.index("rb-facts") < html.index("rb-why")


def test_recipe_card_lists_ingredients():
    html = card_html({"id": "dinner:x", "title": "Lentil Stew", "genres": ["dinner"], "facts": {"calories": 320.0},
                      "why": "dinner, as you asked", "people": {"ingredient": ["Lentils", "Carrot"]}})
    assert "<span>Ingredients:</span> Lentils, Carrot" in html and "<dd>320 kcal</dd>" in html


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
    for part in ("rb-year", "rb-facts", "rb-why", "rb-genres", "rb-people", "rb-plot"):
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


@pytest.mark.parametrize("language,why,director,runtime", [
    ("zh", "推荐理由", "导演", "片长"), ("es", "Por qué", "Dirección", "duración"), ("en", "Why", "Director", "runtime")])
def test_card_labels_follow_the_language_of_its_why(language, why, director, runtime):
    html = card_html(_rec(language=language, people={"director": ["John Carpenter"]}, facts={"runtime": 94}))
    assert f"<b>{why}:</b>" in html and f"<span>{director}:</span> John Carpenter" in html
    assert f"<dt>{runtime}</dt><dd>94 min</dd>" in html
