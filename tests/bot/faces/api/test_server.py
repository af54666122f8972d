"""A real `recbot serve` (uvicorn subprocess on loopback): survives SIGKILL mid-turn, and ChatOpenAI
talks to it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from bot.faces.api.security import hash_key
from tests.bot.faces.api.support import REPO, Server, data_dir_copy, env_for, free_port

pytestmark = pytest.mark.slow

KEY = "sk-recbot-test-key"
WISH = "I want a funny comedy from the 90s"
MORE = "more comedies from the 90s please"


def test_sessions_messages_and_feedback_survive_a_server_killed_mid_turn(pristine_data: Path, tmp_path: Path):
    """SIGKILL while a streamed reply is being written: the database is intact, every earlier
    session, message and feedback reads back the same after a restart, and the interrupted turn
    leaves only its user message (no half reply, no half-updated state): the session goes on."""
    data = data_dir_copy(pristine_data, tmp_path / "data")
    port = free_port()
    server = Server(data, port, tmp_path / "server.log").start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            sids, replies = [], []
            for n in range(2):
                sid = http.post("/v1/sessions", json={"meta": {"ticket": f"CS-{n}"}}).json()["session_id"]
                reply = http.post(f"/v1/sessions/{sid}/messages", json={"text": WISH}).json()
                liked = reply["recommendations"][0]["id"]
                fb = http.post(f"/v1/sessions/{sid}/feedback", json={"item_id": liked, "kind": "like"})
                assert fb.status_code == 200
                sids.append(sid)
                replies.append(reply)
            before = {sid: http.get(f"/v1/sessions/{sid}").json() for sid in sids}
            seen: list[str] = []
            url = f"/v1/sessions/{sids[0]}/messages?stream=true"
            with http.stream("POST", url, json={"text": MORE}) as r:
                for line in r.iter_lines():
                    seen.append(line)
                    if line.startswith("event: text"):  # the model is writing the reply: crash now
                        server.kill()
                        break
    finally:
        server.kill()
    assert server.proc.returncode == -9
    assert "event: text" in seen and "event: done" not in seen  # killed mid-turn, not after it

    con = sqlite3.connect(data / "sessions.sqlite")  # what the crash left on disk
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = dict(con.execute("SELECT session_id, COUNT(*) FROM messages GROUP BY session_id"))
        feedback = dict(con.execute("SELECT session_id, COUNT(*) FROM feedback GROUP BY session_id"))
    finally:
        con.close()
    assert stored == {sids[0]: 3, sids[1]: 2} and feedback == {sids[0]: 1, sids[1]: 1}

    server = Server(data, port, tmp_path / "server.log").start()  # same data dir, same port
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            after = {sid: http.get(f"/v1/sessions/{sid}").json() for sid in sids}
            assert after[sids[1]] == before[sids[1]]
            hit, was = after[sids[0]], before[sids[0]]
            for key in ("session_id", "created", "meta", "state", "feedback"):
                assert hit[key] == was[key], key
            assert hit["messages"][:2] == was["messages"]
            assert [(m["role"], m["text"]) for m in hit["messages"][2:]] == [("user", MORE)]
            for sid, reply, detail in zip(sids, replies, after.values(), strict=True):
                assert detail["messages"][1]["text"] == reply["text"]
                liked = reply["recommendations"][0]["id"]
                assert [(f["kind"], f["item_id"]) for f in detail["feedback"]] == [("like", liked)]
                assert detail["state"]["liked_ids"] == [liked] and detail["state"]["turn"] == 1
            assert hit["meta"] == {"ticket": "CS-0"}
            # the interrupted session goes on where it stopped
            more = http.post(f"/v1/sessions/{sids[0]}/messages", json={"text": MORE}).json()
            shown = {r["id"] for r in replies[0]["recommendations"]}
            assert more["recommendations"] and not {r["id"] for r in more["recommendations"]} & shown
            final = http.get(f"/v1/sessions/{sids[0]}").json()
            assert final["state"]["turn"] == 2
            roles = [m["role"] for m in final["messages"]]
            assert roles == ["user", "assistant", "user", "user", "assistant"]
    finally:
        server.stop()


@pytest.fixture(scope="module")
def keyed_server(pristine_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("api-server")
    server = Server(
        data_dir_copy(pristine_data, root / "data"),
        free_port(),
        root / "server.log",
        RECBOT_API__KEYS=hash_key(KEY),
    ).start()
    yield server
    server.stop()


def test_langchain_chat_openai_talks_to_recbot_unchanged(keyed_server: Server):
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        base_url=f"{keyed_server.url}/v1",
        api_key=KEY,
        model="movies",
        max_retries=0,
        timeout=120,
        include_response_headers=True,
    )
    msg = llm.invoke([SystemMessage("You help customers pick films."), HumanMessage(WISH)])
    assert isinstance(msg.content, str) and msg.content.strip()
    sid = msg.response_metadata["headers"]["x-session-id"]
    assert (
        msg.response_metadata["finish_reason"] == "stop" and msg.response_metadata["model_name"] == "movies"
    )

    # streaming, continuing the same session through the header
    chunks = list(llm.bind(extra_headers={"X-Session-Id": sid}).stream("more comedies from the 90s please"))
    streamed = "".join(c.content for c in chunks)
    assert len(chunks) >= 3 and streamed.strip()
    with httpx.Client(base_url=keyed_server.url, headers={"x-api-key": KEY}, timeout=60) as http:
        detail = http.get(f"/v1/sessions/{sid}").json()
    assert detail["state"]["turn"] == 2 and detail["messages"][-1]["text"] == streamed.strip()

    # `user` keys a session across calls
    first = llm.invoke("hello", user="customer-9")
    second = llm.invoke(WISH, user="customer-9")
    assert (
        first.response_metadata["headers"]["x-session-id"]
        == second.response_metadata["headers"]["x-session-id"]
    )

    wrong = ChatOpenAI(base_url=f"{keyed_server.url}/v1", api_key="sk-wrong", model="movies", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.invoke("hello")


def test_serve_refuses_several_workers_on_an_embedded_index(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "bot.faces.cli", "serve", "--workers", "2", "--port", str(free_port())],
        cwd=REPO,
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "RECBOT_STORE__MODE=http" in proc.stderr and "chroma run" in proc.stderr


def test_serve_help_documents_workers_keys_and_limits():
    out = subprocess.run(
        [sys.executable, "-m", "bot.faces.cli", "serve", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    for needle in (
        "--workers",
        "--catalogue",
        "Chroma server mode",
        "shared session store",
        "RECBOT_API__KEYS",
        "--new-key",
    ):
        assert needle in out, needle


def test_serve_refuses_api_keys_in_clear(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "bot.faces.cli", "serve", "--port", str(free_port())],
        cwd=REPO,
        env=env_for(tmp_path, RECBOT_API__KEYS="my-plain-key"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "sha256" in proc.stderr


def test_a_client_that_disconnects_mid_stream_cancels_its_turn(pristine_data: Path, tmp_path: Path):
    # long replies allowed, so the turn is certainly still generating when the client leaves
    data = data_dir_copy(pristine_data, tmp_path / "data")
    # the LLM words the recommendations (explain=per_item), so it is writing when the client leaves
    server = Server(data, free_port(), tmp_path / "server.log", RECBOT_LLM__MAX_TOKENS="1500",
                    RECBOT_EXPLAIN="per_item").start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            sid = http.post("/v1/sessions").json()["session_id"]
            with http.stream("POST", f"/v1/sessions/{sid}/messages?stream=true", json={"text": WISH}) as r:
                for line in r.iter_lines():
                    if line.startswith("event: text"):  # the model is writing: hang up now
                        break
            deadline = time.monotonic() + 60
            while len(messages := http.get(f"/v1/sessions/{sid}").json()["messages"]) < 2:
                assert time.monotonic() < deadline, "the cancelled turn was never stored"
                time.sleep(0.2)
            assert messages[1]["role"] == "assistant" and messages[1]["cancelled"] is True
            assert len(messages[1]["recommendations"]) == 3  # chosen before the text began: kept
    finally:
        server.stop()
