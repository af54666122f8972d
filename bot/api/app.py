"""The recbot HTTP API: sessions, messages (JSON or server-sent events), feedback, health, OpenAI compat.

:func:`create_app` builds the FastAPI application from the one :class:`Settings` object. Give it a
ready :class:`ChatService` (tests, embedding in another app) or let it build one per catalogue at
startup in a background thread (``recbot serve``): ``/healthz`` answers at once, ``/readyz`` once the
indexes are open and the LLM is loaded.

Routes (all under ``/v1`` need the API key when keys are configured; see :mod:`bot.api.security`)::

    POST   /v1/sessions                      -> {session_id}
    GET    /v1/sessions/{id}                 -> state, messages, feedback
    GET    /v1/sessions/{id}/export          -> everything stored about the session (JSON download)
    DELETE /v1/sessions/{id}                 -> every row of the session removed
    POST   /v1/sessions/{id}/messages        -> reply + recommendations (?stream=true or
                                                Accept: text/event-stream -> SSE: recommendations, text, done)
    POST   /v1/sessions/{id}/feedback        -> like | dislike | seen an item
    POST   /v1/sessions/{id}/reset           -> forget the preferences, keep the history
    POST   /v1/chat/completions, GET /v1/models   (OpenAI-compatible, see bot.api.openai_compat)
    GET    /healthz, /readyz

A UI (the Gradio app) is mounted on the same server with the ``mount_ui`` hook, called last::

    create_app(settings, mount_ui=lambda app: gr.mount_gradio_app(app, demo, path="/ui"))

The hook may use ``app.state.recbot`` (:class:`bot.api.runtime.Runtime`): ``wait_ready()`` then
``services()`` gives the same chat services the API uses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from enum import Enum
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from bot.api import openai_compat
from bot.api.errors import ApiError, error_bytes, error_payload, install_error_handlers
from bot.api.models import (
    CreateSessionRequest,
    Deleted,
    FeedbackAck,
    FeedbackOut,
    FeedbackRequest,
    Health,
    MessageOut,
    MessageReply,
    MessageRequest,
    Readiness,
    RecommendationOut,
    SessionCreated,
    SessionDetail,
    error_responses,
    sse_event_schema,
)
from bot.api.runtime import PrincipalDep, Runtime, RuntimeDep
from bot.api.security import ApiConfig, BodySizeLimitMiddleware
from bot.api.streaming import run_turn, turn_events
from bot.chat_service import ChatService
from bot.sessions import SessionNotFound

log = logging.getLogger(__name__)

CATALOGUES_ENV = "RECBOT_API_CATALOGUES"  # comma-separated; set by `recbot serve` for its workers

DESCRIPTION = """\
recbot recommends catalogue items in a conversation: it asks what a person likes, recommends items
chosen by retrieval (never invented by the LLM) with a reason for each, and learns from feedback.

**Flow**: `POST /v1/sessions` → `POST /v1/sessions/{id}/messages` (repeat) → optional
`POST /v1/sessions/{id}/feedback` on a recommended item → the next recommendations use it.

**Auth**: when API keys are configured, send `Authorization: Bearer <key>` or `X-API-Key: <key>`.
A session is visible only to the key that created it. Limits: requests per key (HTTP 429 with
`Retry-After`), body size (413), message length (422).

