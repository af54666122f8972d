"""Liveness and readiness: ``GET /healthz`` (the process is up) and ``GET /readyz`` (indexes opened, the
LLM loaded; ``degraded`` while a fallback serves: a Chroma server that does not answer, a crashed local
model server being restarted)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from bot.faces.api.models import Health, Readiness
from bot.faces.api.runtime import Runtime
from bot.chat_service import ChatService

router = APIRouter()


@router.get("/healthz", response_model=Health, tags=["health"], summary="Liveness: the process is up")
async def healthz() -> Health:
    return Health()


@router.get(
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
