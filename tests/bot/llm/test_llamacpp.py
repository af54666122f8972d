"""The llama.cpp backend (a supervised llama.cpp server process), on the real packaged SmolLM2-135M."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from bot.llm.base import ChatMessage, GenerationConfig, LLMError
from tests.bot.llm.conftest import LONG_PROMPT, PERSON_SCHEMA, TINY

pytestmark = pytest.mark.slow

STORY = [ChatMessage("user", LONG_PROMPT)]
GREEDY = GenerationConfig(max_tokens=48, temperature=0.0)


def test_stream_yields_pieces_that_join_to_the_complete_answer(llamacpp_tiny):
    pieces = list(llamacpp_tiny.stream(STORY, GREEDY))
    assert len(pieces) >= 10
    assert all(isinstance(p, str) and p for p in pieces)
    # cache_prompt=False makes greedy decoding reproducible, so a second, separate run must agree.
    assert "".join(pieces) == llamacpp_tiny.complete(STORY, GREEDY)
    assert len("".join(pieces).split()) >= 10


def test_system_prompt_is_followed_through_the_gguf_chat_template(llamacpp_tiny):
    messages = [
        ChatMessage("system", "You only ever answer with the single word: banana"),
        ChatMessage("user", "What is the capital of France?"),
    ]
    answer = llamacpp_tiny.complete(messages, GenerationConfig(max_tokens=16, temperature=0.0))
    assert answer.strip()
    assert "<|im_start|>" not in answer and "<|im_end|>" not in answer


def test_cancel_after_first_piece_stops_early(llamacpp_tiny):
    config = GenerationConfig(max_tokens=200, temperature=0.0)
    uncancelled = list(llamacpp_tiny.stream(STORY, config))
    assert len(uncancelled) > 100  # the control: left alone, this answer is long

    cancel = threading.Event()
    pieces = []
    for piece in llamacpp_tiny.stream(STORY, config, cancel):
        pieces.append(piece)
        cancel.set()
    assert 1 <= len(pieces) <= 2
    # The model is free again at once: the lock was released when the stream ended.
    assert llamacpp_tiny.complete(STORY, GenerationConfig(max_tokens=4, temperature=0.0))


def test_cancel_set_before_start_yields_nothing(llamacpp_tiny):
    cancel = threading.Event()
    cancel.set()
    assert list(llamacpp_tiny.stream(STORY, GREEDY, cancel)) == []


def test_stop_strings_end_the_answer_and_are_not_included(llamacpp_tiny):
    full = llamacpp_tiny.complete(STORY, GREEDY)
    words = full.split()
    stop = words[len(words) // 2]
    cut = llamacpp_tiny.complete(STORY, GenerationConfig(max_tokens=48, temperature=0.0, stop=[stop]))
    assert cut == full[: full.index(stop)]


def test_json_mode_returns_json_matching_the_schema(llamacpp_tiny):
    messages = [ChatMessage("user", "Describe a fictional person with a name and an age, as JSON.")]
    for seed in (1, 2, 3):
        text = llamacpp_tiny.complete(
            messages, GenerationConfig(max_tokens=128, temperature=0.7, seed=seed, json_schema=PERSON_SCHEMA)
        )
        data = json.loads(text)
        assert set(data) >= {"name", "age"}
        assert isinstance(data["name"], str)
        assert isinstance(data["age"], int) and not isinstance(data["age"], bool)


def test_concurrent_streams_take_turns_on_one_model(llamacpp_tiny):
    expected = llamacpp_tiny.complete(STORY, GREEDY)
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            results[i] = llamacpp_tiny.complete(STORY, GREEDY)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert results == {0: expected, 1: expected, 2: expected}  # no interleaving of two generations


def test_cancel_while_queued_returns_without_waiting(llamacpp_tiny):
    long_run = llamacpp_tiny.stream(STORY, GenerationConfig(max_tokens=200, temperature=0.0))
    first = next(long_run)  # this stream now holds the model
    cancel = threading.Event()
    cancel.set()
    got: list[list[str]] = []
    waiter = threading.Thread(target=lambda: got.append(list(llamacpp_tiny.stream(STORY, GREEDY, cancel))))
    waiter.start()
    waiter.join(timeout=5)
    assert not waiter.is_alive() and got == [[]]
    long_run.close()
    assert first


def test_model_is_loaded_once_per_process(llamacpp_tiny):
    from bot.llm.llamacpp import LlamaCppLLM

    again = LlamaCppLLM(TINY, cache_prompt=False)
    assert again.server is llamacpp_tiny.server
    assert again.server.pid == llamacpp_tiny.server.pid


def test_prompt_longer_than_context_raises_llm_error(tiny_gguf: Path):
    from bot.llm.llamacpp import LlamaCppLLM

    small = LlamaCppLLM(str(tiny_gguf), n_ctx=128)
    with pytest.raises(LLMError, match="context"):
        small.complete([ChatMessage("user", "word " * 400)], GREEDY)


def test_missing_gguf_raises_llm_error(tmp_path: Path):
    from bot.llm.llamacpp import LlamaCppLLM

    with pytest.raises(LLMError, match="absent.gguf"):
        LlamaCppLLM(str(tmp_path / "absent.gguf"))


def test_corrupt_gguf_raises_llm_error(tmp_path: Path):
    from bot.llm.llamacpp import LlamaCppLLM

    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(LLMError, match="(?s)bad.gguf did not start.*(exit|killed)"):
        LlamaCppLLM(str(bad))
