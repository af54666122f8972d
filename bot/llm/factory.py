"""Build an :class:`~bot.llm.base.LLM` from a backend name, a model and backend options.

The application layer builds the options from its settings (:func:`bot.services.create_llm`); library
code and tests call :func:`create_llm` with explicit arguments.
Backends are imported only when asked for, so neither the llamacpp nor the openai path imports torch
(the llamacpp backend runs llama.cpp in a child process; see :mod:`bot.llm.supervisor`).
"""

from __future__ import annotations

import importlib
from typing import Any

from bot.llm.base import LLM, LLMError

# backend name -> (module, class, options its constructor accepts)
_BACKENDS: dict[str, tuple[str, str, frozenset[str]]] = {
    "llamacpp": (
        "bot.llm.llamacpp",
        "LlamaCppLLM",
        frozenset({"cache_dir", "n_threads", "n_ctx", "parallel", "cache_prompt", "timeout_s"}),
    ),
    "transformers": (
        "bot.llm.hf_transformers",
        "TransformersLLM",
        frozenset({"cache_dir", "device", "dtype"}),
    ),
    "openai": (
        "bot.llm.openai_compat",
        "OpenAICompatLLM",
        frozenset({"base_url", "api_key", "timeout_s", "json_mode"}),
    ),
}
BACKENDS: tuple[str, ...] = tuple(_BACKENDS)


def create_llm(backend: str, model: str, **opts: Any) -> LLM:
    """A ready model: ``backend`` is ``llamacpp``, ``transformers`` or ``openai``.

    Options (all optional): llamacpp ``cache_dir, n_threads, n_ctx, parallel, cache_prompt, timeout_s``; transformers
    ``cache_dir, device, dtype``; openai ``base_url, api_key, timeout_s, json_mode``. An option the
    backend does not take raises :class:`LLMError`, so a typo does not pass silently.
    """
    if backend not in _BACKENDS:
        raise LLMError(f"unknown LLM backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    module_name, class_name, accepted = _BACKENDS[backend]
    unknown = sorted(set(opts) - accepted)
    if unknown:
        raise LLMError(f"backend {backend!r} does not take option(s) {unknown}; it takes {sorted(accepted)}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LLMError(f"backend {backend!r} cannot be used: {exc}") from exc
    return getattr(module, class_name)(model, **opts)
