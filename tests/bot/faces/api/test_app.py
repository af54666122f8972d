"""The session API on the real engine (300 movies, SmolLM2-135M, SQLite sessions) through TestClient."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.faces.api import ApiConfig, create_app, hash_key
from tests.bot.faces.api.support import parse_sse

pytestmark = pytest.mark.slow  # every test here runs the real index and the real LLM

OPEN = ApiConfig(rate_per_minute=0)  # no auth, no rate limit: the tests of those build their own app
WISH = "I want a funny comedy from the 90s"


@pytest.fixture(scope="module")
def client(api_settings, chat_service) -> Iterator[TestClient]:  # noqa: ANN001
    with TestClient(create_app(api_settings, chat_service, api_config=OPEN)) as c:
        yield c


@pytest.fixture(scope="module")
def recommended(client: TestClient) -> dict:
    """A session after one message that asks for recommendations, and the reply."""
    sid = client.post("/v1/sessions").json()["session_id"]
    r = client.post(f"/v1/sessions/{sid}/messages", json={"text": WISH})
    assert r.status_code == 200, r.text
    return r.json()


def error_code(r) -> str:  # noqa: ANN001
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    assert body["error"]["message"]
    return body["error"]["code"]


# ----------------------------------------------------------------------------------------- health


def test_health_and_readiness(client: TestClient):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["catalogues"]["movies"]["items"] == 300
    assert "smollm2" in body["catalogues"]["movies"]["llm"]
    assert body["catalogues"]["movies"]["ranker"] == "transfer"  # the packaged ranker, on any catalogue
    assert body["catalogues"]["movies"]["llm_state"] == "ready"


def test_not_ready_until_started_then_ready(api_settings):  # noqa: ANN001
    app = create_app(api_settings, catalogues=["movies"], api_config=OPEN)
    cold = TestClient(app)  # no `with`: the lifespan (which starts loading) has not run
    assert cold.get("/healthz").status_code == 200
    assert cold.get("/readyz").status_code == 503 and cold.get("/readyz").json()["status"] == "loading"
    r = cold.post("/v1/sessions")
    assert r.status_code == 503 and error_code(r) == "not_ready" and r.headers["retry-after"] == "5"
    with TestClient(app) as warm:
        assert app.state.recbot.wait_ready(timeout=120)
        assert warm.get("/readyz").json()["status"] == "ready"
        assert warm.post("/v1/sessions").status_code == 201


def test_a_catalogue_that_cannot_load_fails_readiness_with_the_reason(api_settings):  # noqa: ANN001
    app = create_app(api_settings, catalogues=["no-such-catalogue"], api_config=OPEN)
    with TestClient(app) as c:
        deadline = time.monotonic() + 60  # the load thread fails within a second
        while app.state.recbot.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["status"] == "failed" and "no-such-catalogue" in r.json()["error"]
        r = c.post("/v1/sessions")
        assert r.status_code == 503 and "no-such-catalogue" in r.json()["error"]["message"]
        assert c.get("/healthz").status_code == 200


# --------------------------------------------------------------------------------------- sessions


def test_create_session_with_and_without_a_body(client: TestClient):
    r = client.post("/v1/sessions")
    assert r.status_code == 201 and r.json()["catalogue"] == "movies" and len(r.json()["session_id"]) == 32
    r = client.post("/v1/sessions", json={"catalogue": "movies", "meta": {"ticket": "CS-1", "priority": 2}})
    assert r.status_code == 201
    detail = client.get(f"/v1/sessions/{r.json()['session_id']}").json()
    assert detail["meta"] == {"ticket": "CS-1", "priority": 2}
    assert detail["messages"] == [] and detail["feedback"] == [] and detail["state"]["turn"] == 0


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"catalogue": "recipes-nope"}}, 404, "catalogue_not_found"),
        ({"json": {"catalog": "movies"}}, 422, "invalid_request"),
        ({"json": {"meta": {"nested": {"a": 1}}}}, 422, "invalid_request"),
        ({"json": {"meta": {f"k{i}": i for i in range(40)}}}, 422, "invalid_request"),
        (
            {"content": b'{"catalogue": ', "headers": {"content-type": "application/json"}},
            400,
            "invalid_json",
        ),
        ({"json": ["movies"]}, 422, "invalid_request"),
    ],
)
def test_create_session_bad_input(client: TestClient, kwargs: dict, status: int, code: str):
    r = client.post("/v1/sessions", **kwargs)
    assert r.status_code == status and error_code(r) == code


def test_unknown_session_is_404_on_every_route(client: TestClient):
    sid = "0" * 32
    for method, path, body in [
        ("GET", "", None),
        ("DELETE", "", None),
        ("POST", "/messages", {"text": "hi"}),
        ("POST", "/feedback", {"item_id": "1", "kind": "like"}),
        ("POST", "/reset", None),
    ]:
        r = client.request(method, f"/v1/sessions/{sid}{path}", json=body)
        assert r.status_code == 404 and error_code(r) == "session_not_found", (method, path, r.text)
    r = client.get("/v1/sessions/" + "x" * 101)
    assert r.status_code == 422 and error_code(r) == "invalid_request"


def test_unknown_routes_and_methods_answer_in_the_error_shape(client: TestClient):
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = client.put("/v1/sessions")
    assert r.status_code == 405 and error_code(r) == "method_not_allowed"


# --------------------------------------------------------------------------------------- messages


def test_a_message_gets_a_grounded_reply_with_recommendations_from_the_catalogue(
    client, chat_service, recommended
):
    reply = recommended
    assert reply["action"] == "recommend" and reply["text"].strip()
    recs = reply["recommendations"]
    assert len(recs) == 3
    for rec in recs:
        item = chat_service.engine.catalogue.get(rec["id"])
        assert item is not None and rec["title"] == item.title and rec["label"] == item.label
        assert set(rec) == {"id", "title", "year", "label", "genres", "facts", "why", "reasons", "score", "people",
                            "plot"}
        assert rec["people"].get("director")  # the bundled films name their directors
        assert rec["why"] and isinstance(rec["score"], float)
        assert 1990 <= rec["year"] <= 1999  # "from the 90s" is a hard constraint
    detail = client.get(f"/v1/sessions/{reply['session_id']}").json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    assert detail["messages"][0]["text"] == WISH
    assert detail["messages"][1]["text"] == reply["text"]
    assert [r["id"] for r in detail["messages"][1]["recommendations"]] == [r["id"] for r in recs]
    assert detail["state"]["turn"] == 1 and detail["state"]["shown_ids"] == [r["id"] for r in recs]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_request"),
        ({"text": 5}, "invalid_request"),
        ({"text": "hi", "extra": 1}, "invalid_request"),
        ({"text": "   \n"}, "empty_text"),
        ({"text": "a" * 2001}, "text_too_long"),
    ],
)
def test_message_bad_input_is_422(client: TestClient, body: dict, code: str):
    sid = client.post("/v1/sessions").json()["session_id"]
    r = client.post(f"/v1/sessions/{sid}/messages", json=body)
    assert r.status_code == 422 and error_code(r) == code
    assert client.get(f"/v1/sessions/{sid}").json()["messages"] == []  # nothing was stored


def test_streamed_turn_sends_recommendations_then_text_then_done(client: TestClient, chat_service):
    sid = client.post("/v1/sessions").json()["session_id"]
    with client.stream("POST", f"/v1/sessions/{sid}/messages?stream=true", json={"text": WISH}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(r.iter_lines())
    kinds = [name for name, _ in events]
    assert kinds[0] == "recommendations" and kinds[-1] == "done"
    assert set(kinds[1:-1]) == {"text"} and len(kinds) >= 3
    cards = json.loads(events[0][1])["recommendations"]
    done = json.loads(events[-1][1])
    streamed = "".join(json.loads(data)["text"] for name, data in events if name == "text")
    assert done["text"] == streamed.strip() and done["action"] == "recommend"
    assert [c["id"] for c in cards] == [c["id"] for c in done["recommendations"]]
    assert all(chat_service.engine.catalogue.get(c["id"]) for c in cards)
    stored = client.get(f"/v1/sessions/{sid}").json()["messages"]
    assert stored[-1]["role"] == "assistant" and stored[-1]["text"] == done["text"]


def test_streaming_errors_before_the_stream_are_plain_json(client: TestClient):
    r = client.post(
        "/v1/sessions/" + "0" * 32 + "/messages", json={"text": "hi"}, headers={"accept": "text/event-stream"}
    )
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert error_code(r) == "session_not_found"


# --------------------------------------------------------------------------------------- feedback


def test_feedback_is_stored_and_steers_the_next_streamed_turn(client: TestClient, recommended: dict):
    sid = recommended["session_id"]
    first = [r["id"] for r in recommended["recommendations"]]
    r = client.post(f"/v1/sessions/{sid}/feedback", json={"item_id": first[0], "kind": "like"})
    assert r.status_code == 200, r.text
    ack = r.json()
    assert ack["liked_ids"] == [first[0]] and ack["label"] == recommended["recommendations"][0]["label"]
    r = client.post(f"/v1/sessions/{sid}/feedback", json={"item_id": first[1], "kind": "seen"})
    assert r.json()["seen_ids"] == [first[1]]

    # the SSE form chosen by the Accept header this time
    with client.stream(
        "POST",
        f"/v1/sessions/{sid}/messages",
        json={"text": "more comedies from the 90s please"},
        headers={"accept": "text/event-stream"},
    ) as resp:
        events = parse_sse(resp.iter_lines())
    done = json.loads(events[-1][1])
    assert events[-1][0] == "done" and done["action"] == "recommend"
    again = {r["id"] for r in done["recommendations"]}
    assert again and not again & set(first)  # liked, seen and shown items are not recommended again

    detail = client.get(f"/v1/sessions/{sid}").json()
    assert [(f["kind"], f["item_id"]) for f in detail["feedback"]] == [("like", first[0]), ("seen", first[1])]
    assert first[0] in detail["state"]["liked_ids"] and detail["state"]["turn"] == 2


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"item_id": "no-such-item", "kind": "like"}, 404, "item_not_found"),
        ({"item_id": "27411", "kind": "love"}, 422, "invalid_request"),
        ({"item_id": "", "kind": "like"}, 422, "invalid_request"),
        ({"kind": "like"}, 422, "invalid_request"),
    ],
)
def test_feedback_bad_input(client: TestClient, body: dict, status: int, code: str):
    sid = client.post("/v1/sessions").json()["session_id"]
    r = client.post(f"/v1/sessions/{sid}/feedback", json=body)
    assert r.status_code == status and error_code(r) == code
    if status == 404:
        assert "no-such-item" in r.json()["error"]["message"]
    assert client.get(f"/v1/sessions/{sid}").json()["feedback"] == []


def test_reset_forgets_preferences_but_keeps_the_history(client: TestClient, chat_service):
    sid = client.post("/v1/sessions").json()["session_id"]
    item = chat_service.engine.catalogue.items[0].id
    client.post(f"/v1/sessions/{sid}/feedback", json={"item_id": item, "kind": "dislike"})
    assert client.get(f"/v1/sessions/{sid}").json()["state"]["disliked_ids"] == [item]
    assert client.post(f"/v1/sessions/{sid}/reset").status_code == 200
    detail = client.get(f"/v1/sessions/{sid}").json()
    assert detail["state"]["disliked_ids"] == [] and len(detail["feedback"]) == 1


# ----------------------------------------------------------------------------------------- delete


def test_delete_removes_every_row_of_the_session(client: TestClient, api_data_dir, chat_service):
    sid = client.post("/v1/sessions").json()["session_id"]
    item = chat_service.engine.catalogue.items[0].id
    client.post(f"/v1/sessions/{sid}/feedback", json={"item_id": item, "kind": "seen"})
    client.post(f"/v1/sessions/{sid}/messages", json={"text": "hello there"})
    db = api_data_dir / "sessions.sqlite"

    def rows() -> list[int]:
        with sqlite3.connect(db) as con:
            return [
                con.execute(f"SELECT COUNT(*) FROM {t} WHERE {c} = ?", (sid,)).fetchone()[0]
                for t, c in (("sessions", "id"), ("messages", "session_id"), ("feedback", "session_id"))
            ]

    assert rows() == [1, 2, 1]
    r = client.delete(f"/v1/sessions/{sid}")
    assert r.status_code == 200 and r.json() == {"session_id": sid, "deleted": True}
    assert rows() == [0, 0, 0]
    assert client.get(f"/v1/sessions/{sid}").status_code == 404
    assert client.delete(f"/v1/sessions/{sid}").status_code == 404


# -------------------------------------------------------------------------------- auth and limits


@pytest.fixture(scope="module")
def keyed(api_settings, chat_service) -> Iterator[TestClient]:  # noqa: ANN001
    config = ApiConfig(keys=[hash_key("key-one"), hash_key("key-two")], rate_per_minute=0)
    with TestClient(create_app(api_settings, chat_service, api_config=config)) as c:
        yield c


def test_api_keys_are_required_when_configured(keyed: TestClient):
    r = keyed.post("/v1/sessions")
    assert (
        r.status_code == 401 and error_code(r) == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
    )
    r = keyed.post("/v1/sessions", headers={"authorization": "Bearer key-three"})
    assert r.status_code == 401 and "not valid" in r.json()["error"]["message"]
    assert keyed.get("/v1/models").status_code == 401
    assert keyed.get("/healthz").status_code == 200 and keyed.get("/readyz").status_code == 200
    assert keyed.post("/v1/sessions", headers={"authorization": "Bearer key-one"}).status_code == 201
    assert keyed.post("/v1/sessions", headers={"x-api-key": "key-two"}).status_code == 201


def test_a_session_is_visible_only_to_the_key_that_created_it(keyed: TestClient):
    one, two = {"x-api-key": "key-one"}, {"x-api-key": "key-two"}
    sid = keyed.post("/v1/sessions", headers=one).json()["session_id"]
    assert keyed.get(f"/v1/sessions/{sid}", headers=one).status_code == 200
    r = keyed.get(f"/v1/sessions/{sid}", headers=two)
    assert r.status_code == 404 and error_code(r) == "session_not_found"
    assert keyed.delete(f"/v1/sessions/{sid}", headers=two).status_code == 404
    assert keyed.get(f"/v1/sessions/{sid}", headers=one).status_code == 200  # still there


def test_rate_limit_per_key_answers_429_with_retry_after(api_settings, chat_service):  # noqa: ANN001
    config = ApiConfig(keys=[hash_key("key-one"), hash_key("key-two")], rate_per_minute=6, burst=3)
    with TestClient(create_app(api_settings, chat_service, api_config=config)) as c:
        one = {"authorization": "Bearer key-one"}
        assert [c.get("/v1/models", headers=one).status_code for _ in range(3)] == [200, 200, 200]
        r = c.get("/v1/models", headers=one)
        assert r.status_code == 429 and error_code(r) == "rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 10  # one token every 10 s
        assert c.get("/v1/models", headers={"x-api-key": "key-two"}).status_code == 200  # own bucket
        assert c.get("/healthz").status_code == 200  # probes are never limited
        # failed attempts are limited per client address: no fast key guessing
        codes = [c.get("/v1/models", headers={"x-api-key": f"guess-{i}"}).status_code for i in range(5)]
        assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]


def test_request_body_size_limit_is_413_declared_or_chunked(api_settings, chat_service):  # noqa: ANN001
    config = ApiConfig(rate_per_minute=0, max_body_bytes=2048, max_text_chars=5000)
    with TestClient(create_app(api_settings, chat_service, api_config=config)) as c:
        sid = c.post("/v1/sessions").json()["session_id"]
        big = json.dumps({"text": "word " * 1000}).encode()
        r = c.post(f"/v1/sessions/{sid}/messages", content=big, headers={"content-type": "application/json"})
        assert (
            r.status_code == 413
            and error_code(r) == "body_too_large"
            and "2048" in r.json()["error"]["message"]
        )

        def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes are counted as they arrive
            for i in range(0, len(big), 512):
                yield big[i : i + 512]

        r = c.post(
            f"/v1/sessions/{sid}/messages", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413 and error_code(r) == "body_too_large"
        assert c.get(f"/v1/sessions/{sid}").json()["messages"] == []


# --------------------------------------------------------------------------------- UI hook, OpenAPI


def test_mount_ui_hook_mounts_a_ui_beside_the_api(api_settings, chat_service):  # noqa: ANN001
    seen = {}

    def mount(app: FastAPI) -> None:
        ui = FastAPI()

        @ui.post("/upload")
        async def upload(payload: dict) -> dict:
            return {"size": len(payload["data"])}

        seen["runtime"] = app.state.recbot
        app.mount("/ui", ui)

    config = ApiConfig(rate_per_minute=0, max_body_bytes=1024)
    with TestClient(create_app(api_settings, chat_service, api_config=config, mount_ui=mount)) as c:
        assert seen["runtime"].services()["movies"] is chat_service  # the UI can reuse the API's service
        r = c.post("/ui/upload", json={"data": "x" * 5000})  # the API's body limit stays on /v1
        assert r.status_code == 200 and r.json() == {"size": 5000}
        assert c.post("/v1/sessions").status_code == 201


def test_openapi_documents_routes_examples_and_errors(client: TestClient):
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for path in [
        "/v1/sessions",
        "/v1/sessions/{session_id}",
        "/v1/sessions/{session_id}/messages",
        "/v1/sessions/{session_id}/feedback",
        "/v1/chat/completions",
        "/v1/models",
        "/healthz",
        "/readyz",
    ]:
        assert path in paths, path
    schemas = doc["components"]["schemas"]
    assert schemas["MessageRequest"]["examples"][0]["text"]
    assert schemas["FeedbackRequest"]["examples"]
    post = paths["/v1/sessions/{session_id}/messages"]["post"]
    assert "text/event-stream" in post["responses"]["200"]["content"]
    assert post["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorResponse"
    )
    assert {"HTTPBearer", "APIKeyHeader"} <= set(doc["components"]["securitySchemes"])
