"""The recbot HTTP API: sessions, messages (JSON or server-sent events), feedback, health, OpenAI compat.

:func:`create_app` builds the FastAPI application from the one :class:`Settings` object. Give it a
ready :class:`ChatService` (tests, embedding in another app) or let it build one per catalogue at
startup in a background thread (``recbot serve``): ``/healthz`` answers at once, ``/readyz`` once the
indexes are open and the LLM is loaded.

Routes (all under ``/v1`` need the API key when keys are configured; see :mod:`bot.faces.api.security`)::

    POST   /v1/sessions                      -> {session_id}
    GET    /v1/sessions/{id}                 -> state, messages, feedback
    GET    /v1/sessions/{id}/export          -> everything stored about the session (JSON download)
    DELETE /v1/sessions/{id}                 -> every row of the session removed
    POST   /v1/sessions/{id}/messages        -> reply + recommendations (?stream=true or
                                                Accept: text/event-stream -> SSE: recommendations, text, done)
    POST   /v1/sessions/{id}/feedback        -> like | dislike | seen an item
    POST   /v1/sessions/{id}/reset           -> forget the preferences, keep the history
    POST   /v1/chat/completions, GET /v1/models   (OpenAI-compatible, see bot.faces.api.openai_compat)
    GET    /healthz, /readyz

A UI (the Gradio app) is mounted on the same server with the ``mount_ui`` hook, called last::

    create_app(settings, mount_ui=lambda app: gr.mount_gradio_app(app, demo, path="/ui"))

The routes live by resource: :mod:`bot.faces.api.sessions`, :mod:`bot.faces.api.health` and
:mod:`bot.faces.api.openai_compat` (each an ``APIRouter``); the request and response bodies in
:mod:`bot.faces.api.models` and :mod:`bot.faces.api.openai_models`.

The hook may use ``app.state.recbot`` (:class:`bot.faces.api.runtime.Runtime`): ``wait_ready()`` then
``services()`` gives the same chat services the API uses.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from bot.faces.api import health, openai_compat, sessions
from bot.faces.api.errors import error_bytes, install_error_handlers
from bot.faces.api.runtime import Runtime
from bot.faces.api.security import ApiConfig, BodySizeLimitMiddleware
from bot.chat_service import ChatService

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
    app.include_router(health.router)
    app.include_router(sessions.router)
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
    """The factory ``recbot serve`` gives uvicorn (``bot.faces.api.app:app_from_env``): each worker process
    reads the settings (recbot.toml, ``RECBOT_*``) and ``RECBOT_API_CATALOGUES`` itself."""
    from bot.settings import Settings

    settings = Settings()
    names = [c.strip() for c in os.environ.get(CATALOGUES_ENV, "").split(",") if c.strip()]
    mount_ui = None
    if os.environ.get(UI_ENV, "0") == "1":

        def mount_ui(app: FastAPI) -> None:
            from bot.faces.ui import mount  # imported only when the page is wanted: Gradio is heavy

            mount(app, settings, path="/ui")

    return create_app(settings, catalogues=names or None, mount_ui=mount_ui)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("recbot")
    except PackageNotFoundError:
        return "0.0.0"
