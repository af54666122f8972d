"""/v1/chat/completions and /v1/models through TestClient: raw HTTP and the real `openai` SDK."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import openai
import pytest
from fastapi.testclient import TestClient

from bot.faces.api import ApiConfig, create_app, hash_key
from tests.bot.faces.api.support import parse_sse

pytestmark = pytest.mark.slow

WISH = "I want a funny comedy from the 90s"


@pytest.fixture(scope="module")
def client(api_settings, chat_service) -> Iterator[TestClient]:  # noqa: ANN001
    config = ApiConfig(keys=[hash_key("sk-test-one"), hash_key("sk-test-two")], rate_per_minute=0)
    with TestClient(
        create_app(api_settings, chat_service, api_config=config),
        headers={"authorization": "Bearer sk-test-one"},
    ) as c:
        yield c


@pytest.fixture(scope="module")
def sdk(client: TestClient) -> openai.OpenAI:
    """The official SDK, sending its requests through the in-process app (TestClient is an httpx.Client)."""
    return openai.OpenAI(
        base_url="http://testserver/v1", api_key="sk-test-one", http_client=client, max_retries=0
    )


def ask(text: str) -> list[dict]:
    return [{"role": "system", "content": "You are a shop assistant."}, {"role": "user", "content": text}]


def test_models_are_the_served_catalogues(client: TestClient, sdk: openai.OpenAI):
    body = client.get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["movies"]
    assert [m.id for m in sdk.models.list()] == ["movies"]


def test_completion_has_openai_shape_plus_recommendations(client: TestClient, chat_service):
    r = client.post(
        "/v1/chat/completions",
        json={"model": "movies", "messages": ask(WISH), "temperature": 0.9, "max_tokens": 5, "top_p": 0.5},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["object"] == "chat.completion"
        and body["model"] == "movies"
        and body["id"].startswith("chatcmpl-")
    )
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"].strip()
    assert choice["finish_reason"] == "stop"
    recs = body["recommendations"]
    assert len(recs) == 3 and choice["message"]["recommendations"] == recs
    assert all(chat_service.engine.catalogue.get(rec["id"]) for rec in recs)
    assert body["recbot"]["action"] == "recommend"
    sid = body["session_id"]
    assert r.headers["x-session-id"] == sid
    stored = client.get(f"/v1/sessions/{sid}").json()["messages"]
    assert [m["text"] for m in stored] == [WISH, choice["message"]["content"]]


def test_sdk_completion_and_stream_carry_recommendations_as_extras(sdk: openai.OpenAI, chat_service):
    completion = sdk.chat.completions.create(model="movies", messages=ask(WISH))
    text = completion.choices[0].message.content
    assert text and text.strip()
    recs = completion.model_extra["recommendations"]
    assert len(recs) == 3 and all(chat_service.engine.catalogue.get(r["id"]) for r in recs)

    sid = completion.model_extra["session_id"]
    stream = sdk.chat.completions.create(
        model="movies",
        messages=ask("more comedies from the 90s please"),
        stream=True,
        extra_headers={"X-Session-Id": sid},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" and c.model_extra["session_id"] == sid for c in chunks)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed.strip()
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    again = final.model_extra["recommendations"]
    assert len(again) == 3 and not {r["id"] for r in again} & {
        r["id"] for r in recs
    }  # same session: new items


def test_stream_wire_format_ends_with_done(client: TestClient):
    with client.stream(
        "POST",
        "/v1/chat/completions",
        json={
            "model": "movies",
            "messages": ask(WISH),
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        sid = r.headers["x-session-id"]
        events = parse_sse(r.iter_lines())
    assert all(name is None for name, _ in events)  # OpenAI streams have no event names
    assert events[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and len(chunks[-1]["recommendations"]) == 3
    assert len({c["id"] for c in chunks}) == 1 and all(c["session_id"] == sid for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert client.get(f"/v1/sessions/{sid}").json()["messages"][-1]["text"] == text.strip()


def test_user_field_keeps_one_session_per_user(client: TestClient, api_data_dir):
    def call(user: str, text: str) -> str:
        r = client.post("/v1/chat/completions", json={"model": "movies", "user": user, "messages": ask(text)})
        assert r.status_code == 200, r.text
        return r.json()["session_id"]

    a1 = call("customer-42", "hello")
    a2 = call("customer-42", WISH)
    b1 = call("customer-43", "hello")
    assert a1 == a2 and b1 != a1
    assert client.get(f"/v1/sessions/{a1}").json()["state"]["turn"] == 2

    # another API key with the same user name gets its own session
    r = client.post(
        "/v1/chat/completions",
        headers={"authorization": "Bearer sk-test-two"},
        json={"model": "movies", "user": "customer-42", "messages": ask("hello")},
    )
    assert r.json()["session_id"] != a1

    # the mapping lives in the session store (shared by replicas), and goes with its session:
    # deleting the session removes it; the next call starts afresh
    with sqlite3.connect(api_data_dir / "sessions.sqlite") as con:
        assert con.execute("SELECT COUNT(*) FROM user_sessions WHERE session_id = ?", (a1,)).fetchone()[0] == 1
    assert client.delete(f"/v1/sessions/{a1}").status_code == 200
    with sqlite3.connect(api_data_dir / "sessions.sqlite") as con:
        assert (
            con.execute("SELECT COUNT(*) FROM user_sessions WHERE session_id = ?", (a1,)).fetchone()[0] == 0
        )
    a3 = call("customer-42", "hello")
    assert a3 != a1 and client.get(f"/v1/sessions/{a3}").json()["state"]["turn"] == 1


def test_without_user_or_header_each_call_is_a_new_session(client: TestClient):
    body = {"model": "movies", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    s1 = client.post("/v1/chat/completions", json=body).json()["session_id"]
    s2 = client.post("/v1/chat/completions", json=body).json()["session_id"]
    assert s1 != s2
    assert client.get(f"/v1/sessions/{s1}").json()["messages"][0]["text"] == "hi"  # content parts are read


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        ({"model": "gpt-4o", "messages": ask("hi")}, {}, 404, "model_not_found"),
        ({"model": "movies", "messages": []}, {}, 422, "invalid_request"),
        (
            {"model": "movies", "messages": [{"role": "system", "content": "be nice"}]},
            {},
            422,
            "no_user_message",
        ),
        ({"model": "movies", "messages": [{"role": "wizard", "content": "hi"}]}, {}, 422, "invalid_request"),
        ({"model": "movies", "messages": [{"role": "user", "content": "  "}]}, {}, 422, "empty_text"),
        (
            {"model": "movies", "messages": [{"role": "user", "content": "x" * 2001}]},
            {},
            422,
            "text_too_long",
        ),
        ({"model": "movies", "messages": ask("hi"), "n": 2}, {}, 422, "invalid_request"),
        ({"messages": ask("hi")}, {}, 422, "invalid_request"),
        ({"model": "movies", "messages": ask("hi")}, {"x-session-id": "f" * 32}, 404, "session_not_found"),
        ({"model": "movies", "messages": ask("hi")}, {"authorization": "Bearer wrong"}, 401, "unauthorized"),
    ],
)
def test_chat_completion_bad_input(client: TestClient, body: dict, headers: dict, status: int, code: str):
    r = client.post("/v1/chat/completions", json=body, headers=headers)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]


def test_sdk_raises_its_own_errors_from_our_error_bodies(client: TestClient, sdk: openai.OpenAI):
    with pytest.raises(openai.NotFoundError, match="does not exist here"):
        sdk.chat.completions.create(model="gpt-4o", messages=ask("hi"))
    bad = openai.OpenAI(
        base_url="http://testserver/v1", api_key="sk-wrong", http_client=client, max_retries=0
    )
    with pytest.raises(openai.AuthenticationError, match="not valid"):
        bad.chat.completions.create(model="movies", messages=ask("hi"))
