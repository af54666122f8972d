"""The OpenAI-compatible HTTP backend, against a real llama_cpp.server on loopback."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from bot.llm.base import ChatMessage, GenerationConfig, LLMError
from bot.llm.openai_compat import OpenAICompatLLM
from tests.bot.faces.api.support import free_port
from tests.bot.llm.conftest import LONG_PROMPT, PERSON_SCHEMA, TINY

STORY = [ChatMessage("user", LONG_PROMPT)]


@pytest.fixture(scope="module")
def client(llama_server: str) -> Iterator[OpenAICompatLLM]:
    llm = OpenAICompatLLM(TINY, base_url=llama_server, timeout_s=60)
    yield llm
    llm.close()


@pytest.mark.slow
def test_stream_yields_pieces_that_join_to_the_complete_answer(client: OpenAICompatLLM):
    config = GenerationConfig(max_tokens=40, temperature=0.0, seed=7)
    pieces = list(client.stream(STORY, config))
    assert len(pieces) >= 10
    assert all(isinstance(p, str) and p for p in pieces)
    text = "".join(pieces)
    assert len(text.split()) >= 10
    assert client.complete(STORY, config).strip()


@pytest.mark.slow
def test_cancel_after_first_piece_stops_early(client: OpenAICompatLLM):
    config = GenerationConfig(max_tokens=200, temperature=0.0)
    assert len(list(client.stream(STORY, config))) > 100  # the control: left alone, this answer is long
    cancel = threading.Event()
    pieces = []
    for piece in client.stream(STORY, config, cancel):
        pieces.append(piece)
        cancel.set()
    assert 1 <= len(pieces) <= 2
    # The server is usable right after the dropped connection.
    assert client.complete(STORY, GenerationConfig(max_tokens=4, temperature=0.0))


@pytest.mark.slow
def test_stop_strings_are_sent_to_the_server(client: OpenAICompatLLM):
    # Every answer of more than one word contains a space: stopping there leaves the first word.
    cut = client.complete(STORY, GenerationConfig(max_tokens=40, temperature=0.0, stop=[" "]))
    assert cut and " " not in cut and len(cut) < 20


@pytest.mark.slow
def test_json_mode_returns_json_matching_the_schema(llama_server: str):
    # A fresh client in "auto" mode sends the OpenAI json_schema form first; llama.cpp's server takes it.
    llm = OpenAICompatLLM(TINY, base_url=llama_server, timeout_s=60)
    try:
        messages = [ChatMessage("user", "Describe a fictional person with a name and an age, as JSON.")]
        for seed in (1, 2):
            text = llm.complete(
                messages,
                GenerationConfig(max_tokens=128, temperature=0.7, seed=seed, json_schema=PERSON_SCHEMA),
            )
            data = json.loads(text)
            assert isinstance(data["name"], str)
            assert isinstance(data["age"], int) and not isinstance(data["age"], bool)
        assert llm._json_mode == "auto"  # no fallback to llama-cpp-python's json_object form was needed
    finally:
        llm.close()


@pytest.mark.slow
def test_http_error_names_url_and_status(llama_server: str):
    wrong = llama_server.removesuffix("/v1") + "/not-an-api"
    llm = OpenAICompatLLM(TINY, base_url=wrong, timeout_s=30)
    with pytest.raises(LLMError, match=r"/not-an-api/chat/completions answered HTTP 404"):
        llm.complete(STORY, GenerationConfig(max_tokens=4))


def test_unreachable_server_raises_llm_error_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    llm = OpenAICompatLLM("any", base_url=url, timeout_s=5)
    with pytest.raises(LLMError, match=f"cannot reach {url}/chat/completions"):
        llm.complete(STORY, GenerationConfig(max_tokens=4))


def test_server_that_never_answers_times_out():
    # A real socket that accepts connections and then stays silent.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/v1"
        llm = OpenAICompatLLM("any", base_url=url, timeout_s=0.5)
        with pytest.raises(LLMError, match=r"timed out after 0.5 s"):
            llm.complete(STORY, GenerationConfig(max_tokens=4))
