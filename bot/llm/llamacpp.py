"""Local GGUF models through llama.cpp, run in a supervised child process: the default backend on CPU.

The model is served by :mod:`bot.llm.llama_server` (xllamacpp's prebuilt llama.cpp server) in a child
process that :mod:`bot.llm.supervisor` starts, watches and restarts; this backend streams from it over
loopback with :class:`~bot.llm.openai_compat.OpenAICompatLLM`. So:

* a native crash (SIGSEGV, SIGILL) or hang in llama.cpp costs one turn, not the app: the stream raises
  :class:`LLMError`, the engine answers with its degraded grounded reply, the child is started again,
  and :meth:`LlamaCppLLM.health` says ``restarting`` meanwhile;
* every :class:`LlamaCppLLM` of the process that asks for the same file and settings shares one child;
  with ``parallel=1`` (the default) concurrent streams queue in the server's single slot, with more
  slots the server decodes them together (continuous batching);
* the chat template comes from the GGUF itself (ChatML for Qwen2.5 and SmolLM2), and
  ``config.json_schema`` becomes a llama.cpp grammar (``response_format`` ``json_schema``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from bot.llm.base import LLM, GenerationConfig, LLMError
from bot.llm.models import resolve_gguf
from bot.llm.openai_compat import OpenAICompatLLM
from bot.llm.supervisor import Health, ServerConfig, ServerProcess, shared_server

log = logging.getLogger(__name__)

DEFAULT_N_CTX = 4096
CACHE_PROMPT_DEFAULT = True
DEFAULT_TIMEOUT_S = 60.0


def default_threads() -> int:
    """Half the CPUs this process may use, at least one: llama.cpp's own default.

    Measured on the two-core dev box with qwen2.5-coder-0.5b: with the cores to itself, 2 threads decode
    ~60 tok/s; while other processes keep the cores busy, 2 threads fall to 2-6 tok/s (every token
    waits for the slowest, descheduled thread) while 1 thread keeps 24-35 tok/s. The app shares the
    machine with retrieval and the UI, so the robust choice is the default; ``n_threads`` overrides it.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus // 2)


class LlamaCppLLM(LLM):
    """A GGUF chat model served by a supervised local llama.cpp process.

    ``model`` is a packaged model name (``qwen2.5-coder-0.5b``, ``smollm2-135m``; see
    :data:`bot.llm.models.PACKAGED_MODELS`) or a path to a ``.gguf`` file. ``cache_dir`` is where split
    packaged models are assembled (``settings.cache_dir``) and where the server's log is written.
    ``n_threads`` defaults to :func:`default_threads`; ``parallel`` is the number of server slots.
    The constructor starts the server (or joins the one already running for the same model) and
    waits until the model is loaded; a model that cannot load raises :class:`LLMError` with the
    server's log.

    ``cache_prompt`` (default True) lets the server keep the evaluated prompt of a slot between calls,
    so a new turn that starts with the same system prompt only evaluates what changed. Pass
    ``cache_prompt=False`` where output must be reproducible (evaluation, tests). ``timeout_s`` bounds
    the wait for each streamed piece: a server that stays silent longer is taken as hung and
    restarted.
    """

    supports_json_schema = True

    def __init__(
        self,
        model: str,
        *,
        cache_dir: Path | None = None,
        n_threads: int | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        parallel: int = 1,
        cache_prompt: bool = CACHE_PROMPT_DEFAULT,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.name = f"llamacpp:{model}"
        self.cache_prompt = cache_prompt
        self.path = resolve_gguf(model, cache_dir)
        config = ServerConfig(model_path=self.path, threads=n_threads or default_threads(), n_ctx=n_ctx,
                              parallel=max(1, parallel))
        self._log_dir = Path(cache_dir) / "logs" if cache_dir else None
        self.server: ServerProcess = shared_server(config, self._log_dir)
        self.timeout_s = timeout_s
        self._clients: dict[str, OpenAICompatLLM] = {}
        self._clients_lock = threading.Lock()

    def health(self) -> Health:
        return self.server.health()

    def _client(self) -> OpenAICompatLLM:
        if self.server.health().state == "stopped":  # closed by someone: join (or start) a new one
            self.server = shared_server(self.server.config, self._log_dir)
        url = self.server.url()
        with self._clients_lock:
            client = self._clients.get(url)
            if client is None:  # a restarted server listens on a new port
                for old in self._clients.values():
                    old.close()
                self._clients.clear()
                client = OpenAICompatLLM(
                    self.path.stem, base_url=f"{url}/v1", timeout_s=self.timeout_s, json_mode="json_schema",
                    extra_body={"cache_prompt": self.cache_prompt},
                )
                self._clients[url] = client
            return client

    def _stream(
        self, wire: list[dict[str, str]], config: GenerationConfig, cancel: threading.Event | None
    ) -> Iterator[str]:
        client = self._client()
        pid = self.server.pid
        try:
            yield from client._stream(wire, config, cancel)
        except LLMError as exc:
            if "timed out" in str(exc):  # alive but silent: hung inside llama.cpp
                self.server.restart(f"no answer for {self.timeout_s:.0f} s")
                raise LLMError(f"{self.name}: the local model server timed out; it is being restarted") from exc
            if not self.server.alive(pid, grace_s=1.0):
                raise LLMError(f"{self.name}: the local model server stopped mid-answer ({exc}); "
                               "it is being restarted") from exc
            raise LLMError(f"{self.name}: {exc}") from exc
