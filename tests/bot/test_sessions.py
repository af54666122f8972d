"""The session store contract, run against both backends: SQLite (a file) and PostgreSQL (a real
server started once per test session, a fresh database per test)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sessions import SessionNotFound, SessionStore, open_session_store
from bot.state import SessionState


def _open(backend: str, where: str | Path) -> SessionStore:
    if backend == "sqlite":
        return open_session_store("sqlite", sqlite_path=Path(where))
    return open_session_store("postgres", dsn=str(where), pool_max=12)


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | Path]:
    """(backend, where): a fresh SQLite file or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return "sqlite", tmp_path / "sessions.sqlite"
    return "postgres", request.getfixturevalue("postgres_server").new_database("sessions")


@pytest.fixture
def store(location: tuple[str, str | Path]) -> Iterator[SessionStore]:
    s = _open(*location)
    try:
        yield s
    finally:
        s.close()


def test_a_session_round_trips_with_its_meta_and_state(store: SessionStore):
    created = store.create("movies", {"channel": "web", "tags": ["a", "b"], "n": 3})
    got = store.get(created.id)
    assert (got.id, got.catalogue, got.meta) == (created.id, "movies", {"channel": "web", "tags": ["a", "b"], "n": 3})
    assert got.state == SessionState() and got.created == pytest.approx(created.created)

    state = got.state
    state.liked_ids = ["m1", "m2"]
    state.wishes = ["a heist film, «ça marche» 🎬"]
    state.turn = 4
    time.sleep(0.01)
    store.save_state(created.id, state)
    again = store.get(created.id)
    assert again.state == state
    assert again.updated > again.created


def test_messages_and_feedback_come_back_in_order_with_their_data(store: SessionStore):
    sid = store.create("movies").id
    ids = [
        store.add_message(sid, "user", "I like Alien"),
        store.add_message(sid, "assistant", "Try Aliens.", {"action": "recommend",
                                                             "recommendations": [{"id": "m7", "why": "sequel"}],
                                                             "degraded": None}),
        store.add_message(sid, "user", "Grüße — 日本語"),
    ]
    assert ids == sorted(ids) and len(set(ids)) == 3
    msgs = store.messages(sid)
    assert [(m.role, m.text) for m in msgs] == [("user", "I like Alien"), ("assistant", "Try Aliens."),
                                                ("user", "Grüße — 日本語")]
    assert [m.id for m in msgs] == ids
    assert msgs[1].data == {"action": "recommend", "recommendations": [{"id": "m7", "why": "sequel"}],
                            "degraded": None}
    assert msgs[0].data == {} and all(m.session_id == sid for m in msgs)

    f1 = store.add_feedback(sid, "like", "m7")
    f2 = store.add_feedback(sid, "seen", "m8")
    assert [(f.kind, f.target, f.id) for f in store.feedback(sid)] == [("like", "m7", f1), ("seen", "m8", f2)]


def test_an_unknown_session_is_reported_by_every_method(store: SessionStore):
    missing = "0" * 32
    for call in (
        lambda: store.get(missing),
        lambda: store.save_state(missing, SessionState()),
        lambda: store.delete(missing),
        lambda: store.add_message(missing, "user", "hi"),
        lambda: store.messages(missing),
        lambda: store.add_feedback(missing, "like", "m1"),
        lambda: store.feedback(missing),
        lambda: store.export(missing),
    ):
        with pytest.raises(SessionNotFound) as info:
            call()
        assert info.value.session_id == missing


def test_delete_removes_every_row_of_the_session_and_nothing_else(store: SessionStore):
    gone, kept = store.create("movies").id, store.create("movies").id
    for sid in (gone, kept):
        store.add_message(sid, "user", f"hello from {sid}")
        store.add_feedback(sid, "dislike", "m1")
    store.delete(gone)
    with pytest.raises(SessionNotFound):
        store.messages(gone)
    assert gone not in store.list_sessions()
    assert [m.text for m in store.messages(kept)] == [f"hello from {kept}"]
    assert len(store.feedback(kept)) == 1
    # a new session never sees the deleted one's rows
    fresh = store.create("movies").id
    assert store.messages(fresh) == [] and store.feedback(fresh) == []


