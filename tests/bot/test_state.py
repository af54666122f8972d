"""Session state: feedback, folding in understood messages, JSON round trip, and the retrieval query."""

from __future__ import annotations

import json

import pytest

from bot.state import MAX_WISHES, SessionState
from bot.understanding import Understander, Vocabulary
from retrieval.schema import Query, Range
from tests.bot.test_titles import small_catalogue


@pytest.fixture(scope="module")
def parser() -> Understander:
    return Understander(Vocabulary.from_items(small_catalogue()))


def test_feedback_moves_items_between_liked_and_disliked():
    s = SessionState()
    s.apply_feedback("like", "heat95")
    s.apply_feedback("dislike", "saw")
    assert s.liked_ids == ["heat95"] and s.disliked_ids == ["saw"]
    s.apply_feedback("dislike", "heat95")  # changed their mind
    assert s.liked_ids == [] and s.disliked_ids == ["saw", "heat95"]
    s.apply_feedback("like", "heat95")
    assert s.liked_ids == ["heat95"] and s.disliked_ids == ["saw"]
    s.apply_feedback("seen", "drive")
    s.apply_feedback("seen", "drive")
    assert s.seen_ids == ["drive"]
    with pytest.raises(ValueError, match="unknown feedback kind 'meh'"):
        s.apply_feedback("meh", "drive")  # type: ignore[arg-type]


def test_apply_understanding_later_statements_win(parser: Understander):
    s = SessionState()
    s.apply(parser.parse("I love horror and Tom Cruise, something from the 80s"))
    assert s.genres == ["Horror"] and s.people == ["Tom Cruise"] and s.year == Range(1980, 1989)
    s.apply(parser.parse("actually no horror and not Tom Cruise, something funny from the 90s"))
    assert s.genres == ["Comedy"] and s.unwanted_genres == ["Horror"]
    assert s.people == [] and s.unwanted_people == ["Tom Cruise"]
    assert s.year == Range(1990, 1999)
    assert s.turn == 2


def test_wishes_are_recent_and_capped():
    s = SessionState()
    for i in range(MAX_WISHES + 3):
        s.add_wish(f"wish number {i}")
    s.add_wish("wish number 4")  # repeated: moves to the end, no duplicate
    assert len(s.wishes) == MAX_WISHES
    assert s.wishes[-1] == "wish number 4" and "wish number 0" not in s.wishes


def test_json_round_trip(parser: Understander):
    s = SessionState()
    s.apply(parser.parse("I loved the babadook, no comedies, something dark under 2 hours from the 80s"))
    s.record_question("era", "Do you prefer recent films or older ones?")
    s.record_recommendations(["shining", "alien"])
    s.apply_feedback("seen", "alien")
    text = s.model_dump_json()
    data = json.loads(text)  # plain JSON
    assert data["year"] == {"min": 1980.0, "max": 1989.0}
    assert data["facts"] == {"runtime": {"min": None, "max": 120.0}}
    back = SessionState.model_validate_json(text)
    assert back == s
    assert isinstance(back.year, Range) and isinstance(back.facts["runtime"], Range)
    assert back.to_query(5) == s.to_query(5)


def test_to_query_excludes_and_never_searches_dislikes(parser: Understander):
    s = SessionState()
    s.apply(parser.parse("I loved Heat and Drive but hated Saw; no horror, not Tom Cruise, "
                         "something tense set in a big city, from the 90s, under 2 hours"))
    s.record_recommendations(["pulp", "topgun"])
    s.apply_feedback("seen", "pulp")
    q = s.to_query(k=7)
    assert isinstance(q, Query) and q.k == 7
    assert q.liked_ids == ["heat95", "drive"]
    assert q.disliked_ids == ["saw"]
    assert set(q.exclude_ids) == {"pulp", "topgun", "saw", "heat95", "drive"}
    assert q.unwanted_genres == ["Horror"] and q.unwanted_people == ["Tom Cruise"]
    assert q.year == Range(1990, 1999)
    assert q.facts == {"runtime": Range(None, 120)}
    assert "tense" in q.text and "big city" in q.text
    for unwanted in ("saw", "horror", "cruise", "hated"):
        assert unwanted not in q.text.casefold()
    assert not q.is_empty()


def test_to_query_of_a_new_session_is_empty():
    q = SessionState().to_query()
    assert q.is_empty() and q.exclude_ids == [] and q.year is None


def test_liked_items_in_the_query_are_the_most_recent():
    s = SessionState()
    for i in range(8):
        s.like(f"item{i}")
    assert s.to_query().liked_ids == [f"item{i}" for i in range(3, 8)]


def test_history_and_known_slots(parser: Understander):
    s = SessionState()
    assert s.known_slots() == set() and not s.has_preferences()
    s.apply(parser.parse("something funny"))
    assert s.known_slots() == {"genre"}
    s.record_question("liked_example", "Which film did you enjoy lately?")
    s.record_question("era", "Recent or older?")
    assert s.questions_in_a_row == 2 and s.asked_slots == ["liked_example", "era"]
    assert s.last_action == "ask"
    s.record_recommendations(["airplane", "up", "airplane"])
    assert s.questions_in_a_row == 0 and s.last_recommendations == ["airplane", "up"]
    s.record_recommendations(["groundhog"])
    assert s.shown_ids == ["airplane", "up", "groundhog"]


def test_known_lines_for_prompts(parser: Understander):
    index = parser.vocab.titles
    s = SessionState()
    s.apply(parser.parse("I loved Heat (1995), no horror, something from the 80s, rated above 7"))
    lines = s.known_lines(index.label)
    assert "liked: Heat (1995)" in lines
    assert "avoids genres: Horror" in lines
    assert "years: 1980-1989" in lines
    assert "rating: >= 7" in lines


def test_a_title_named_without_a_verdict_is_known_context_never_recommended(parser: Understander):
    """"Have you seen Alien?" names a film the person knows: it is context for the ranker (a query id)
    and never recommended back, but neither liked nor seen."""
    state = SessionState()
    state.apply(parser.parse("Have you seen Alien?", state))
    assert state.mentioned_ids == ["alien"] and state.liked_ids == [] and state.seen_ids == []
    state.apply(parser.parse("I want something scary", state))
    assert "alien" in state.to_query(5).exclude_ids
    state.apply(parser.parse("I loved Alien", state))
    assert state.liked_ids == ["alien"] and state.exclude_ids.count("alien") == 1
    assert SessionState.model_validate_json(state.model_dump_json()) == state
