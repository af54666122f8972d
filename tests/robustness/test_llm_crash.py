"""The local model server crashes mid-turn: the API keeps serving, says so, and loses nothing.

Real parts throughout: the API app, the retriever over the test films, SQLite sessions, and the tiny
model in its own supervised llama.cpp process, killed with a real SIGSEGV or SIGKILL while a turn
streams. (The turn runs through the chat service, as the API's streaming route runs it, so the kill
lands while the reply is being written; readiness, the next turn and the stored session are read
through the API. The backend-level crash and hang tests are in tests/bot/llm/test_supervisor.py.)
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from bot.engine import ConversationEngine, EngineConfig
from bot.llm.llamacpp import LlamaCppLLM
from prompts.loader import PromptLibrary

pytestmark = pytest.mark.slow

WISH = "recommend some scary horror films"
UNAVAILABLE = "the language model is unavailable"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL])
def test_a_model_server_crash_mid_turn_degrades_one_reply_and_recovers(
    retriever, tmp_path: Path, sig: signal.Signals  # noqa: ANN001
):
    from fastapi.testclient import TestClient

    from bot.faces.api import ApiConfig, create_app
    from bot.chat_service import ChatService
    from bot.sessions import SQLiteSessionStore
    from bot.llm.models import packaged_model
    from bot.settings import Settings

    gguf = packaged_model("smollm2-135m").locate(None)
    llm = LlamaCppLLM(str(gguf), n_ctx=1600 + sig, cache_prompt=False, cache_dir=tmp_path)  # its own server
    # the LLM words each card here (explain="per_item"), so the crash hits a turn that is using it
    engine = ConversationEngine(retriever, llm, PromptLibrary(),
                                EngineConfig(k=3, temperature=0.0, explain="per_item", item_tokens=40))
    service = ChatService(engine, SQLiteSessionStore(tmp_path / "sessions.sqlite"), "films")
    app = create_app(Settings(data_dir=tmp_path), service, api_config=ApiConfig(rate_per_minute=0))
    try:
        with TestClient(app) as client:
            assert client.get("/readyz").json()["status"] == "ready"
            sid = client.post("/v1/sessions").json()["session_id"]
            first_pid = llm.server.pid

            kinds, done = [], None
            for event in service.stream(sid, WISH):  # the API's SSE route runs exactly this, in a thread
                kinds.append(event.kind)
                if event.kind == "recommendations":
                    os.kill(first_pid, sig)  # retrieval is done; the LLM is about to write the reply
                if event.kind == "done":
                    done = event.result.to_dict()
            assert kinds[0] == "recommendations" and kinds[-1] == "done" and "text" in kinds
            assert done["degraded"].startswith(UNAVAILABLE)
            assert len(done["recommendations"]) == 3  # still useful: cards and their grounded lines
            assert all(card["label"] in done["text"] for card in done["recommendations"])

            ready = client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
            assert "the language model is restarting" in ready.json()["error"]
            assert signal.Signals(sig).name in ready.json()["error"]

            deadline = time.monotonic() + 120
            while client.get("/readyz").json()["status"] != "ready":
                assert time.monotonic() < deadline, llm.health()
                time.sleep(0.2)
            status = client.get("/readyz").json()["catalogues"]["films"]
            assert status["llm_state"] == "ready" and status["llm_restarts"] == 1
            assert llm.server.pid != first_pid

            again = client.post(f"/v1/sessions/{sid}/messages", json={"text": "show me more"}).json()
            assert again["degraded"] is None and again["recommendations"]
            shown_before = {c["id"] for c in done["recommendations"]}
            assert not shown_before & {c["id"] for c in again["recommendations"]}  # the state survived

            stored = client.get(f"/v1/sessions/{sid}").json()["messages"]
            assert [m["role"] for m in stored] == ["user", "assistant"] * 2
            assert stored[0]["text"] == WISH and stored[1]["degraded"].startswith(UNAVAILABLE)
    finally:
        llm.server.close()
