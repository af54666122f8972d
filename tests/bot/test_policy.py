"""The dialogue policy, driven by real parsed messages over a small real catalogue."""

from __future__ import annotations

import pytest

from bot.policy import SLOTS, Action, decide, enough_known, next_slot
from bot.state import SessionState
from bot.understanding import Understander, Vocabulary
from tests.bot.test_titles import small_catalogue


@pytest.fixture(scope="module")
def parser() -> Understander:
    return Understander(Vocabulary.from_items(small_catalogue()))


def turn(parser: Understander, state: SessionState, text: str) -> Action:
    """One user turn as the engine runs it: understand, fold in, decide, record."""
    u = parser.parse(text, state)
    state.apply(u)
    action = decide(state, u)
    if action.kind == "ask":
        state.record_question(action.slot, f"question about {action.slot}")
    elif action.kind == "recommend":
        state.record_recommendations(["up", "airplane", "groundhog"])
    elif action.kind == "answer":
        state.record_answer()
    else:
        state.record_chitchat()
    return action


def test_greeting_is_chitchat_then_questions_then_recommendation(parser: Understander):
    s = SessionState()
    assert turn(parser, s, "hello!").kind == "chitchat"
    a = turn(parser, s, "I'd like to watch something")
    assert (a.kind, a.slot) == ("ask", "genre")
    a = turn(parser, s, "hmm, not sure")
    assert (a.kind, a.slot) == ("ask", "liked_example")  # a different slot, never the same twice
    a = turn(parser, s, "no idea really")
    assert a.kind == "recommend" and "2 questions in a row" in a.reason  # never a third question


def test_a_liked_title_is_enough(parser: Understander):
    s = SessionState()
    a = turn(parser, s, "I loved the babadook")
    assert a.kind == "recommend" and "liked" in a.reason


def test_a_genre_alone_asks_then_a_second_signal_recommends(parser: Understander):
    s = SessionState()
    a = turn(parser, s, "something funny")
    assert (a.kind, a.slot) == ("ask", "liked_example")  # genre known: ask for an example
    a = turn(parser, s, "from the 80s please")
    assert a.kind == "recommend" and "enough is known" in a.reason


def test_genre_plus_something_else_in_one_message_recommends(parser: Understander):
    s = SessionState()
    assert turn(parser, s, "a scary movie from the 70s").kind == "recommend"
    s = SessionState()
    assert turn(parser, s, "comedies with Bill Murray").kind == "recommend"


def test_an_explicit_request_recommends_at_once(parser: Understander):
    s = SessionState()
    a = turn(parser, s, "just recommend me something")
    assert a.kind == "recommend" and "explicitly" in a.reason


def test_dislikes_alone_are_not_enough(parser: Understander):
    s = SessionState()
    a = turn(parser, s, "no horror please")
    assert (a.kind, a.slot) == ("ask", "genre")


def test_question_about_an_item_is_answered(parser: Understander):
    s = SessionState()
    a = turn(parser, s, "who directed Pulp Fiction?")
    assert a == Action("answer", "asked about a specific item", item_id="pulp", question="director")
    s.record_recommendations(["heat95", "drive"])
    a = turn(parser, s, "how long is the second one?")
    assert a.kind == "answer" and a.item_id == "drive"


def test_feedback_leads_to_new_recommendations(parser: Understander):
    s = SessionState()
    turn(parser, s, "I loved the babadook")
    assert s.last_recommendations == ["up", "airplane", "groundhog"]
    a = turn(parser, s, "seen the first one, the second looks great")
    assert a.kind == "recommend" and "feedback" in a.reason
    assert "up" in s.seen_ids and "airplane" in s.liked_ids
    assert {"up", "airplane", "groundhog"} <= set(s.to_query().exclude_ids)


def test_slots_run_out(parser: Understander):
    s = SessionState(asked_slots=list(SLOTS))
    assert next_slot(s) is None
    a = decide(s, parser.parse("hmm"))
    assert a.kind in ("recommend", "chitchat")
    a = decide(s, parser.parse("I want to watch a film"))
    assert a.kind == "recommend" and "every slot" in a.reason


def test_enough_known_reasons():
    assert enough_known(SessionState()) == (False, "no preferences yet")
    assert enough_known(SessionState(genres=["Comedy"]))[0] is False
    assert enough_known(SessionState(genres=["Comedy"], people=["Bill Murray"]))[0] is True
    assert enough_known(SessionState(genres=["Comedy"], wishes=["set in a ski resort"]))[0] is True
    assert enough_known(SessionState(wishes=["a heist"]))[0] is False
    assert enough_known(SessionState(liked_ids=["heat95"]))[0] is True
