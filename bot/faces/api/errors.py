"""One error shape for every failure: ``{"error": {"code": ..., "message": ..., "details": ...}}``.

Routes raise :class:`ApiError` with a stable ``code``; :func:`install_error_handlers` also converts
FastAPI's own failures (validation, unknown route, wrong method) and unexpected exceptions, so no
client ever sees an HTML page or a bare ``{"detail": ...}``. Bad input is always a 4xx; a 500 means
a bug, is logged with its traceback, and tells the client nothing internal.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.sessions import SessionNotFound

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "not_ready",
}


class ApiError(StarletteHTTPException):
    """An HTTP error with a stable machine-readable ``code`` and a message for people."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(status_code, message, headers)
        self.code = code
        self.message = message
        self.details = details


def error_payload(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def error_bytes(code: str, message: str) -> bytes:
    return json.dumps(error_payload(code, message)).encode()


def _loc(loc: tuple | list) -> str:
    return ".".join(str(p) for p in loc)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(
        error_payload(exc.code, exc.message, exc.details), exc.status_code, headers=exc.headers
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}; see /docs"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return JSONResponse(error_payload(code, message), exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        e = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (e.get("ctx") or {}).get("error", "invalid JSON")
        return JSONResponse(
            error_payload("invalid_json", f"the request body is not valid JSON: {reason}"), 400
        )
    details = [
        {"field": _loc(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return JSONResponse(error_payload("invalid_request", summary or "invalid request", details), 422)


async def _session_not_found(request: Request, exc: SessionNotFound) -> JSONResponse:
    return JSONResponse(error_payload("session_not_found", str(exc)), 404)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in %s %s", request.method, request.url.path)
    return JSONResponse(
        error_payload("internal_error", "internal server error; the server log has details"), 500
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(SessionNotFound, _session_not_found)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
