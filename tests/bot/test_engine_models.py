"""A full recommendation turn with each model the product runs: the default Qwen2.5-Coder-0.5B and the
tests' SmolLM2-135M, each in its supervised llama.cpp process (on AMX machines too: this is the turn
that crashed there with natively compiled llama.cpp)."""

from __future__ import annotations

import pytest

from bot.engine import ConversationEngine, EngineConfig
from bot.llm.factory import create_llm
from bot.state import SessionState
from prompts.loader import PromptLibrary

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["smollm2-135m", "qwen2.5-coder-0.5b"])
def test_a_recommendation_turn_is_written_by_the_model(model: str, retriever, session_data_dir):  # noqa: ANN001
    llm = create_llm("llamacpp", model, cache_dir=session_data_dir / "cache", cache_prompt=False)
    # the LLM understands the message and words every card (explain="per_item"): both paths run it
    config = EngineConfig(k=3, llm_understanding="always", explain="per_item", item_tokens=40,
                          temperature=0.0, seed=1)
    engine = ConversationEngine(retriever, llm, PromptLibrary(), config)
    state = SessionState()
    result = engine.run_turn(state, "I loved Alien, recommend me some scary science fiction films")
    assert result.degraded is None, result.degraded
    assert result.action == "recommend" and len(result.recommendations) == 3
    assert all(r.label in result.text for r in result.recommendations)
    # the model wrote text beyond the grounded fallback lines ("1. Label: why.")
    fallback = "\n".join(f"{n}. {r.label}: {r.why}." for n, r in enumerate(result.recommendations, 1))
    assert result.text.strip() != fallback.strip()
    assert llm.health().state == "ready" and llm.health().restarts == 0
