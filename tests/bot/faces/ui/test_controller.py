"""The app's controller on a real SQLite session store: profiles, Retry snapshots, Stop events."""

from __future__ import annotations

import threading

import pytest

from bot.settings import Settings
from bot.state import SessionState
from bot.faces.ui.controller import AppController, Profile


@pytest.fixture
def controller(tmp_path) -> AppController:
    settings = Settings(data_dir=tmp_path, llm={"model": "smollm2-135m", "backend": "llamacpp"},
                        recommendations=4, prompt_set="default")
    return AppController(settings)  # no chat service yet: nothing loads until a turn needs it


def test_profile_round_trip_and_settings(controller):
    p = controller.default_profile
    assert (p.catalogue, p.k, p.backend, p.model, p.prompt_set) == (
        "movies", 4, "llamacpp", "smollm2-135m", "default")
    assert Profile.from_dict(p.to_dict()) == p
    changed = Profile.from_dict({**p.to_dict(), "k": "2", "model": "qwen2.5-0.5b",
                                 "prompt_set": "customer_service"})
    s = changed.settings(controller.settings)
    assert (s.recommendations, s.llm.model, s.prompt_set, s.data_dir) == (
        2, "qwen2.5-0.5b", "customer_service", controller.settings.data_dir)
    assert controller.settings.llm.model == "smollm2-135m"  # the base settings are not touched
    with pytest.raises(ValueError, match="missing field"):
        Profile.from_dict({"catalogue": "movies"})


def test_library_pools_packaged_and_saved_templates(controller):
    assert controller.library.write_root == controller.settings.data_dir / "prompts"
    assert {"default", "customer_service"} <= set(controller.library.sets())


def test_restore_puts_the_state_back_and_keeps_later_feedback(controller):
    sessions = controller.sessions  # no engine: nothing is loaded for this
    sid = sessions.create_session_for("movies").id
    before = SessionState()
    before.want_genres(["comedy"])
    before.like("a")
    sessions.save_state(sid, before)
    snapshot = controller.snapshot(sid)

    after = before.model_copy(deep=True)  # what a turn then changed...
    after.turn = 1
    after.want_genres(["horror"])
    after.record_recommendations(["x", "y"])
    sessions.save_state(sid, after)
    sessions.store.add_feedback(sid, "dislike", "x")  # ...and feedback given on its cards
    sessions.rate_message(sid, "message_up", 12)

    restored = controller.restore(sid, snapshot)
    assert restored == sessions.get_session(sid).state
    assert restored.turn == 0 and restored.genres == ["comedy"] and restored.shown_ids == []
    assert restored.liked_ids == ["a"] and restored.disliked_ids == ["x"]
    assert controller.item_feedback(sid) == {"x": "dislike"}


def test_ensure_session_reuses_only_a_live_session_of_the_same_catalogue(controller):
    sid = controller.ensure_session("movies", None)
    assert controller.sessions.get_session(sid).meta == {"source": "app"}
    assert controller.ensure_session("movies", sid) == sid
    assert controller.ensure_session("movies", "gone") != "gone"
    other = controller.sessions.create_session_for("recipes").id
    assert controller.ensure_session("movies", other) != other
    assert controller.session_exists(other) and not controller.session_exists(other, "movies")


def test_stop_sets_only_the_running_turns_event(controller):
    assert controller.stop("s1") is False and controller.stop(None) is False
    first = controller.begin("s1")
    other = controller.begin("s2")
    assert controller.running("s1")
    assert controller.stop("s1") is True
    assert first.is_set() and not other.is_set()
    second = controller.begin("s1")  # a new turn gets a fresh event
    controller.end("s1", first)  # ending a stale turn does not drop the new one
    assert controller.running("s1") and not second.is_set()
    controller.end("s1", second)
    assert not controller.running("s1")
    assert isinstance(second, threading.Event)
