"""The conversations: ``/v1/sessions`` -- create, read, export, delete, send a message (JSON or
server-sent events), item feedback, reset. Each route reaches recbot through the session's
:class:`~bot.chat_service.ChatService` (found by :meth:`bot.faces.api.runtime.Runtime.session`, which also
checks the caller owns it) and answers with the wire models of :mod:`bot.faces.api.models`."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from bot.faces.api.errors import ApiError, error_payload
from bot.faces.api.models import (
    CreateSessionRequest,
    Deleted,
    FeedbackAck,
    FeedbackOut,
    FeedbackRequest,
    MessageOut,
    MessageReply,
    MessageRequest,
    RecommendationOut,
    SessionCreated,
    SessionDetail,
    error_responses,
    sse_event_schema,
)
from bot.faces.api.runtime import PrincipalDep, RuntimeDep
from bot.faces.api.streaming import run_turn, turn_events
from bot.chat_service import ChatService
from bot.sessions import SessionNotFound

log = logging.getLogger(__name__)

router = APIRouter()
TAGS: list[str | Enum] = ["sessions"]

SessionId = Annotated[str, Path(min_length=1, max_length=100, description="from POST /v1/sessions")]
READ_ERRORS = (401, 404, 429, 503)  # the error statuses a route may answer, as documented
WRITE_ERRORS = (400, 401, 404, 413, 422, 429, 503)


def route(method: str, path: str, summary: str, errors: tuple[int, ...],
          **options: Any) -> Callable[..., Any]:
    """``router.<method>(path, ...)`` tagged ``sessions``, documenting the error statuses ``errors``
    after the ``responses`` given in ``options``."""
    responses = {**options.pop("responses", {}), **error_responses(*errors)}
    return router.api_route(path, methods=[method], tags=TAGS, summary=summary, responses=responses,
                            **options)


def _wants_sse(request: Request, stream: bool) -> bool:
    return stream or "text/event-stream" in request.headers.get("accept", "")


def _sse(kind: str, payload: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(json.dumps(payload, ensure_ascii=False), event=kind, sep="\n")


async def _sse_turn(service: ChatService, session_id: str, text: str) -> AsyncIterator[ServerSentEvent]:
    """``recommendations`` (cards, before any text), ``text`` (pieces), ``done`` (the whole reply);
    ``error`` if the turn fails after the stream has started."""
    try:
        async for event in turn_events(service, session_id, text):
            if event.kind == "recommendations":
                recs = [RecommendationOut.of(r).model_dump(mode="json") for r in event.recommendations]
                yield _sse("recommendations", {"recommendations": recs})
            elif event.kind == "text":
                yield _sse("text", {"text": event.text})
            elif event.kind == "done" and event.result is not None:
                yield _sse("done", MessageReply.of(session_id, event.result).model_dump(mode="json"))
    except SessionNotFound as exc:
        yield _sse("error", error_payload("session_not_found", str(exc)))
    except Exception:
        log.exception("message stream failed in session %s", session_id)
        yield _sse("error", error_payload("internal_error", "the turn failed; see the server log"))


_SSE_EXAMPLE = (
    'event: recommendations\ndata: {"recommendations": [{"id": "27411", "label": "Mallrats (1995)", …}]}\n\n'
    'event: text\ndata: {"text": "You might enjoy Mallrats (1995)"}\n\n'
    'event: done\ndata: {"session_id": "6f1c…", "text": "…", "action": "recommend", '
    '"recommendations": […]}\n\n'
)


@route("POST", "/v1/sessions", "Start a conversation", WRITE_ERRORS, response_model=SessionCreated,
       status_code=201)
async def create_session(
    rt: RuntimeDep, principal: PrincipalDep, body: CreateSessionRequest | None = None
) -> SessionCreated:
    body = body or CreateSessionRequest()
    service = rt.service(body.catalogue)
    meta: dict[str, Any] = {"via": "api", **rt.owner_meta(principal)}
    if body.meta:
        meta["client"] = body.meta
    session = await run_in_threadpool(service.create_session, meta)
    return SessionCreated(session_id=session.id, catalogue=session.catalogue, created=session.created)


@route("GET", "/v1/sessions/{session_id}", "A conversation: state, messages and feedback", READ_ERRORS,
       response_model=SessionDetail)
async def get_session(session_id: SessionId, rt: RuntimeDep, principal: PrincipalDep) -> SessionDetail:
    service, session = await run_in_threadpool(rt.session, principal, session_id)

    def read() -> SessionDetail:
        messages = service.messages(session_id)
        feedback = service.feedback_given(session_id)
        return SessionDetail(
            session_id=session.id,
            catalogue=session.catalogue,
            created=session.created,
            updated=session.updated,
            meta=session.meta.get("client", {}),
            state=session.state.model_dump(mode="json"),
            messages=[
                MessageOut(
                    id=m.id,
                    role=m.role,
                    text=m.text,
                    created=m.created,
                    action=m.data.get("action"),
                    cancelled=bool(m.data.get("cancelled")),
                    degraded=m.data.get("degraded"),
                    recommendations=[RecommendationOut.of(r) for r in m.data.get("recommendations", [])],
                )
                for m in messages
            ],
            feedback=[
                FeedbackOut(id=f.id, kind=f.kind, item_id=f.target, created=f.created) for f in feedback
            ],
        )

    return await run_in_threadpool(read)


@route("GET", "/v1/sessions/{session_id}/export",
       "Everything stored about a conversation, as JSON (state, messages, feedback)", READ_ERRORS,
       responses={200: {"description": "session_id, catalogue, created, updated, meta, state, messages, "
                                       "feedback"}})
async def export_session(session_id: SessionId, rt: RuntimeDep, principal: PrincipalDep) -> JSONResponse:
    service, _ = await run_in_threadpool(rt.session, principal, session_id)
    data = await run_in_threadpool(service.export, session_id)
    return JSONResponse(
        data, headers={"content-disposition": f'attachment; filename="session-{session_id}.json"'}
    )


@route("DELETE", "/v1/sessions/{session_id}", "Delete a conversation and everything stored with it",
       READ_ERRORS, response_model=Deleted)
async def delete_session(session_id: SessionId, rt: RuntimeDep, principal: PrincipalDep) -> Deleted:
    service, _ = await run_in_threadpool(rt.session, principal, session_id)
    await run_in_threadpool(service.delete, session_id)
    return Deleted(session_id=session_id)


@route(
    "POST",
    "/v1/sessions/{session_id}/messages",
    "Send a message; get the reply and recommendations (JSON, or SSE when streaming)",
    WRITE_ERRORS,
    response_model=MessageReply,
    responses={
        200: {
            "description": "the reply; with ?stream=true or Accept: text/event-stream, SSE events "
            "`recommendations`, `text` (repeated) and `done` (the reply as in JSON)",
            "content": {
                "text/event-stream": {
                    "schema": sse_event_schema(["recommendations", "text", "done", "error"]),
                    "example": _SSE_EXAMPLE,
                }
            },
        },
    },
)
async def post_message(
    session_id: SessionId,
    body: MessageRequest,
    request: Request,
    rt: RuntimeDep,
    principal: PrincipalDep,
    stream: Annotated[bool, Query(description="stream server-sent events")] = False,
) -> Any:
    text = rt.check_text(body.text)
    service, _ = await run_in_threadpool(rt.session, principal, session_id)
    if _wants_sse(request, stream):
        return EventSourceResponse(_sse_turn(service, session_id, text), sep="\n", ping=15)
    result = await run_turn(service, session_id, text)
    return MessageReply.of(session_id, result)


@route("POST", "/v1/sessions/{session_id}/feedback", "Like, dislike or mark as seen a catalogue item",
       WRITE_ERRORS, response_model=FeedbackAck)
async def post_feedback(
    session_id: SessionId, body: FeedbackRequest, rt: RuntimeDep, principal: PrincipalDep
) -> FeedbackAck:
    service, _ = await run_in_threadpool(rt.session, principal, session_id)
    item = service.item(body.item_id)
    if item is None:
        raise ApiError(
            404,
            "item_not_found",
            f"no item {body.item_id!r} in catalogue {service.catalogue!r}; "
            "use an id from a recommendation",
        )
    await run_in_threadpool(service.feedback, session_id, body.kind, body.item_id)
    state = (await run_in_threadpool(service.get_session, session_id)).state
    return FeedbackAck(
        session_id=session_id,
        item_id=item.id,
        kind=body.kind,
        label=item.label,
        liked_ids=state.liked_ids,
        disliked_ids=state.disliked_ids,
        seen_ids=state.seen_ids,
    )


@route("POST", "/v1/sessions/{session_id}/reset",
       "Forget the preferences learned so far (messages and feedback stay)", READ_ERRORS,
       response_model=SessionCreated)
async def reset_session(session_id: SessionId, rt: RuntimeDep, principal: PrincipalDep) -> SessionCreated:
    service, session = await run_in_threadpool(rt.session, principal, session_id)
    await run_in_threadpool(service.reset, session_id)
    return SessionCreated(session_id=session.id, catalogue=session.catalogue, created=session.created)
