"""Session fixtures for the LLM backends: the packaged tiny model, loaded once, and a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.llm.llamacpp import LlamaCppLLM, default_threads
from bot.llm.models import PACKAGED_MODELS
from bot.llm.supervisor import ServerConfig, ServerProcess

TINY = "smollm2-135m"
# A prompt the tiny model answers at length, so that an early stop is visible.
LONG_PROMPT = "Write a very long, detailed story about a dragon who learns to cook. Use many paragraphs."
PERSON_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


@pytest.fixture(scope="session")
def tiny_gguf() -> Path:
    return PACKAGED_MODELS[TINY].locate(None)


@pytest.fixture(scope="session")
def llamacpp_tiny():
    """SmolLM2-135M in a supervised llama.cpp process with ``cache_prompt=False``, so greedy answers
    are reproducible."""
    return LlamaCppLLM(TINY, cache_prompt=False)  # default threads: robust on a busy machine


@pytest.fixture(scope="session")
def transformers_tiny():
    """SmolLM2-135M loaded by transformers from its GGUF (dequantized; ~15 s on two cores)."""
    pytest.importorskip("gguf")
    from bot.llm.hf_transformers import TransformersLLM

    return TransformersLLM(TINY, device="cpu")


@pytest.fixture(scope="session")
def llama_server(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real llama.cpp server process (``python -m bot.llm.llama_server``, its own, not the one the
    llamacpp backend shares) on loopback serving the tiny model; yields its ``/v1`` URL."""
    server = ServerProcess(
        ServerConfig(tiny_gguf, threads=default_threads(), n_ctx=2048), tmp_path_factory.mktemp("llama-server")
    )
    try:
        yield f"{server.url()}/v1"
    finally:
        server.close()
