"""Build an :class:`~bot.llm.base.LLM` from a backend name, a model and backend options.

The application layer calls :func:`create_llm_from_settings` with ``settings.llm`` and
``settings.cache_dir``; library code and tests call :func:`create_llm` with explicit arguments.
Backends are imported only when asked for, so neither the llamacpp nor the openai path imports torch
(the llamacpp backend runs llama.cpp in a child process; see :mod:`bot.llm.supervisor`).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from bot.llm.base import LLM, GenerationConfig, LLMError
from bot.settings import LLMSettings

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


def create_llm_from_settings(settings: LLMSettings, cache_dir: Path | None = None) -> LLM:
    """The model that ``settings.llm`` describes; ``cache_dir`` is ``settings.cache_dir``."""
    opts: dict[str, Any]
    if settings.backend == "llamacpp":
        opts = {"cache_dir": cache_dir, "n_threads": settings.n_threads, "parallel": settings.parallel,
                "timeout_s": settings.timeout_s}
    elif settings.backend == "transformers":
        opts = {"cache_dir": cache_dir}
    else:
        opts = {"base_url": settings.base_url, "api_key": settings.api_key, "timeout_s": settings.timeout_s}
    return create_llm(settings.backend, settings.model, **opts)


def generation_config_from_settings(settings: LLMSettings, **overrides: Any) -> GenerationConfig:
    """The default :class:`GenerationConfig` (``max_tokens``, ``temperature``) with ``overrides``."""
    values: dict[str, Any] = {"max_tokens": settings.max_tokens, "temperature": settings.temperature}
    values.update(overrides)
    return GenerationConfig(**values)
