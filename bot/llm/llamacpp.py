"""In-process GGUF models through llama-cpp-python: the default backend on CPU.

The chat template comes from the GGUF itself (ChatML for Qwen2.5 and SmolLM2), so the prompt format
always matches the model. A loaded model is shared by every :class:`LlamaCppLLM` of the process that
asks for the same file and settings; a lock makes concurrent streams take turns on it (a llama.cpp
context cannot run two generations at once). ``config.json_schema`` becomes a llama.cpp grammar through
``response_format={"type": "json_object", "schema": ...}``, so the answer is valid JSON unless it is
cut by ``max_tokens``. The grammar is checked against the whole vocabulary at every token, which
made qwen2.5-0.5b decode 2-4x slower in JSON mode (17 ms/token plain; 35-75 ms with a schema).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.llm.base import LLM, ChatMessage, GenerationConfig, LLMError, check_messages, is_cancelled
from bot.llm.models import PACKAGED_MODELS, resolve_gguf

log = logging.getLogger(__name__)

DEFAULT_N_CTX = 4096
CACHE_PROMPT_DEFAULT = True
_LOCK_POLL_S = 0.05


def default_threads() -> int:
    """Half the CPUs this process may use, at least one: llama.cpp's own default.

    Measured on the two-core dev box with qwen2.5-0.5b: with the cores to itself, 2 threads decode
    ~60 tok/s; while other processes keep the cores busy, 2 threads fall to 2-6 tok/s (every token
    waits for the slowest, descheduled thread) while 1 thread keeps 24-35 tok/s. The app shares the
    machine with retrieval and the UI, so the robust choice is the default; ``n_threads`` overrides it.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus // 2)


@dataclass
class _Loaded:
    llama: Any  # llama_cpp.Llama
    lock: threading.Lock
    load_s: float


_models: dict[tuple, _Loaded] = {}
_models_lock = threading.Lock()


@atexit.register
def _close_models() -> None:
    """Free the loaded models while the interpreter is whole: left to ``Llama.__del__`` at shutdown,
    they print a TypeError traceback (llama-cpp-python 0.3.36)."""
    with _models_lock:
        for loaded in _models.values():
            try:
                loaded.llama.close()
            except Exception as exc:  # noqa: BLE001 -- exiting anyway
                log.debug("closing a llama.cpp model failed: %s", exc)
        _models.clear()


def _load(path: Path, n_ctx: int, n_threads: int, n_gpu_layers: int, chat_format: str | None) -> _Loaded:
    key = (str(path.resolve()), n_ctx, n_threads, n_gpu_layers, chat_format)
    with _models_lock:
        loaded = _models.get(key)
        if loaded is not None:
            return loaded
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMError(
                "the llamacpp backend needs llama-cpp-python: pip install llama-cpp-python==0.3.36"
            ) from exc
        start = time.perf_counter()
        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=n_gpu_layers,
                chat_format=chat_format,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise LLMError(f"llama.cpp could not load {path}: {exc}") from exc
        loaded = _Loaded(llama=llama, lock=threading.Lock(), load_s=time.perf_counter() - start)
        log.info("loaded %s in %.2f s (n_ctx=%d, n_threads=%d)", path.name, loaded.load_s, n_ctx, n_threads)
        _models[key] = loaded
        return loaded


class LlamaCppLLM(LLM):
    """A GGUF chat model run in this process by llama.cpp.

    ``model`` is a packaged model name (``qwen2.5-0.5b``, ``smollm2-135m``; see
    :data:`bot.llm.models.PACKAGED_MODELS`) or a path to a ``.gguf`` file. ``cache_dir`` is where
    split packaged models are assembled (``settings.cache_dir``); ``n_threads`` (used for prompt
    evaluation and decoding) defaults to :func:`default_threads`. The model loads in the constructor,
    once per process for a given file.

    ``cache_prompt`` (default True) keeps the evaluated prompt between calls, so a new turn that starts
    with the same system prompt only evaluates what changed (time to first token for a ~300-token
    prompt with the 0.5B drops from about 1 s to 0.1 s on two idle cores, from 3 s to 0.4 s on one
    busy core). The price: the re-evaluated tokens run in a different batch shape, so even greedy
    answers can differ slightly between two identical calls. Pass ``cache_prompt=False`` where output
    must be reproducible (evaluation, tests). Cancellation is checked between tokens; prompt
    evaluation itself is not interruptible.
    """

    supports_json_schema = True

    def __init__(
        self,
        model: str,
        *,
        cache_dir: Path | None = None,
        n_threads: int | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        n_gpu_layers: int = 0,
        cache_prompt: bool = CACHE_PROMPT_DEFAULT,
    ) -> None:
        self.name = f"llamacpp:{model}"
        self.cache_prompt = cache_prompt
        self.path = resolve_gguf(model, cache_dir)
        packaged = PACKAGED_MODELS.get(model)
        chat_format = packaged.chat_format if packaged else None
        threads = n_threads or default_threads()
        self._loaded = _load(self.path, n_ctx, threads, n_gpu_layers, chat_format)

    @property
    def load_seconds(self) -> float:
        """How long loading the model took (in the call that actually loaded it)."""
        return self._loaded.load_s

    def stream(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        wire = check_messages(messages)
        return self._stream(wire, config, cancel)

    def _stream(
        self, wire: list[dict[str, str]], config: GenerationConfig, cancel: threading.Event | None
    ) -> Iterator[str]:
        lock = self._loaded.lock
        while not lock.acquire(timeout=_LOCK_POLL_S):  # queue behind another stream, unless cancelled
            if is_cancelled(cancel):
                return
        chunks = None
        try:
            if is_cancelled(cancel):
                return
            kwargs: dict[str, Any] = {
                "messages": wire,
                "max_tokens": config.max_tokens,
                "temperature": config.temperature,
                "stop": list(config.stop),
                "seed": config.seed,
                "stream": True,
            }
            if not self.cache_prompt:
                self._loaded.llama.reset()  # evaluate the whole prompt afresh: reproducible output
            if config.json_schema is not None:
                kwargs["response_format"] = {"type": "json_object", "schema": config.json_schema}
            try:
                chunks = self._loaded.llama.create_chat_completion(**kwargs)
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
                    if is_cancelled(cancel):
                        log.debug("%s: generation cancelled", self.name)
                        return
            except ValueError as exc:  # e.g. the prompt does not fit the context window
                raise LLMError(f"{self.name}: {exc}") from exc
        finally:
            if chunks is not None:
                chunks.close()
            lock.release()
