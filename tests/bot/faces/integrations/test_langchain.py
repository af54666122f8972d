"""The LangChain retriever, turn Runnable and tool, on the real index and the tiny real LLM."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableLambda

from bot.faces.integrations.langchain import RecbotChat, RecbotRetriever, TurnInput
from bot.sessions import SessionNotFound
from tests.bot.faces.api.support import REPO, TINY, data_dir_copy, env_for

pytestmark = pytest.mark.slow

WISH = "I want a funny comedy from the 90s"


@pytest.fixture(scope="module")
def retriever(lc_service):  # noqa: ANN001, ANN201
    return lc_service.engine.catalogue


def test_retriever_returns_documents_with_item_metadata(retriever):  # noqa: ANN001
    docs = RecbotRetriever(retriever=retriever, k=4).invoke("funny space adventure")
    assert len(docs) == 4 and all(isinstance(d, Document) for d in docs)
    for doc in docs:
        item = retriever.get(doc.id)
        assert item is not None and doc.page_content == item.text
        meta = doc.metadata
        assert meta["id"] == item.id and meta["label"] == item.label and meta["genres"] == list(item.genres)
        assert meta["facts"] == dict(item.facts) and meta["reasons"]
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)


def test_retriever_filters_are_hard_constraints(retriever):  # noqa: ANN001
    everything = RecbotRetriever(retriever=retriever, k=20).invoke("scary monster")
    assert any("horror" in d.metadata["genres"] for d in everything)  # the control: horror would come up
    filtered = RecbotRetriever(retriever=retriever, k=20, exclude_genres=["horror"], years=(1990, 1999))
    docs = filtered.invoke("scary monster")
    assert docs and all("horror" not in d.metadata["genres"] for d in docs)
    assert all(1990 <= d.metadata["year"] <= 1999 for d in docs)


def test_retriever_composes_in_a_chain_and_batches(retriever):  # noqa: ANN001
    chain = RecbotRetriever(retriever=retriever, k=2) | RunnableLambda(
        lambda docs: [d.metadata["label"] for d in docs]
    )
    out = chain.batch(["romantic comedy", "war film"])
    assert len(out) == 2 and all(len(labels) == 2 for labels in out) and out[0] != out[1]


def test_turn_runnable_starts_and_continues_a_session(lc_service):  # noqa: ANN001
    chat = RecbotChat(lc_service)
    first = chat.invoke(WISH)
    assert set(first) == {"session_id", "text", "action", "recommendations", "cancelled", "degraded"}
    assert first["action"] == "recommend" and len(first["recommendations"]) == 3 and first["text"].strip()
    assert all(lc_service.engine.catalogue.get(r["id"]) for r in first["recommendations"])

    second = chat.invoke({"text": "more comedies from the 90s please", "session_id": first["session_id"]})
    assert second["session_id"] == first["session_id"]
    assert not {r["id"] for r in second["recommendations"]} & {r["id"] for r in first["recommendations"]}
    stored = lc_service.store.messages(first["session_id"])
    assert [m.role for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[-1].text == second["text"]


def test_turn_runnable_streams_events_in_order(lc_service):  # noqa: ANN001
    events = list(RecbotChat(lc_service).stream(TurnInput(text=WISH)))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "recommendations" and kinds[-1] == "done" and set(kinds[1:-1]) == {"text"}
    done = events[-1]
    assert done["text"] == "".join(e["text"] for e in events if e["type"] == "text").strip()
    assert [r["id"] for r in events[0]["recommendations"]] == [r["id"] for r in done["recommendations"]]


def test_turn_runnable_rejects_bad_input(lc_service):  # noqa: ANN001
    chat = RecbotChat(lc_service)
    with pytest.raises(ValueError, match="empty"):
        chat.invoke("   ")
    with pytest.raises(SessionNotFound):
        chat.invoke({"text": "hello", "session_id": "0" * 32})
    with pytest.raises(TypeError, match="str, a dict or a TurnInput"):
        chat.invoke(42)
    with pytest.raises(ValueError):
        chat.invoke({"session_id": "x"})  # no text


def test_as_tool_gives_agents_a_typed_recommend_tool(lc_service):  # noqa: ANN001
    tool = RecbotChat(lc_service).as_tool()
    assert tool.name == "recommend" and "session_id" in tool.description
    assert set(tool.args) == {"text", "session_id"}
    assert tool.tool_call_schema.model_json_schema()["required"] == ["text"]
    message = tool.invoke({"type": "tool_call", "id": "call_7", "name": "recommend", "args": {"text": WISH}})
    assert isinstance(message, ToolMessage) and message.tool_call_id == "call_7"
    reply = json.loads(message.content)
    assert reply["action"] == "recommend" and len(reply["recommendations"]) == 3
    assert lc_service.store.get(reply["session_id"]).state.turn == 1


def test_example_runs_offline(lc_pristine: Path, tmp_path: Path):
    data = data_dir_copy(lc_pristine, tmp_path / "data")
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "langchain_agent.py"),
            "--data-dir",
            str(data),
            "--model",
            TINY,
        ],
        cwd=tmp_path,
        env=env_for(data),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for needle in (
        "== retriever",
        "== chain",
        "== agent tools: recommend, search_catalogue",
        "(same as the chain's: True)",
        "-> search_catalogue",
    ):
        assert needle in out, needle
    assert "Warning" not in proc.stderr
