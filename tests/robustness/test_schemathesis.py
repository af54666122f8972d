"""The API against its own OpenAPI document, case by case (schemathesis, in-process over ASGI).

The schema is read from the real app's ``/openapi.json`` (the real engine: 300 movies, MiniLM,
SmolLM2-135M; an API key configured; no UI, no rate limit). For every operation schemathesis derives
requests from the document, valid ones and invalid ones, sends them to the app in-process and checks
each response with its default checks: no 5xx; status code, content type, headers and body as
documented; invalid data refused with a 4xx; valid data not refused; a request without the key
refused with 401.

Two passes: every operation with the ids schemathesis makes up (unknown sessions: the 404 paths),
then the session routes again with a real session in the path, so messages, feedback, reset, export
and delete run their full code on generated bodies. Example counts are bounded: a valid message is a
real LLM turn. The cases are drawn with ``operation.as_strategy`` inside one test, because
schemathesis' lazy pytest loader (``from_fixture``) does not run under pytest 9.2.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from bot.faces.api.runtime import OWNER_KEY
from bot.faces.api.security import hash_key, key_id

pytestmark = pytest.mark.slow  # the real index and the real LLM behind the app

EXAMPLES = 20  # per operation and mode, with made-up ids
EXAMPLES_IN_SESSION = 12  # per session route and mode, with a real session (valid messages: LLM turns)
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
KEY = "sk-recbot-schemathesis"
AUTH = {"Authorization": f"Bearer {KEY}"}  # explicit, so schemathesis probes without it
OWNER = {OWNER_KEY: key_id(hash_key(KEY))}  # session meta that makes a session this key's


@pytest.fixture(scope="module")
def api_schema(robust_settings, robust_service):  # noqa: ANN001, ANN201
    from bot.faces.api import ApiConfig, create_app

    config = ApiConfig(keys=[hash_key(KEY)], rate_per_minute=0)
    app = create_app(robust_settings, robust_service, api_config=config)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _operations(schema) -> list:  # noqa: ANN001
    return [result.ok() for result in schema.get_all_operations()]


def _failures(  # noqa: ANN003
    operation, mode: GenerationMode, n: int, ran: list[str], **fixed  # noqa: ANN001
) -> list[str]:
    """Send up to ``n`` generated cases of one operation; the failures, each with a curl line to replay
    it. ``ran`` gets the operation's label when at least one case was sent."""
    seen: list = []

    # no shrinking: a failure is reported with the request that caused it, and LLM turns are slow
    @given(case=operation.as_strategy(mode, **fixed))
    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:  # noqa: ANN001
        seen.append(case)
        case.call_and_validate(headers=AUTH)

    try:
        check()
    except Unsatisfiable:
        if seen or mode is GenerationMode.POSITIVE:
            raise
        return []  # nothing in the request can be made invalid (no parameters, no body)
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 -- collected: one run reports all
        where = f"\n  replay: {seen[-1].as_curl_command(headers=AUTH)}" if seen else ""
        return [f"{operation.label} [{mode.value}]: {type(exc).__name__}: {exc}{where}"]
    finally:
        if seen:
            ran.append(f"{operation.label} [{mode.value}]")
    return []


def test_every_operation_conforms_to_the_openapi_document(api_schema):  # noqa: ANN001
    operations = _operations(api_schema)
    assert {op.label for op in operations} >= {
        "POST /v1/sessions",
        "GET /v1/sessions/{session_id}",
        "POST /v1/sessions/{session_id}/messages",
        "POST /v1/sessions/{session_id}/feedback",
        "POST /v1/chat/completions",
        "GET /readyz",
    }
    ran: list[str] = []
    failures = [f for op in operations for mode in MODES for f in _failures(op, mode, EXAMPLES, ran)]
    assert not failures, "\n\n".join(failures)
    assert "POST /v1/sessions/{session_id}/messages [negative]" in ran and len(ran) > len(operations)


def test_session_routes_conform_with_a_real_session(api_schema, robust_service):  # noqa: ANN001
    operations = [op for op in _operations(api_schema) if "{session_id}" in op.path]
    assert len(operations) >= 6
    ran: list[str] = []
    failures = []
    for op in operations:
        for mode in MODES:
            sid = robust_service.create_session({"via": "schemathesis", **OWNER}).id
            failures += _failures(op, mode, EXAMPLES_IN_SESSION, ran, path_parameters={"session_id": sid})
    assert not failures, "\n\n".join(failures)
    assert "POST /v1/sessions/{session_id}/messages [positive]" in ran


def test_the_documented_non_blank_pattern_is_the_servers_empty_text_rule():
    """``MessageRequest.text`` documents "not blank" as a pattern; the server checks ``str.strip()``.
    They must agree on every character, or schemathesis' valid texts get 422 (or invalid ones 200)."""
    import re

    from bot.faces.api.models import NON_BLANK

    non_blank = re.compile(NON_BLANK)
    disagree = [
        hex(c) for c in range(0x110000) if bool(non_blank.search(chr(c))) != bool(chr(c).strip())
    ]
    assert not disagree
