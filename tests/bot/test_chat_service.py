"""The one door of the faces: sessions without an engine, turns, and services that differ only in prompts.

Real SQLite session store; the engine tests use the real film index and the tiny real LLM.
"""

from __future__ import annotations

import pytest

from bot.chat_service import ChatService, SessionService
from bot.engine import ConversationEngine, EngineConfig
from bot.sessions import SessionNotFound
from bot.sessions.sqlite import SQLiteSessionStore
from bot.state import SessionState
from prompts.loader import DEFAULT_ROOT, PromptLibrary

CHITCHAT_V2 = """\
name: chitchat
version: 2
description: a fixed greeting, to tell the library apart
input_variables:
  user_message: {description: the message}
messages:
  - role: user
    content: "Say exactly: Hello from version two. Message: {{ user_message }}"
"""


@pytest.fixture
def sessions(tmp_path) -> SessionService:
    return SessionService(SQLiteSessionStore(tmp_path / "sessions.sqlite"))


def test_sessions_without_an_engine(sessions):
    sid = sessions.create_session_for("movies", {"source": "test"}).id
    got = sessions.get_session(sid)
    assert got.catalogue == "movies" and got.meta == {"source": "test"} and got.state == SessionState()

    state = SessionState()
    state.want_genres(["comedy"])
    state.like("m1")
    sessions.save_state(sid, state)
    assert sessions.get_session(sid).state == state

    sessions.rate_message(sid, "message_up", 12)
    sessions.rate_message(sid, "message_down", "13")
    assert [(f.kind, f.target) for f in sessions.feedback_given(sid)] == [("message_up", "12"),
                                                                          ("message_down", "13")]
    with pytest.raises(ValueError, match="message_up, message_down"):
        sessions.rate_message(sid, "like", 12)  # type: ignore[arg-type]
    assert len(sessions.feedback_given(sid)) == 2

    sessions.reset(sid)
    assert sessions.get_session(sid).state == SessionState()
    assert len(sessions.feedback_given(sid)) == 2  # the history stays
    assert sessions.export(sid)["session_id"] == sid

    sessions.delete(sid)
    with pytest.raises(SessionNotFound):
        sessions.get_session(sid)


@pytest.fixture(scope="module")
def tiny_llm():
    from bot.llm.factory import create_llm

    return create_llm("llamacpp", "smollm2-135m")


@pytest.fixture
def service(retriever, tiny_llm, tmp_path) -> ChatService:
    config = EngineConfig(k=2, llm_understanding="never", max_tokens=24, question_tokens=16, temperature=0.0)
    engine = ConversationEngine(retriever, tiny_llm, PromptLibrary([DEFAULT_ROOT]), config)
    return SessionService(SQLiteSessionStore(tmp_path / "sessions.sqlite")).with_engine(engine, "films")


@pytest.mark.slow
def test_what_serves_is_read_through_the_service(service, films):
    assert service.catalogue == "films" and service.catalogue_size() == len(films)
    assert service.config.k == 2 and service.config.prompt_set == "default"
    assert service.item(films[0].id).label == films[0].label and service.item("no-such-id") is None
    genres = service.genre_names()
    assert genres == sorted(genres) and "comedy" in genres
    assert service.prompt_library.get("chitchat").version == 1
    assert service.llm_status()["name"].endswith("smollm2-135m")


@pytest.mark.slow
def test_with_prompts_derives_a_service_and_leaves_this_one_alone(service, tmp_path):
    (tmp_path / "prompts").mkdir()
    library = PromptLibrary([DEFAULT_ROOT, tmp_path / "prompts"], write_root=tmp_path / "prompts")
    library.save_version("chitchat", CHITCHAT_V2, set="default")
    derived = service.with_prompts(library, prompt_set="customer_service", seed=7)
    assert derived is not service and derived.prompt_library is library
    assert (derived.config.prompt_set, derived.config.seed, derived.config.k) == ("customer_service", 7, 2)
    assert service.prompt_library.get("chitchat").version == 1 and service.config.seed is None

    # the same sessions: one made through the derived service is read through the first
    sid = derived.create_session({"via": "derived"}).id
    assert service.get_session(sid).meta == {"via": "derived"}
    # and the same per-session locks: a turn through one and a state write through the other queue
    assert derived._lock(sid) is service._lock(sid)


@pytest.mark.slow
def test_stream_unsaved_runs_a_turn_and_stores_nothing(service):
    sid = service.create_session().id
    state = SessionState()
    events = list(service.stream_unsaved(state, "I'd like a comedy with Bill Murray"))
    result = events[-1].result
    assert events[-1].kind == "done" and result is not None and result.text
    assert state.genres == ["comedy"]  # the given state is the one the turn changed...
    assert service.messages(sid) == []  # ...and nothing was stored
    assert service.get_session(sid).state == SessionState()
