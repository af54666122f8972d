"""Chat-model backends behind one small interface.

Use :func:`create_llm` (the application: :func:`bot.services.create_llm`) to get an :class:`LLM`, then
``llm.stream(messages, config, cancel)`` for text pieces or ``llm.complete(...)`` for the whole answer.
Backends: ``llamacpp`` (GGUF in a supervised llama.cpp child process, default on CPU), ``transformers`` (Hugging Face models, GPUs),
``openai`` (any OpenAI-compatible server). Importing this package imports no backend.
"""

from bot.llm.base import LLM, ChatMessage, GenerationConfig, LLMError
from bot.llm.factory import BACKENDS, create_llm
from bot.llm.models import PACKAGED_MODELS, resolve_gguf

__all__ = [
    "BACKENDS",
    "LLM",
    "PACKAGED_MODELS",
    "ChatMessage",
    "GenerationConfig",
    "LLMError",
    "create_llm",
    "resolve_gguf",
]
