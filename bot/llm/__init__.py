"""Chat-model backends behind one small interface.

Use :func:`create_llm` (or :func:`create_llm_from_settings`) to get an :class:`LLM`, then
``llm.stream(messages, config, cancel)`` for text pieces or ``llm.complete(...)`` for the whole answer.
Backends: ``llamacpp`` (GGUF in a supervised llama.cpp child process, default on CPU), ``transformers`` (Hugging Face models, GPUs),
``openai`` (any OpenAI-compatible server). Importing this package imports no backend.
"""

from bot.llm.base import LLM, ChatMessage, GenerationConfig, LLMError
from bot.llm.factory import BACKENDS, create_llm, create_llm_from_settings, generation_config_from_settings
from bot.llm.models import PACKAGED_MODELS, resolve_gguf

__all__ = [
    "BACKENDS",
    "LLM",
    "PACKAGED_MODELS",
    "ChatMessage",
    "GenerationConfig",
    "LLMError",
    "create_llm",
    "create_llm_from_settings",
    "generation_config_from_settings",
    "resolve_gguf",
]
