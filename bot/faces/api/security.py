"""Who may call the API, how often, and with how much: API keys, a per-key rate limit, size limits.

**API keys** are configured as sha256 digests, never in clear: an entry looks like
``sha256:<64 hex digits>`` (make one with ``recbot serve --new-key`` or ``recbot serve --hash-key``).
A request presents the key itself, as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; the
server hashes it and compares the digest in constant time. With no key configured, auth is off.

**Rate limit**: a token bucket per key (per client address when auth is off): ``burst`` requests may
arrive at once, then ``rate_per_minute`` requests a minute on average. A refused request gets HTTP 429
with ``Retry-After`` (whole seconds until a token is back). Buckets live in process memory, so with
several workers each worker counts on its own.

**Size limits**: request bodies over ``max_body_bytes`` get 413 (checked on ``Content-Length`` and on
the bytes actually received, so a chunked upload cannot slip past); message texts over
``max_text_chars`` get 422.

All of it is configured in ``Settings.api`` (:class:`bot.settings.ApiSettings`, here also named
``ApiConfig``): an ``[api]`` table in ``recbot.toml`` or ``RECBOT_API__KEYS`` (comma-separated
``sha256:`` entries), ``RECBOT_API__RATE_PER_MINUTE``, ``RECBOT_API__BURST``,
``RECBOT_API__MAX_BODY_BYTES``, ``RECBOT_API__MAX_TEXT_CHARS``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.settings import ApiSettings

HASH_PREFIX = "sha256:"


#: The API's access control and limits: the ``api`` section of the one settings object.
ApiConfig = ApiSettings


def hash_key(key: str) -> str:
    """The configuration entry for a key: ``sha256:<hex digest of its UTF-8 bytes>``."""
    if not key or key != key.strip():
        raise ValueError("an API key must be non-empty and have no surrounding whitespace")
    return HASH_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh random key (give it to the client) and its digest (put it in the configuration)."""
    key = "rb-" + secrets.token_urlsafe(32)
    return key, hash_key(key)


def key_id(digest: str) -> str:
    """A short, non-secret name for a key (its digest's first 16 hex digits): logs and session owners."""
    return digest.removeprefix(HASH_PREFIX)[:16]


@dataclass(frozen=True)
class Principal:
    """The caller of one request: the key it used (None when auth is off) and its rate-limit bucket."""

    key_id: str | None
    bucket: str


class AuthError(Exception):
    """No key, or a key that is not configured. ``message`` is safe to show the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeyRing:
    """The configured digests; :meth:`check` maps request headers to a :class:`Principal`."""

    def __init__(self, digests: list[str]) -> None:
        self.digests = list(digests)

    @property
    def enabled(self) -> bool:
        return bool(self.digests)

    @staticmethod
    def presented_key(headers: Mapping[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        key = headers.get("x-api-key", "").strip()
        return key or None

    def check(self, headers: Mapping[str, str], client: str) -> Principal:
        if not self.enabled:
            return Principal(None, f"client:{client}")
        key = self.presented_key(headers)
        if key is None:
            raise AuthError(
                "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            )
        digest = HASH_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()
        # compare against every entry, so the time taken does not depend on which one matched
        matched = [hmac.compare_digest(digest, d) for d in self.digests]
        if not any(matched):
            raise AuthError("the API key is not valid")
        kid = key_id(digest)
        return Principal(kid, f"key:{kid}")


class RateLimiter:
    """Token buckets, one per caller: ``burst`` tokens, refilled at ``rate_per_minute / 60`` a second.

    :meth:`acquire` returns 0.0 when the request may go ahead, else the seconds until it could.
    At most ``max_buckets`` callers are remembered (least recently seen forgotten first), so a flood
    of client addresses cannot grow memory without bound.
    """

    def __init__(
        self, rate_per_minute: float, burst: int, max_buckets: int = 10_000, clock: Any = time.monotonic
    ) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.max_buckets = max_buckets
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # name -> (tokens, stamp)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def acquire(self, name: str) -> float:
        if not self.enabled:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, stamp = self._buckets.pop(name, (self.burst, now))
            tokens = min(self.burst, tokens + (now - stamp) * self.rate)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[name] = (tokens, now)
            while len(self._buckets) > self.max_buckets:
                self._buckets.popitem(last=False)
        return wait

    @staticmethod
    def retry_after(wait: float) -> str:
        """``Retry-After`` wants whole seconds; round up so a client that waits is then served."""
        return str(max(1, math.ceil(wait)))


class BodyTooLarge(HTTPException):
    """Raised while the body is read; an HTTPException so FastAPI's handlers turn it into the 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")
        self.limit = limit


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` on paths under ``prefixes`` with a JSON 413.

    A declared ``Content-Length`` over the limit is refused before anything is read; otherwise the
    received bytes are counted and reading stops at the limit. Other paths (a mounted UI that takes
    uploads) are left alone.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, prefixes: tuple[str, ...] = ("/v1",), error_body: Any = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = prefixes
        self.error_body = error_body  # callable(message) -> bytes of the JSON error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        message = f"the request body is larger than the limit of {self.max_bytes} bytes"
        body = self.error_body(message) if self.error_body else message.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
