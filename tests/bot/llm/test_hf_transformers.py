"""The transformers backend, on CPU, with the packaged SmolLM2-135M loaded through ``gguf_file=``."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.llm.base import ChatMessage, GenerationConfig, LLMError
from tests.bot.llm.conftest import LONG_PROMPT

pytestmark = pytest.mark.slow

STORY = [ChatMessage("user", LONG_PROMPT)]
GREEDY = GenerationConfig(max_tokens=24, temperature=0.0)


def _generate_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("generate-")]


def test_loads_on_cpu_with_gguf_chat_template(transformers_tiny):
    assert transformers_tiny.device == "cpu"
    assert transformers_tiny.supports_json_schema is False
    prompt = transformers_tiny._loaded.tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    assert "<|im_start|>user\nhi<|im_end|>" in prompt and prompt.endswith("<|im_start|>assistant\n")


def test_stream_yields_pieces_that_join_to_the_complete_answer(transformers_tiny):
    pieces = list(transformers_tiny.stream(STORY, GREEDY))
    assert len(pieces) >= 5
    assert all(isinstance(p, str) and p for p in pieces)
    text = "".join(pieces)
    assert text == transformers_tiny.complete(STORY, GREEDY)  # greedy on CPU is reproducible
    assert "<|im_end|>" not in text and len(text.split()) >= 8
    assert not _generate_threads()


def test_cancel_after_first_piece_stops_generation(transformers_tiny):
    max_tokens = 200
    cancel = threading.Event()
    pieces = []
    for piece in transformers_tiny.stream(STORY, GenerationConfig(max_tokens=max_tokens), cancel):
        pieces.append(piece)
        cancel.set()
    assert len(pieces) == 1
    # The worker thread ran the StoppingCriteria and ended; it is joined before the stream returns.
    assert not _generate_threads()
    n_tokens = len(transformers_tiny._loaded.tokenizer("".join(pieces))["input_ids"])
    assert n_tokens < max_tokens // 10


def test_closing_the_stream_early_ends_generation(transformers_tiny):
    stream = transformers_tiny.stream(STORY, GenerationConfig(max_tokens=200, temperature=0.0))
    assert next(stream)
    stream.close()
    assert not _generate_threads()
    assert not transformers_tiny._loaded.lock.locked()


def test_stop_strings_end_the_answer_and_are_not_included(transformers_tiny):
    full = transformers_tiny.complete(STORY, GREEDY)
    words = full.split()
    stop = words[len(words) // 2]
    cut = transformers_tiny.complete(STORY, GenerationConfig(max_tokens=24, temperature=0.0, stop=[stop]))
    assert cut == full[: full.index(stop)]


def test_missing_model_folder_raises_llm_error(tmp_path: Path):
    from bot.llm.hf_transformers import TransformersLLM

    with pytest.raises(LLMError, match="does not exist"):
        TransformersLLM(str(tmp_path / "no-such-model"))


def test_folder_without_config_raises_llm_error(tmp_path: Path):
    from bot.llm.hf_transformers import TransformersLLM

    with pytest.raises(LLMError, match="has no config.json"):
        TransformersLLM(str(tmp_path))


def test_missing_gguf_raises_llm_error(tmp_path: Path):
    from bot.llm.hf_transformers import TransformersLLM

    with pytest.raises(LLMError, match="absent.gguf"):
        TransformersLLM(str(tmp_path / "absent.gguf"))


def test_bad_dtype_raises_llm_error(tiny_gguf: Path):
    from bot.llm.hf_transformers import TransformersLLM

    with pytest.raises(LLMError, match="'float33' is not a torch dtype"):
        TransformersLLM(str(tiny_gguf), device="cpu", dtype="float33")
