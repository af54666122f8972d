"""The LLM of template evaluations: reproducible llama.cpp output, and an identical request answered
from memory the second time (:class:`ReplayLLM`), so what A and B share costs once and is identical.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator

from bot.llm.base import LLM, GenerationConfig
from bot.settings import Settings


class ReplayLLM(LLM):
    """Wraps an LLM; an identical deterministic request is answered from memory.

    A request is replayed only when decoding is deterministic (temperature 0, or a fixed seed) and the
    first answer was read to its end (a stream closed early is not stored).
    """

    def __init__(self, inner: LLM) -> None:
        self.inner = inner
        self.name = inner.name
        self.supports_json_schema = inner.supports_json_schema
        self._memo: dict[str, str] = {}
        self._lock = threading.Lock()
        self.calls = 0
        self.replayed = 0

    @staticmethod
    def _key(wire: list[dict[str, str]], config: GenerationConfig) -> str | None:
        if config.temperature > 0 and config.seed is None:
            return None
        payload = {
            "m": [[m["role"], m["content"]] for m in wire],
            "t": config.max_tokens,
            "T": config.temperature,
            "s": list(config.stop),
            "seed": config.seed,
            "schema": config.json_schema,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()

    def _stream(
        self, wire: list[dict[str, str]], config: GenerationConfig, cancel: threading.Event | None
    ) -> Iterator[str]:
        key = self._key(wire, config)
        with self._lock:
            self.calls += 1
            cached = self._memo.get(key) if key is not None else None
            if cached is not None:
                self.replayed += 1
        if cached is not None:
            if cached:
                yield cached
            return
        pieces: list[str] = []
        for piece in self.inner._stream(wire, config, cancel):
            pieces.append(piece)
            yield piece
        if key is not None and not (cancel is not None and cancel.is_set()):
            with self._lock:
                self._memo[key] = "".join(pieces)


def evaluation_llm(settings: Settings) -> LLM:
    """The configured model; llama.cpp with ``cache_prompt=False`` so that its answers are reproducible."""
    from bot import services
    from bot.llm.factory import create_llm

    if settings.llm.backend == "llamacpp":
        return create_llm(
            "llamacpp",
            settings.llm.model,
            cache_dir=settings.cache_dir,
            n_threads=settings.llm.n_threads,
            cache_prompt=False,
        )
    return services.create_llm(settings)
