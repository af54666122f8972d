"""Any OpenAI-compatible chat endpoint over HTTP: llama.cpp server, vLLM, SGLang, Ollama, OpenAI.

``POST {base_url}/chat/completions`` with ``"stream": true``; the answer arrives as server-sent events
(``data: {json chunk}`` lines, ended by ``data: [DONE]``), read with httpx. Closing the response when
``cancel`` is set drops the connection, which these servers take as a signal to stop generating.

JSON mode: the OpenAI form ``response_format={"type": "json_schema", "json_schema": {...}}`` is what
OpenAI, vLLM, SGLang, Ollama and the C++ llama.cpp server accept; the llama-cpp-python server only
knows ``{"type": "json_object", "schema": ...}``. With ``json_mode="auto"`` (the default) the backend
sends the OpenAI form first and, if the server rejects the request with an error that names
``response_format`` or ``json_schema`` (llama-cpp-python answers HTTP 500 with its validation error),
retries once with the other form and keeps using it for this server.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import httpx

from bot.llm.base import LLM, GenerationConfig, LLMError, is_cancelled

log = logging.getLogger(__name__)

JsonMode = Literal["auto", "json_schema", "json_object"]


class OpenAICompatLLM(LLM):
    """A chat model behind an OpenAI-compatible HTTP API.

    ``base_url`` ends in ``/v1`` (e.g. ``http://127.0.0.1:8080/v1``); ``model`` is the name the server
    knows the model by. ``timeout_s`` bounds connecting and the wait for each streamed chunk, so a
    server that stalls mid-answer raises :class:`LLMError` instead of hanging. ``extra_body`` adds
    server-specific fields to every request (llama.cpp's ``cache_prompt``, say). Keep-alive comments
    (``: ping``, sent by sse-starlette servers such as llama-cpp-python's) do not count as data: a
    server that sends only those for longer than ``timeout_s`` has stalled too.
    """

    supports_json_schema = True

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "http://127.0.0.1:8080/v1",
        api_key: str | None = None,
        timeout_s: float = 60.0,
        json_mode: JsonMode = "auto",
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if json_mode not in ("auto", "json_schema", "json_object"):
            raise LLMError(f"json_mode must be auto, json_schema or json_object, got {json_mode!r}")
        self.name = f"openai:{model}@{base_url}"
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.timeout_s = timeout_s
        self._json_mode: JsonMode = json_mode
        self.extra_body = dict(extra_body or {})  # server-specific fields sent with every request
        headers = {"Accept": "text/event-stream"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        )

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self._client.close()

    def _body(self, wire: list[dict[str, str]], config: GenerationConfig, json_mode: str) -> dict:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": wire,
            "max_tokens": config.max_tokens,
            "temperature": config.temperature,
            "stream": True,
            **self.extra_body,
        }
        if config.stop:
            body["stop"] = list(config.stop)
        if config.seed is not None:
            body["seed"] = config.seed
        if config.json_schema is not None:
            if json_mode == "json_object":
                body["response_format"] = {"type": "json_object", "schema": config.json_schema}
            else:
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": config.json_schema},
                }
        return body

    def _stream(
        self, wire: list[dict[str, str]], config: GenerationConfig, cancel: threading.Event | None
    ) -> Iterator[str]:
        if is_cancelled(cancel):
            return
        mode = "json_schema" if self._json_mode == "auto" else self._json_mode
        try:
            response = self._open(self._body(wire, config, mode))
            if response.status_code >= 400 and config.json_schema is not None and self._json_mode == "auto":
                detail = _error_text(response)
                response.close()
                if "response_format" not in detail and "json_schema" not in detail:
                    raise LLMError(f"{self.url} answered HTTP {response.status_code}: {detail[:500]}")
                log.info(
                    "%s rejected response_format json_schema (%s); retrying with json_object",
                    self.url,
                    detail[:200],
                )
                mode = "json_object"
                response = self._open(self._body(wire, config, mode))
                if response.status_code < 400:
                    self._json_mode = "json_object"
            try:
                if response.status_code >= 400:
                    raise LLMError(
                        f"{self.url} answered HTTP {response.status_code}: {_error_text(response)[:500]}"
                    )
                for piece in self._pieces(response):
                    yield piece
                    if is_cancelled(cancel):
                        log.debug("%s: generation cancelled", self.name)
                        return
            finally:
                response.close()  # on cancel this drops the connection, which stops the server
        except httpx.TimeoutException as exc:
            raise LLMError(f"{self.url} timed out after {self.timeout_s} s ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise LLMError(f"cannot reach {self.url}: {exc or type(exc).__name__}") from exc

    def _open(self, body: dict) -> httpx.Response:
        request = self._client.build_request("POST", self.url, json=body)
        return self._client.send(request, stream=True)

    def _pieces(self, response: httpx.Response) -> Iterator[str]:
        last_data = time.monotonic()
        for line in response.iter_lines():
            if not line.startswith("data:"):
                # blank separators, ": ping" comments, "event:" lines: they keep the socket busy, so
                # httpx's read timeout never fires; the time since the last data line is bounded here
                if time.monotonic() - last_data > self.timeout_s:
                    raise LLMError(
                        f"{self.url} timed out after {self.timeout_s} s (the server sent only keep-alive "
                        "comments, no data)"
                    )
                continue
            last_data = time.monotonic()
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                chunk = json.loads(data)
            except ValueError as exc:
                raise LLMError(f"{self.url} sent a malformed stream event: {data[:200]!r}") from exc
            if "error" in chunk:
                raise LLMError(f"{self.url} reported an error mid-stream: {chunk['error']}")
            choices = chunk.get("choices") or []
            if not choices:
                continue
            piece = (choices[0].get("delta") or {}).get("content")
            if piece:
                yield piece


def _error_text(response: httpx.Response) -> str:
    try:
        response.read()
        return response.text
    except httpx.HTTPError:
        return "(no body)"
