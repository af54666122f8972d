"""Bad input against the real API (TestClient over the real engine): never a 500, always a JSON error.

Hypothesis throws random JSON, binary and non-UTF-8 bodies, oversized and deeply nested bodies,
random session ids and random message texts at every route. Each response must be a 2xx or a 4xx,
and a 4xx must have the one error shape ``{"error": {"code", "message"}}``. A session made before the
fuzzing must read back unchanged afterwards.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow  # the real index and the real LLM behind the app

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)  # the client cannot send inf/nan as JSON
    | st.text(max_size=30),
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=10), kids, max_size=5),
    max_leaves=20,
)
# bodies that name the real fields, with values of any type: closer to what a buggy client sends
FIELDS = st.dictionaries(
    st.sampled_from(["text", "item_id", "kind", "catalogue", "meta", "messages", "model", "user", "stream"]),
    JSON,
    max_size=4,
)


def assert_clean(r) -> None:  # noqa: ANN001
    """2xx or 4xx; JSON; a 4xx carries {"error": {"code", "message"}}."""
    assert r.status_code < 500, (r.status_code, r.text[:500])
    assert 200 <= r.status_code < 300 or 400 <= r.status_code < 500, r.status_code
    if r.headers.get("content-type", "").startswith("text/event-stream"):
        return
    body = r.json()
    if r.status_code >= 400:
        assert set(body) == {"error"}, body
        assert isinstance(body["error"]["code"], str) and body["error"]["message"], body


@pytest.fixture(scope="module")
def known(client) -> dict:  # noqa: ANN001
    """A session with one real turn; it must read back the same after all the fuzzing."""
    sid = client.post("/v1/sessions").json()["session_id"]
    r = client.post(f"/v1/sessions/{sid}/messages", json={"text": "I want a funny comedy from the 90s"})
    assert r.status_code == 200, r.text
    return {"sid": sid, "before": client.get(f"/v1/sessions/{sid}").json()}


def route(client, known: dict, which: int) -> tuple[str, str]:  # noqa: ANN001
    """One of the body-taking routes. Messages and reset go to a throwaway session (a valid body
    there runs a turn or forgets preferences); the others to the known session."""
    sid = known["sid"]
    if which in (1, 3):
        sid = client.post("/v1/sessions").json()["session_id"]
    return [
        ("POST", "/v1/sessions"),
        ("POST", f"/v1/sessions/{sid}/messages"),
        ("POST", f"/v1/sessions/{sid}/feedback"),
        ("POST", f"/v1/sessions/{sid}/reset"),
        ("POST", "/v1/chat/completions"),
    ][which]


ROUTE_INDEX = st.integers(0, 4)


@FUZZ
@given(body=JSON | FIELDS, which=ROUTE_INDEX)
def test_random_json_bodies(client, known, body, which):  # noqa: ANN001
    method, path = route(client, known, which)
    assert_clean(client.request(method, path, json=body))


@FUZZ
@given(raw=st.binary(max_size=300), which=ROUTE_INDEX,
       ctype=st.sampled_from(["application/json", "application/json; charset=latin-1", "text/plain",
                              "application/octet-stream", "multipart/form-data", ""]))
def test_binary_and_non_utf8_bodies(client, known, raw, which, ctype):  # noqa: ANN001
    method, path = route(client, known, which)
    headers = {"content-type": ctype} if ctype else {}
    assert_clean(client.request(method, path, content=raw, headers=headers))


@pytest.mark.parametrize("which", range(5))
def test_non_utf8_json_huge_and_deeply_nested_bodies(client, known, which):  # noqa: ANN001
    method, path = route(client, known, which)
    deep = ("[" * 20000 + "]" * 20000).encode()  # under the 64 KiB limit, past Python's recursion limit
    deep_obj = ('{"text":' * 3000 + '"x"' + "}" * 3000).encode()
    for body in (
        b'{"text": "caf\xe9 \xff\xfe"}',  # latin-1 bytes where UTF-8 is due
        b"\xef\xbb\xbf" + json.dumps({"text": "bom first"}).encode(),
        deep,
        deep_obj,
        b'{"text": "' + b"a" * 70_000 + b'"}',  # over the body limit: 413
        b"[" * 70_000,
        b'{"text": 1e999999}',
        b'{"text": "\\ud800"}',  # a lone surrogate, valid JSON, not encodable as UTF-8
        b'{"text": "nul \\u0000 byte"}',
    ):
        r = client.request(method, path, content=body, headers={"content-type": "application/json"})
        assert_clean(r)
    big = client.request(method, path, content=b"x" * 70_000, headers={"content-type": "application/json"})
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"


SESSION_IDS = st.text(min_size=1, max_size=120) | st.text("0123456789abcdef", min_size=32, max_size=32)


@FUZZ
@given(sid=SESSION_IDS)
def test_unknown_session_ids_on_every_route(client, sid):  # noqa: ANN001
    path = "/v1/sessions/" + quote(sid, safe="")
    for method, suffix, body in (
        ("GET", "", None),
        ("GET", "/export", None),
        ("DELETE", "", None),
        ("POST", "/messages", {"text": "hello"}),
        ("POST", "/feedback", {"item_id": "1", "kind": "like"}),
        ("POST", "/reset", None),
    ):
        r = client.request(method, path + suffix, json=body)
        assert_clean(r)
        assert r.status_code in (404, 405, 422), (method, suffix, r.status_code)


@FUZZ
@given(junk=st.text(min_size=1, max_size=40))
def test_random_paths_methods_and_query_strings(client, known, junk):  # noqa: ANN001
    sid = known["sid"]
    for method in ("GET", "PUT", "PATCH", "POST"):
        assert_clean(client.request(method, "/v1/" + quote(junk, safe="/")))
    assert_clean(client.get(f"/v1/sessions/{sid}", params={"stream": junk}))
    # raw percent-escapes that decode to invalid UTF-8
    assert_clean(client.get("/v1/sessions/%ff%fe" + quote(junk, safe="")))


@FEW
@given(text=st.text(max_size=300))
def test_random_message_texts_run_a_turn_or_are_refused(client, text):  # noqa: ANN001
    """Each accepted text runs a real turn (a few seconds): few examples."""
    sid = client.post("/v1/sessions").json()["session_id"]
    r = client.post(f"/v1/sessions/{sid}/messages", json={"text": text})
    assert_clean(r)
    if r.status_code == 200:
        stored = client.get(f"/v1/sessions/{sid}").json()["messages"]
        assert [m["role"] for m in stored] == ["user", "assistant"]
    else:
        assert r.status_code == 422 and not text.strip()


def test_feedback_on_items_not_in_the_catalogue(client, known):  # noqa: ANN001
    sid = known["sid"]
    for item in ("no-such-item", "x" * 200, "' OR 1=1 --", "../../etc/passwd", "\u202e\u0000"):
        r = client.post(f"/v1/sessions/{sid}/feedback", json={"item_id": item, "kind": "like"})
        assert_clean(r)
        assert r.status_code in (404, 422)


def test_the_known_session_is_unchanged_after_the_fuzzing(client, known):  # noqa: ANN001
    """Runs last in this module (pytest keeps file order)."""
    sid = known["sid"]
    after = client.get(f"/v1/sessions/{sid}")
    assert after.status_code == 200
    assert after.json() == known["before"]
    assert client.get(f"/v1/sessions/{sid}/export").status_code == 200
    r = client.post(f"/v1/sessions/{sid}/messages", json={"text": "something newer please"})
    assert r.status_code == 200
    assert len(client.get(f"/v1/sessions/{sid}").json()["messages"]) == 4
