"""``POST /v1/chat/completions`` and ``GET /v1/models``: recbot behind the OpenAI chat API.

Any OpenAI client (the ``openai`` SDK, LangChain's ``ChatOpenAI``, chat front-ends) can talk to
recbot unchanged: ``base_url="http://host:port/v1"``, ``model=<catalogue name>``, the API key as
the client's ``api_key``.

- **The turn** is the last ``user`` message. recbot remembers the conversation itself, so earlier
  messages are not replayed (send them or not; they are ignored).
- **The session**: the ``X-Session-Id`` header names an existing session; otherwise the ``user``
  field names your end user and gets one session per (user, model, API key), kept across calls and
  restarts; with neither, each call starts a new session. The session id is returned in the
  ``X-Session-Id`` response header and the ``session_id`` field.
- **Streaming** (``"stream": true``) sends ``chat.completion.chunk`` objects as ``data:`` lines and
  ends with ``data: [DONE]``.
- **Structured recommendations** travel as extensions that OpenAI clients ignore: ``recommendations``
  on the message and at the top level (non-streaming), and at the top level of the final chunk
  (streaming; the one with ``finish_reason``). With the ``openai`` SDK read them from
  ``completion.model_extra["recommendations"]``.
- Sampling options (``temperature``, ``max_tokens``…) are accepted and ignored; token ``usage`` is
  not reported.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from bot.faces.api.errors import ApiError, error_payload
from bot.faces.api.models import RecommendationOut, error_responses, sse_event_schema
from bot.faces.api.openai_models import (
    AssistantMessageOut,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChoiceOut,
    ModelList,
    ModelOut,
)
from bot.faces.api.runtime import PrincipalDep, Runtime, RuntimeDep
from bot.faces.api.security import Principal
from bot.faces.api.streaming import run_turn, turn_events
from bot.chat_service import ChatService
from bot.sessions import SessionNotFound

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])

def session_for(service: ChatService, user: str, owner: str, meta: dict[str, Any]) -> str:
    """The OpenAI ``user``'s session for ``service``'s catalogue, created on first use (or after a delete).

    The user -> session rows live in the session store (SQLite or PostgreSQL), so a user's conversation
    continues on any replica, and they are deleted with their session.
    """
    if (sid := service.user_session(user, owner)) is not None:
        try:
            service.get_session(sid)
            return sid
        except SessionNotFound:  # deleted behind our back: start afresh
            service.forget_user_sessions(sid)
    created = service.create_session({**meta, "via": "openai", "user": user}).id
    winner = service.bind_user_session(user, owner, created)
    if winner != created:  # another request for the same user got there first
        service.delete(created)
    return winner


def _last_user_text(body: ChatCompletionRequest) -> str:
    for message in reversed(body.messages):
        if message.role == "user":
            return message.text()
    raise ApiError(
        422, "no_user_message", "messages has no message with role 'user'; the last one is the turn"
    )


def _session_id(
    rt: Runtime,
    request: Request,
    principal: Principal,
    service: ChatService,
    body: ChatCompletionRequest,
    header_sid: str | None,
) -> str:
    if header_sid:
        owned, session = rt.session(principal, header_sid)
        if owned is not service:
            raise ApiError(
                409,
                "catalogue_mismatch",
                f"session {header_sid!r} belongs to catalogue {session.catalogue!r}, not {body.model!r}",
            )
        return header_sid
    meta = rt.owner_meta(principal)
    if body.user:
        return session_for(service, body.user, principal.key_id or "", meta)
    return service.create_session({**meta, "via": "openai"}).id


@router.get(
    "/models",
    response_model=ModelList,
    responses=error_responses(401, 429, 503),
    summary="List the catalogues (OpenAI 'models') served here",
)
async def list_models(rt: RuntimeDep, principal: PrincipalDep) -> ModelList:
    return ModelList(data=[ModelOut(id=name) for name in rt.services()])


_STREAM_EXAMPLE = (
    'data: {"id":"chatcmpl-…","object":"chat.completion.chunk","model":"movies","session_id":"6f1c…",'
    '"choices":[{"index":0,"delta":{"content":"You might enjoy"},"finish_reason":null}]}\n\n'
    'data: {"id":"chatcmpl-…","object":"chat.completion.chunk","model":"movies","session_id":"6f1c…",'
    '"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"recommendations":[…]}\n\n'
    "data: [DONE]\n\n"
)


@router.post(
    "/chat/completions",
    response_model=ChatCompletionResponse,
    summary="OpenAI-compatible chat completion (one recbot turn)",
    responses={
        200: {
            "description": "a chat.completion, or with stream=true chat.completion.chunk events",
            "content": {"text/event-stream": {"schema": sse_event_schema(), "example": _STREAM_EXAMPLE}},
        },
        **error_responses(400, 401, 404, 409, 413, 422, 429, 503),
    },
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    rt: RuntimeDep,
    principal: PrincipalDep,
    x_session_id: Annotated[
        str | None, Header(max_length=100, description="continue this recbot session")
    ] = None,
) -> Any:
    services = rt.services()
    if body.model not in services:
        raise ApiError(
            404,
            "model_not_found",
            f"model {body.model!r} does not exist here; the models are the catalogues: {', '.join(services)}",
        )
    service = services[body.model]
    text = rt.check_text(_last_user_text(body))
    sid = await run_in_threadpool(_session_id, rt, request, principal, service, body, x_session_id)
    cid = "chatcmpl-" + uuid.uuid4().hex
    created = int(time.time())
    headers = {"X-Session-Id": sid}
    if body.stream:
        return EventSourceResponse(
            _chunks(service, sid, text, body.model, cid, created), headers=headers, sep="\n", ping=15
        )
    result = await run_turn(service, sid, text)
    recs = [RecommendationOut.of(r) for r in result.recommendations]
    response = ChatCompletionResponse(
        id=cid,
        created=created,
        model=body.model,
        session_id=sid,
        recommendations=recs,
        choices=[ChoiceOut(message=AssistantMessageOut(content=result.text, recommendations=recs))],
        recbot=_extension(result),
    )
    return JSONResponse(response.model_dump(mode="json"), headers=headers)


def _extension(result: Any) -> dict[str, Any]:
    return {
        "action": result.action,
        "reason": result.reason,
        "cancelled": result.cancelled,
        "degraded": result.degraded,
        "timings": {k: round(v, 4) for k, v in result.timings.items()},
    }


async def _chunks(
    service: ChatService, sid: str, text: str, model: str, cid: str, created: int
) -> AsyncIterator[ServerSentEvent]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> ServerSentEvent:
        data = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "session_id": sid,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }
        return ServerSentEvent(json.dumps(data, ensure_ascii=False), sep="\n")

    yield chunk({"role": "assistant", "content": ""})
    try:
        result = None
        async for event in turn_events(service, sid, text):
            if event.kind == "text" and event.text:
                yield chunk({"content": event.text})
            elif event.kind == "done":
                result = event.result
        if result is not None:
            recs = [RecommendationOut.of(r).model_dump(mode="json") for r in result.recommendations]
            yield chunk({}, "stop", recommendations=recs, recbot=_extension(result))
    except SessionNotFound as exc:
        yield ServerSentEvent(json.dumps(error_payload("session_not_found", str(exc))), sep="\n")
    except Exception:
        log.exception("chat completion stream failed in session %s", sid)
        yield ServerSentEvent(
            json.dumps(error_payload("internal_error", "the turn failed; see the server log")), sep="\n"
        )
    yield ServerSentEvent("[DONE]", sep="\n")