**Errors** always have the body `{"error": {"code": "...", "message": "..."}}`.
"""

SessionId = Annotated[str, Path(min_length=1, max_length=100, description="from POST /v1/sessions")]


def create_app(
    settings: Any,
    chat_service: ChatService | Mapping[str, ChatService] | None = None,
    *,
    catalogues: Sequence[str] | None = None,
    api_config: ApiConfig | None = None,
    mount_ui: Callable[[FastAPI], Any] | None = None,
) -> FastAPI:
    """The API application.

    - ``settings``: the :class:`bot.settings.Settings` (data dir, catalogue, LLM…).
    - ``chat_service``: a ready service, or ``{catalogue: service}``; None builds them at startup.
    - ``catalogues``: what to serve when building (default ``[settings.catalogue]``); the first is the
      default for new sessions.
    - ``api_config``: keys and limits (default ``settings.api``).
    - ``mount_ui``: called with the app after the API routes exist, to mount a UI on the same server.
    """
    if isinstance(chat_service, ChatService):
        given: dict[str, ChatService] | None = {chat_service.catalogue: chat_service}
    else:
        given = dict(chat_service) if chat_service is not None else None
    names = list(given) if given else list(catalogues or [settings.catalogue])
    config = api_config or settings.api
    runtime = Runtime(settings, names, config, given)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info(
            "recbot API: catalogues %s; auth %s (%d keys); %s requests/min per key",
            ", ".join(names),
            "on" if config.auth_enabled else "OFF",
            len(config.keys),
            config.rate_per_minute,
        )
        runtime.start_loading()
        yield

    app = FastAPI(
        title="recbot API",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "sessions", "description": "conversations with memory"},
            {"name": "OpenAI-compatible", "description": "for OpenAI clients and LangChain"},
            {"name": "health", "description": "liveness and readiness probes"},
        ],
    )
    app.state.recbot = runtime
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=config.max_body_bytes,
        prefixes=("/v1",),
        error_body=lambda message: error_bytes("body_too_large", message),
    )
    install_error_handlers(app)
    _add_health_routes(app)
    _add_session_routes(app)
    app.include_router(openai_compat.router)
    _document_limits(app, config)
    if mount_ui is not None:
        mount_ui(app)
    return app


def _document_limits(app: FastAPI, config: ApiConfig) -> None:
    """Write the configured message length limit into the OpenAPI document (longer texts get 422)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            text = build()["components"]["schemas"]["MessageRequest"]["properties"]["text"]
            text["maxLength"] = config.max_text_chars
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


UI_ENV = "RECBOT_SERVE_UI"  # "1": mount the Gradio page at /ui (set by `recbot serve` unless --no-ui)


def app_from_env() -> FastAPI:
    """The factory ``recbot serve`` gives uvicorn (``bot.api.app:app_from_env``): each worker process
    reads the settings (recbot.toml, ``RECBOT_*``) and ``RECBOT_API_CATALOGUES`` itself."""
    from bot.settings import Settings

    settings = Settings()
    names = [c.strip() for c in os.environ.get(CATALOGUES_ENV, "").split(",") if c.strip()]
    mount_ui = None
    if os.environ.get(UI_ENV, "0") == "1":

        def mount_ui(app: FastAPI) -> None:
            from bot.ui import mount  # imported only when the page is wanted: Gradio is heavy

            mount(app, settings, path="/ui")

    return create_app(settings, catalogues=names or None, mount_ui=mount_ui)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("recbot")
    except PackageNotFoundError:
        return "0.0.0"


# ----------------------------------------------------------------------------------------------- health


def _add_health_routes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=Health, tags=["health"], summary="Liveness: the process is up")
    async def healthz() -> Health:
        return Health()

    @app.get(
        "/readyz",
        response_model=Readiness,
        tags=["health"],
        summary="Readiness: indexes opened and the LLM loaded (503 until then); 'degraded' while a "
        "Chroma server does not answer (the in-memory index answers instead) or a crashed local "
        "model server restarts",
        responses={503: {"model": Readiness, "description": "loading, or failed to start"}},
    )
    async def readyz(request: Request) -> Any:
        rt: Runtime = request.app.state.recbot
        if not rt.ready.is_set():
            status = "failed" if rt.error else "loading"
            return JSONResponse(Readiness(status=status, error=rt.error).model_dump(), 503)
        cats, llm_problems = {}, []
        for name, service in rt.services().items():
            llm = service.llm_status()
            cats[name] = {"items": service.catalogue_size(), "ranker": service.ranker_name(), "llm": llm["name"],
                          "llm_state": llm["state"], "llm_restarts": llm.get("restarts", 0)}
            if llm["state"] != "ready":
                llm_problems.append(f"{name}: the language model is {llm['state']}"
                                    + (f" ({llm['detail']})" if llm["detail"] else ""))
        if any(c["items"] == 0 for c in cats.values()):
            empty = [n for n, c in cats.items() if c["items"] == 0]
            return JSONResponse(
                Readiness(
                    status="failed", catalogues=cats, error=f"empty catalogue: {', '.join(empty)}"
                ).model_dump(),
                503,
            )
        http_store = getattr(getattr(rt.settings, "store", None), "mode", None) == "http"
        problems = llm_problems + (await _store_problems(rt.services()) if http_store else [])
        if problems:
            return Readiness(status="degraded", catalogues=cats, error="; ".join(problems))
        return Readiness(status="ready", catalogues=cats)


