"""Session fixtures for the LLM backends: the packaged tiny model, loaded once, and a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.llm.llamacpp import LlamaCppLLM, default_threads
from bot.llm.models import PACKAGED_MODELS

TINY = "smollm2-135m"
# A prompt the tiny model answers at length, so that an early stop is visible.
LONG_PROMPT = "Write a very long, detailed story about a dragon who learns to cook. Use many paragraphs."
PERSON_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
SERVER_START_TIMEOUT_S = 120


@pytest.fixture(scope="session")
def tiny_gguf() -> Path:
    return PACKAGED_MODELS[TINY].locate(None)


@pytest.fixture(scope="session")
def llamacpp_tiny():
    """SmolLM2-135M in llama.cpp with ``cache_prompt=False``, so greedy answers are reproducible."""
    return LlamaCppLLM(TINY, cache_prompt=False)  # default threads: robust on a busy machine


@pytest.fixture(scope="session")
def transformers_tiny():
    """SmolLM2-135M loaded by transformers from its GGUF (dequantized; ~15 s on two cores)."""
    pytest.importorskip("gguf")
    from bot.llm.hf_transformers import TransformersLLM

    return TransformersLLM(TINY, device="cpu")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``python -m llama_cpp.server`` on loopback serving the tiny model; yields its ``/v1`` URL."""
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server] dependencies")
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(tiny_gguf), "--model_alias", TINY,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", str(default_threads()),
    ]  # fmt: skip
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=os.environ.copy())
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"llama_cpp.server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"llama_cpp.server not ready after {SERVER_START_TIMEOUT_S} s:\n{log_path.read_text()}"
                )
            time.sleep(0.25)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