def test_sessions_are_listed_most_recently_updated_first(store: SessionStore):
    a, b, c = (store.create("movies").id for _ in range(3))
    time.sleep(0.01)
    store.save_state(a, SessionState(turn=1))
    listed = store.list_sessions()
    assert listed[0] == a and set(listed) == {a, b, c}
    assert len(store.list_sessions(limit=2)) == 2


def test_export_holds_everything_stored(store: SessionStore):
    sid = store.create("recipes", {"k": "v"}).id
    store.add_message(sid, "user", "soup")
    store.add_feedback(sid, "like", "r1")
    out = store.export(sid)
    assert out["session_id"] == sid and out["catalogue"] == "recipes" and out["meta"] == {"k": "v"}
    assert [m["text"] for m in out["messages"]] == ["soup"]
    assert [(f["kind"], f["target"]) for f in out["feedback"]] == [("like", "r1")]
    assert out["state"] == SessionState().model_dump(mode="json")


def test_concurrent_writers_lose_nothing(store: SessionStore):
    sessions = [store.create("movies").id for _ in range(4)]
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(20):
                sid = sessions[(worker + n) % len(sessions)]
                store.add_message(sid, "user", f"w{worker} n{n}")
                if n % 5 == 0:
                    store.add_feedback(sid, "like", f"w{worker}")
                    store.save_state(sid, SessionState(turn=n))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    texts = [m.text for sid in sessions for m in store.messages(sid)]
    assert sorted(texts) == sorted(f"w{w} n{n}" for w in range(8) for n in range(20))
    assert sum(len(store.feedback(sid)) for sid in sessions) == 8 * 4
    ids = [m.id for sid in sessions for m in store.messages(sid)]
    assert len(set(ids)) == len(ids)


def test_what_was_written_is_there_for_a_new_store_on_the_same_database(location):
    first = _open(*location)
    sid = first.create("movies", {"replica": "a"}).id
    first.add_message(sid, "user", "remember me")
    first.save_state(sid, SessionState(liked_ids=["m1"], turn=1))
    first.close()

    second = _open(*location)  # another process or replica opening the same database
    try:
        got = second.get(sid)
        assert got.meta == {"replica": "a"} and got.state.liked_ids == ["m1"] and got.state.turn == 1
        assert [m.text for m in second.messages(sid)] == ["remember me"]
    finally:
        second.close()


def test_text_with_a_nul_character_is_accepted(store: SessionStore):
    sid = store.create("movies", {"note": "a\x00b"}).id
    store.add_message(sid, "user", "before\x00after", {"raw": "x\x00y"})
    msg = store.messages(sid)[0]
    if store.backend == "postgres":  # PostgreSQL text cannot hold NUL: it is stored as U+FFFD
        assert (msg.text, msg.data, store.get(sid).meta) == ("before\ufffdafter", {"raw": "x\ufffdy"},
                                                              {"note": "a\ufffdb"})
    else:
        assert (msg.text, msg.data) == ("before\x00after", {"raw": "x\x00y"})


def test_a_client_user_is_bound_to_one_session_per_catalogue_and_owner(store: SessionStore):
    first, second = store.create("movies").id, store.create("movies").id
    assert store.user_session("u1", "movies", "key-a") is None
    assert store.bind_user_session("u1", "movies", "key-a", first) == first
    # a concurrent request that created another session loses: the first binding stays
    assert store.bind_user_session("u1", "movies", "key-a", second) == first
    assert store.user_session("u1", "movies", "key-a") == first
    assert store.user_session("u1", "movies", "key-b") is None and store.user_session("u1", "recipes", "key-a") is None
    assert store.bind_user_session("u1", "movies", "key-b", second) == second
    with pytest.raises(SessionNotFound):
        store.bind_user_session("u2", "movies", "key-a", "f" * 32)
    # rows go with their session
    store.delete(first)
    assert store.user_session("u1", "movies", "key-a") is None
    assert store.forget_user_sessions(second) == 1
    assert store.user_session("u1", "movies", "key-b") is None
