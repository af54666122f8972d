"""What the routes share: the chat services, access control, and per-request dependencies.

:class:`Runtime` lives at ``app.state.recbot``. It holds one :class:`ChatService` per served
catalogue (built at startup in a background thread unless given), the API keys and the rate limiter.
Until the services are built, API routes answer 503 ``not_ready`` and ``/readyz`` says ``loading``;
``/healthz`` answers from the first moment.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer

from bot.faces.api.errors import ApiError
from bot.faces.api.security import ApiConfig, AuthError, KeyRing, Principal, RateLimiter
from bot.chat_service import ChatService
from bot.sessions import Session, SessionNotFound

log = logging.getLogger(__name__)

OWNER_KEY = "owner"  # session meta: the key id that created the session (when auth is on)


class Runtime:
    def __init__(
        self,
        settings: Any,
        catalogues: Sequence[str],
        config: ApiConfig,
        services: Mapping[str, ChatService] | None = None,
    ) -> None:
        if not catalogues:
            raise ValueError("at least one catalogue must be served")
        self.settings = settings
        self.catalogues = list(dict.fromkeys(catalogues))
        self.config = config
        self.keys = KeyRing(config.keys)
        self.limiter = RateLimiter(config.rate_per_minute, config.burst)
        self._services: dict[str, ChatService] = dict(services or {})
        self.error: str | None = None
        self.ready = threading.Event()
        self.load_seconds: float | None = None
        if self._services:
            self.ready.set()

    # -- loading --------------------------------------------------------------------------------

    def load(self) -> None:
        """Build a chat service per catalogue (opens the indexes, loads the LLM). Runs once."""
        from bot import services

        start = time.perf_counter()
        try:
            built = {name: services.chat_service(self.settings, name) for name in self.catalogues}
        except Exception as exc:
            log.exception("recbot API failed to start")
            self.error = f"{type(exc).__name__}: {exc}"
            return
        self._services = built
        self.load_seconds = time.perf_counter() - start
        self.ready.set()
        log.info("recbot API ready in %.1f s: %s", self.load_seconds, ", ".join(built))

    def start_loading(self) -> None:
        if not self.ready.is_set():
            threading.Thread(target=self.load, name="recbot-api-load", daemon=True).start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """For a mounted UI that needs the services: True once they are built."""
        return self.ready.wait(timeout)

    # -- access ---------------------------------------------------------------------------------

    def services(self) -> dict[str, ChatService]:
        if not self.ready.is_set():
            if self.error:
                raise ApiError(503, "not_ready", f"the server failed to start: {self.error}")
            raise ApiError(
                503,
                "not_ready",
                "the server is still loading its models; retry shortly",
                headers={"Retry-After": "5"},
            )
        return self._services

    @property
    def default_catalogue(self) -> str:
        return self.catalogues[0]

    def service(self, catalogue: str | None) -> ChatService:
        services = self.services()
        name = catalogue or self.default_catalogue
        if name not in services:
            raise ApiError(
                404,
                "catalogue_not_found",
                f"catalogue {name!r} is not served here; served: {', '.join(services)}",
            )
        return services[name]

    def session(self, principal: Principal, session_id: str) -> tuple[ChatService, Session]:
        """The session and the service of its catalogue; 404 when it is unknown or not the caller's."""
        try:
            session = self.service(None).get_session(session_id)
        except SessionNotFound:
            raise ApiError(404, "session_not_found", f"no session {session_id!r}") from None
        if self.keys.enabled and session.meta.get(OWNER_KEY) != principal.key_id:
            # another key's session: indistinguishable from a missing one
            raise ApiError(404, "session_not_found", f"no session {session_id!r}")
        services = self.services()
        if session.catalogue not in services:
            raise ApiError(
                404,
                "session_not_found",
                f"session {session_id!r} belongs to catalogue {session.catalogue!r}, "
                f"which this server does not serve",
            )
        return services[session.catalogue], session

    def owner_meta(self, principal: Principal) -> dict[str, Any]:
        return {OWNER_KEY: principal.key_id} if principal.key_id else {}

    def check_text(self, text: str) -> str:
        if not text.strip():
            raise ApiError(422, "empty_text", "the message text is empty")
        limit = self.config.max_text_chars
        if len(text) > limit:
            raise ApiError(
                422, "text_too_long", f"the message is {len(text)} characters; the limit is {limit}"
            )
        return text


def get_runtime(request: Request) -> Runtime:
    return request.app.state.recbot


# Declared for the OpenAPI document (the "Authorize" button); the check itself reads the headers.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key")


def authorize(
    request: Request,
    _bearer_doc: Annotated[Any, Security(_bearer)] = None,
    _key_doc: Annotated[Any, Security(_api_key)] = None,
) -> Principal:
    """Every /v1 route: check the API key (when configured), then the caller's rate limit.

    Failed attempts are rate-limited per client address too, so keys cannot be guessed quickly.
    """
    rt = get_runtime(request)
    client = request.client.host if request.client else "unknown"
    try:
        principal = rt.keys.check(request.headers, client)
    except AuthError as exc:
        _limit(rt, f"client:{client}")
        raise ApiError(401, "unauthorized", exc.message, headers={"WWW-Authenticate": "Bearer"}) from None
    _limit(rt, principal.bucket)
    return principal


def _limit(rt: Runtime, bucket: str) -> None:
    wait = rt.limiter.acquire(bucket)
    if wait > 0:
        after = rt.limiter.retry_after(wait)
        raise ApiError(
            429, "rate_limited", f"too many requests; retry in {after} s", headers={"Retry-After": after}
        )


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(authorize)]
