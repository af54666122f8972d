"""Faults in what recbot depends on: an LLM server that stalls, a Chroma server that goes away.

The faults are real: a loopback TCP server that accepts the LLM request and never answers (or keeps
the stream open with keep-alive comments only, as sse-starlette servers do), and a real ``chroma run``
server killed with SIGKILL. Retrieval, the embedder and, where a reply must be written, the tiny LLM
are the real ones. ``@pytest.mark.timeout`` is the hang guard: a turn that hangs fails the test.

(A server killed in the middle of a turn is tested with the other ``recbot serve`` restarts, in
tests/bot/faces/api/test_server.py.)
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from bot.engine import ConversationEngine, EngineConfig
from bot.llm.openai_compat import OpenAICompatLLM
from bot.state import SessionState
from prompts.loader import PromptLibrary
from retrieval.schema import Query
from tests.bot.faces.api.support import parse_sse
from tests.retrieval.conftest import ChromaServer

pytestmark = pytest.mark.slow  # the real embedder and retrieval, real servers

LLM_TIMEOUT_S = 1.0
WISH = "recommend some scary horror films"
UNAVAILABLE = "the language model is unavailable"


class StallingServer:
    """An HTTP endpoint on loopback that takes requests and never answers them.

    ``silent``: accepts the connection, reads the request, sends nothing. ``keepalive``: sends the
    headers of an event stream, then only ``: ping`` comments, a few a second, until closed.
    ``requests`` counts the requests received.
    """

    def __init__(self, mode: Literal["silent", "keepalive"]) -> None:
        self.mode = mode
        self.requests = 0
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept, name="stalling-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def __enter__(self) -> StallingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._conns:
            conn.close()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self._conns.append(conn)
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            if b"\r\n\r\n" not in conn.recv(65536):
                return
            self.requests += 1
            if self.mode == "keepalive":
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                    b"transfer-encoding: chunked\r\n\r\n"
                )
                ping = b": ping\n\n"
                while not self._stop.wait(0.2):
                    conn.sendall(b"%x\r\n%s\r\n" % (len(ping), ping))
        except OSError:  # the client gave up and closed: what it should do
            pass


@pytest.fixture
def stalled(request) -> Iterator[StallingServer]:  # noqa: ANN001
    with StallingServer(getattr(request, "param", "silent")) as server:
        yield server


def stalled_engine(retriever, url: str) -> ConversationEngine:  # noqa: ANN001
    llm = OpenAICompatLLM("stalled", base_url=url, timeout_s=LLM_TIMEOUT_S)
    # the LLM words the recommendations here (explain="per_item"), so a recommendation turn waits on it
    return ConversationEngine(retriever, llm, PromptLibrary(), EngineConfig(k=3, temperature=0.0, explain="per_item"))


# ------------------------------------------------------------------------------------- a stalled LLM


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stalled", ["silent", "keepalive"], indirect=True)
def test_a_stalled_llm_server_gives_a_degraded_reply_not_a_hang(retriever, stalled):  # noqa: ANN001
    engine = stalled_engine(retriever, stalled.url)
    state = SessionState()

    chat = engine.run_turn(state, "hi there!")  # small talk: the fallback line, marked degraded
    assert chat.action == "chitchat" and not chat.recommendations
    assert chat.degraded.startswith(UNAVAILABLE) and "timed out" in chat.degraded
    assert "127.0.0.1" not in chat.degraded and "http" not in chat.degraded  # no internals for clients
    assert chat.text == "Hi! I help you find movies. What are you in the mood for?"  # the fixed greeting
    assert stalled.requests == 1

    rec = engine.run_turn(state, WISH)
    assert rec.action == "recommend" and len(rec.recommendations) == 3 and not rec.cancelled
    assert rec.degraded.startswith(UNAVAILABLE) and "timed out" in rec.degraded
    # still useful: every card is in the reply with its reason from retrieval
    for r in rec.recommendations:
        assert f"{r.label}: {r.why}." in rec.text
    # the first item's call timed out; the others were not tried (one wait per turn, not one per item)
    assert stalled.requests == 2
    assert state.turn == 2 and state.shown_ids == [r.id for r in rec.recommendations]


@pytest.mark.timeout(60)
def test_the_api_reply_carries_the_degraded_reason(retriever, stalled, tmp_path: Path):  # noqa: ANN001
    from fastapi.testclient import TestClient

    from bot.faces.api import ApiConfig, create_app
    from bot.chat_service import ChatService
    from bot.sessions import SQLiteSessionStore
    from bot.settings import Settings

    service = ChatService(
        stalled_engine(retriever, stalled.url), SQLiteSessionStore(tmp_path / "sessions.sqlite"), "films"
    )
    app = create_app(Settings(data_dir=tmp_path), service, api_config=ApiConfig(rate_per_minute=0))
    with TestClient(app) as client:
        sid = client.post("/v1/sessions").json()["session_id"]
        r = client.post(f"/v1/sessions/{sid}/messages", json={"text": WISH})
        assert r.status_code == 200, r.text
        reply = r.json()
        assert reply["degraded"].startswith(UNAVAILABLE) and len(reply["recommendations"]) == 3
        assert all(card["label"] in reply["text"] for card in reply["recommendations"])

        with client.stream(
            "POST", f"/v1/sessions/{sid}/messages?stream=true", json={"text": "show me more"}
        ) as r:
            events = parse_sse(r.iter_lines())
        assert [name for name, _ in events][-1] == "done"
        done = json.loads(events[-1][1])
        assert done["degraded"].startswith(UNAVAILABLE) and done["recommendations"]

        stored = client.get(f"/v1/sessions/{sid}").json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"] * 2
    assert all(m["degraded"].startswith(UNAVAILABLE) for m in stored if m["role"] == "assistant")


# --------------------------------------------------------------------------- a Chroma server goes away


@pytest.mark.timeout(300)
def test_chroma_server_going_away_falls_back_to_memory_and_readyz_says_so(
    films, embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
):  # noqa: ANN001
    import dataclasses

    from fastapi.testclient import TestClient

    from bot.faces.api import ApiConfig, create_app
    from bot.chat_service import ChatService
    from bot.llm.factory import create_llm
    from bot.sessions import SQLiteSessionStore
    from bot.settings import Settings
    from retrieval.index import CatalogueIndex, store_config_for
    from retrieval.retriever import RetrievalConfig, Retriever
    from retrieval.store import ChromaStore

    chroma = ChromaServer(tmp_path / "chroma").start()
    try:
        store = ChromaStore(store_config_for(tmp_path / "index", "http", chroma.host, chroma.port))
        index = CatalogueIndex("films", tmp_path / "index", store)
        index.ingest(films, embedder, progress=False)
        retriever = Retriever(index.open(), embedder)
        memory = dataclasses.replace(RetrievalConfig(), filter_mode="memory")
        exact = Retriever(retriever.snapshot, embedder, memory)  # never asks Chroma
        query = Query(text="a haunted house and a scary ghost", k=3)

        def ids(r: Retriever) -> list[str]:
            return [c.item.id for c in r.retrieve(query)]

        assert ids(retriever) == ids(exact)
        assert retriever.dense_calls == {"chroma": 1, "memory": 0, "fallback": 0}

        engine = ConversationEngine(
            retriever, create_llm("llamacpp", "smollm2-135m"), PromptLibrary(),
            EngineConfig(k=3, temperature=0.0, item_tokens=24),
        )
        service = ChatService(engine, SQLiteSessionStore(tmp_path / "sessions.sqlite"), "films")
        http_store = {"mode": "http", "host": chroma.host, "port": chroma.port}
        settings = Settings(data_dir=tmp_path, store=http_store)
        app = create_app(settings, service, api_config=ApiConfig(rate_per_minute=0))
        with TestClient(app) as client:
            assert client.get("/readyz").json()["status"] == "ready"

            chroma.kill()
            with caplog.at_level(logging.WARNING, logger="retrieval.retriever"):
                after = ids(retriever)
            # the same answer, from the in-memory vectors, and a warning that says why
            assert after == ids(exact)
            assert retriever.dense_calls["fallback"] == 1 and retriever.dense_calls["chroma"] == 1
            assert any("using the in-memory index" in r.getMessage() for r in caplog.records)

            ready = client.get("/readyz")
            assert ready.status_code == 200  # still serving, from memory
            assert ready.json()["status"] == "degraded"
            assert "films: the vector store does not answer" in ready.json()["error"]

            sid = client.post("/v1/sessions").json()["session_id"]
            reply = client.post(f"/v1/sessions/{sid}/messages", json={"text": WISH}).json()
            assert reply["action"] == "recommend" and len(reply["recommendations"]) == 3
            assert reply["degraded"] is None  # the LLM is fine; retrieval answered from memory
            assert retriever.dense_calls["fallback"] == 2

            # the server comes back on the same path and port: Chroma answers again
            chroma = ChromaServer(tmp_path / "chroma", port=chroma.port).start()
            assert client.get("/readyz").json()["status"] == "ready"
            assert ids(retriever) == ids(exact)
            assert retriever.dense_calls["chroma"] == 2
    finally:
        chroma.stop()
