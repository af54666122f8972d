"""Two ``recbot serve`` replicas, one Chroma server, PostgreSQL and a llama.cpp server: a conversation
moves between replicas with its state, and SIGKILL of a replica mid-turn loses nothing it had written."""

from __future__ import annotations

import threading

import httpx
import psycopg
import pytest

from tests.bot.faces.api.support import parse_sse

pytestmark = [pytest.mark.scaleout, pytest.mark.slow, pytest.mark.timeout(1200)]

WISH = "recommend some scary horror films"


def _client(proc) -> httpx.Client:
    return httpx.Client(base_url=proc.url, timeout=300, trust_env=False)


def _until_recommended(client: httpx.Client, sid: str, texts: list[str]) -> dict:
    """Send messages until the bot recommends (it may ask a question first)."""
    for text in texts:
        r = client.post(f"/v1/sessions/{sid}/messages", json={"text": text})
        assert r.status_code == 200, r.text
        reply = r.json()
        if reply["action"] == "recommend" and reply["recommendations"]:
            return reply
    raise AssertionError(f"no recommendation after {texts}")


def test_replicas_share_nothing_on_disk_and_serve_the_published_catalogue(topology):
    a, b = topology.start_replica("a"), topology.start_replica("b")
    for proc, name in ((a, "a"), (b, "b")):
        ready = httpx.get(f"{proc.url}/readyz", trust_env=False).json()
        assert ready["status"] == "ready", ready
        data = topology.data_dir(name)
        assert not (data / "sessions.sqlite").exists()  # sessions live in PostgreSQL
        manifest = data / "index" / "movies" / "manifest.json"
        assert manifest.is_file()  # its own cache, rebuilt from the Chroma server
    assert topology.data_dir("a").joinpath("index").resolve() != topology.data_dir("b").joinpath("index").resolve()


def test_a_session_started_on_one_replica_continues_on_the_other(topology):
    a = topology.replicas.get("a") or topology.start_replica("a")
    b = topology.replicas.get("b") or topology.start_replica("b")
    with _client(a) as ca, _client(b) as cb:
        sid = ca.post("/v1/sessions", json={"meta": {"channel": "scaleout"}}).json()["session_id"]
        first = _until_recommended(ca, sid, [WISH, "horror please, any decade", "show me horror films"])
        shown = [card["id"] for card in first["recommendations"]]
        liked = shown[0]
        assert ca.post(f"/v1/sessions/{sid}/feedback", json={"item_id": liked, "kind": "like"}).status_code < 300

        on_b = cb.get(f"/v1/sessions/{sid}")
        assert on_b.status_code == 200, on_b.text
        detail = on_b.json()
        assert detail["meta"] == {"channel": "scaleout"}
        assert detail["messages"] == ca.get(f"/v1/sessions/{sid}").json()["messages"]
        assert liked in detail["state"]["liked_ids"] and set(shown) <= set(detail["state"]["shown_ids"])
        turn = detail["state"]["turn"]

        more = cb.post(f"/v1/sessions/{sid}/messages", json={"text": "more like that one please"})
        assert more.status_code == 200, more.text
        after = cb.get(f"/v1/sessions/{sid}").json()
        assert after["state"]["turn"] == turn + 1
        assert liked in after["state"]["liked_ids"]
        # what A showed is remembered on B: never recommended again
        assert not set(shown) & {card["id"] for card in more.json()["recommendations"]}
        # and A sees B's turn
        assert ca.get(f"/v1/sessions/{sid}").json()["messages"] == after["messages"]


def test_sigkill_of_a_replica_mid_turn_loses_nothing_it_had_written(topology):
    a = topology.replicas.get("a") or topology.start_replica("a")
    b = topology.replicas.get("b") or topology.start_replica("b")
    with _client(a) as ca, _client(b) as cb:
        sid = ca.post("/v1/sessions").json()["session_id"]
        _until_recommended(ca, sid, [WISH, "horror please, any decade", "show me horror films"])
        item = ca.get(f"/v1/sessions/{sid}").json()["state"]["shown_ids"][0]
        ca.post(f"/v1/sessions/{sid}/feedback", json={"item_id": item, "kind": "dislike"})
        written = ca.get(f"/v1/sessions/{sid}").json()  # everything acknowledged before the crash

        # a streamed turn on A; A is killed as soon as the reply has started to arrive
        started, events, failure = threading.Event(), [], []
        interrupted = "something with ghosts instead"

        def stream() -> None:
            try:
                with ca.stream("POST", f"/v1/sessions/{sid}/messages?stream=true", json={"text": interrupted}) as r:
                    for line in r.iter_lines():
                        events.append(line)
                        if line.startswith("event:"):
                            started.set()
            except httpx.HTTPError as exc:
                failure.append(exc)
            finally:
                started.set()

        worker = threading.Thread(target=stream)
        worker.start()
        assert started.wait(300)
        a.kill()
        worker.join(60)
        assert not any(name == "done" for name, _ in parse_sse(events)), "the turn ended before the kill"
        assert failure, "the client should have lost its connection"

        after = cb.get(f"/v1/sessions/{sid}").json()
        # every message, feedback and state change acknowledged before the kill is there
        assert after["messages"][: len(written["messages"])] == written["messages"]
        assert after["feedback"] == written["feedback"]
        assert item in after["state"]["disliked_ids"]
        # the interrupted turn's user message was stored before the turn ran
        assert after["messages"][len(written["messages"])]["text"] == interrupted
        with psycopg.connect(topology.dsn) as con:
            stored = con.execute("SELECT count(*) FROM messages WHERE session_id = %s", (sid,)).fetchone()[0]
        assert stored == len(after["messages"])

        # the conversation goes on, on B
        r = cb.post(f"/v1/sessions/{sid}/messages", json={"text": "ok, ghosts then"})
        assert r.status_code == 200 and r.json()["text"]
        final = cb.get(f"/v1/sessions/{sid}").json()
        assert [m["text"] for m in final["messages"][-2:-1]] == ["ok, ghosts then"]
        assert item in final["state"]["disliked_ids"]

        # A comes back (empty private cache is already built) and sees it all
        topology.replicas.pop("a")
        a2 = topology.start_replica("a")
        with _client(a2) as ca2:
            assert ca2.get(f"/v1/sessions/{sid}").json()["messages"] == final["messages"]


def test_concurrent_conversations_spread_over_both_replicas_lose_nothing(topology):
    from eval.load_rounds import format_table, run

    a = topology.replicas.get("a") or topology.start_replica("a")
    b = topology.replicas.get("b") or topology.start_replica("b")
    results = run([a.url, b.url], [4], messages=2, max_duration_s=600)
    print("\n" + format_table(results, "llama server x2 replicas"))
    (r,) = results
    assert (r.errors, r.lost, r.stopped_early) == (0, 0, False), r.error_samples
    assert r.turns == 8
    with psycopg.connect(topology.dsn) as con:
        load_sessions = con.execute("SELECT count(*) FROM sessions WHERE meta ? 'load_test' "
                                    "OR meta->'client' ? 'load_test'").fetchone()[0]
    assert load_sessions == 4