STORE_CHECK_TIMEOUT_S = 3.0


async def _store_problems(services: Mapping[str, ChatService]) -> list[str]:
    """Catalogues whose Chroma collection does not answer (http mode: a server that may go away)."""
    problems = []
    for name, service in services.items():
        try:
            await asyncio.wait_for(run_in_threadpool(service.vector_count), STORE_CHECK_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 -- any failure means the store does not answer
            reason = "no answer" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            problems.append(
                f"{name}: the vector store does not answer ({reason}); using the in-memory index"
            )
    return problems


# --------------------------------------------------------------------------------------------- sessions


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


def _add_session_routes(app: FastAPI) -> None:
    tags: list[str | Enum] = ["sessions"]

    @app.post(
        "/v1/sessions",
        response_model=SessionCreated,
        status_code=201,
        tags=tags,
        summary="Start a conversation",
        responses=error_responses(400, 401, 404, 413, 422, 429, 503),
    )
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

    @app.get(
        "/v1/sessions/{session_id}",
        response_model=SessionDetail,
        tags=tags,
        summary="A conversation: state, messages and feedback",
        responses=error_responses(401, 404, 429, 503),
    )
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

    @app.get(
        "/v1/sessions/{session_id}/export",
        tags=tags,
        summary="Everything stored about a conversation, as JSON (state, messages, feedback)",
        responses={
            200: {"description": "session_id, catalogue, created, updated, meta, state, messages, feedback"},
            **error_responses(401, 404, 429, 503),
        },
    )
    async def export_session(session_id: SessionId, rt: RuntimeDep, principal: PrincipalDep) -> JSONResponse:
        service, _ = await run_in_threadpool(rt.session, principal, session_id)
        data = await run_in_threadpool(service.export, session_id)
        return JSONResponse(
            data, headers={"content-disposition": f'attachment; filename="session-{session_id}.json"'}
        )

    @app.delete(
        "/v1/sessions/{session_id}",
        response_model=Deleted,
        tags=tags,
        summary="Delete a conversation and everything stored with it",
        responses=error_responses(401, 404, 429, 503),
    )
    async def delete_session(
        session_id: SessionId, request: Request, rt: RuntimeDep, principal: PrincipalDep
    ) -> Deleted:
        service, _ = await run_in_threadpool(rt.session, principal, session_id)
        await run_in_threadpool(service.delete, session_id)
        return Deleted(session_id=session_id)

    @app.post(
        "/v1/sessions/{session_id}/messages",
        response_model=MessageReply,
        tags=tags,
        summary="Send a message; get the reply and recommendations (JSON, or SSE when streaming)",
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
            **error_responses(400, 401, 404, 413, 422, 429, 503),
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

    @app.post(
        "/v1/sessions/{session_id}/feedback",
        response_model=FeedbackAck,
        tags=tags,
        summary="Like, dislike or mark as seen a catalogue item",
        responses=error_responses(400, 401, 404, 413, 422, 429, 503),
    )
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

    @app.post(
        "/v1/sessions/{session_id}/reset",
        response_model=SessionCreated,
        tags=tags,
        summary="Forget the preferences learned so far (messages and feedback stay)",
        responses=error_responses(401, 404, 429, 503),
    )
    async def reset_session(session_id: SessionId, rt: RuntimeDep, principal: PrincipalDep) -> SessionCreated:
        service, session = await run_in_threadpool(rt.session, principal, session_id)
        await run_in_threadpool(service.reset, session_id)
        return SessionCreated(session_id=session.id, catalogue=session.catalogue, created=session.created)
