"""A liked film that the held genres and years do not fit starts a new topic; one that fits keeps them.
Read by the real rules on the small catalogue of tests/bot/test_titles.py, applied to a real state."""

from __future__ import annotations

import pytest

from bot.state import SessionState
from bot.understanding import Understander, Vocabulary
from bot.understanding.topic_change import starts_new_topic
from tests.bot.test_titles import small_catalogue


@pytest.fixture(scope="module")
def parser() -> Understander:
    return Understander(Vocabulary.from_items(small_catalogue()))


def _after(parser: Understander, *messages: str) -> tuple[SessionState, list[bool]]:
    state, flags = SessionState(), []
    for text in messages:
        u = parser.parse(text, state)
        u.new_topic = starts_new_topic(state, u, parser.vocab.items)
        flags.append(u.new_topic)
        state.apply(u)
    return state, flags


@pytest.mark.parametrize("first, then", [
    ("recommend some 90s comedies", "I like The Babadook, anything similar?"),  # 2014 horror
    ("推荐几部90年代的喜剧", "我喜欢The Babadook，有类似的吗？"),
    ("quiero comedias de los 90", "me gusta The Babadook, ¿algo parecido?"),
])
def test_a_liked_film_outside_the_held_genres_and_years_leads(parser, first, then):
    state, flags = _after(parser, first, then)
    assert flags == [False, True]
    assert state.genres == [] and state.year is None
    assert state.liked_ids == ["babadook"]


def test_a_liked_film_that_fits_keeps_them(parser):
    state, flags = _after(parser, "recommend some 90s crime films", "I like Pulp Fiction, anything similar?")
    assert flags == [False, False]
    assert [g.casefold() for g in state.genres] == ["crime"] and state.year.min == 1990
    assert state.liked_ids == ["pulp"]


def test_a_message_with_its_own_constraints_is_not_a_new_topic(parser):
    state, flags = _after(parser, "recommend some 90s comedies", "I like The Babadook, but from the 2000s please")
    assert flags == [False, False]
    assert state.year.min == 2000  # the message's own years replace the old ones, as always
