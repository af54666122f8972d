"""The LLM's JSON reading of a message is bounded by its schema, so a small model cannot loop until the
token cap and lose the whole answer (SmolLM2 repeated "How are you today?" as a liked title 20 times)."""

from __future__ import annotations

import pytest

from bot.llm.base import ChatMessage, GenerationConfig
from bot.understanding import Understanding, Vocabulary
from bot.understanding.llm_merge import (
    MAX_LLM_CHARS,
    MAX_LLM_ITEMS,
    LLMPreferences,
    llm_json_schema,
    merge_llm_output,
    parse_llm_json,
)
from bot.understanding.topics import is_small_talk
from prompts.loader import PromptLibrary
from retrieval.schema import Range
from tests.bot.test_titles import small_catalogue

LIST_FIELDS = ("liked_titles", "disliked_titles", "wanted_genres", "unwanted_genres", "wanted_people",
               "unwanted_people", "wishes")


def test_long_answers_are_cut_not_rejected():
    prefs = LLMPreferences.model_validate({"liked_titles": ["x" * 100] * 9, "wishes": "a quiet film",
                                           "about_title": "y" * 90})
    assert prefs.liked_titles == ["x" * MAX_LLM_CHARS] * MAX_LLM_ITEMS
    assert prefs.wishes == ["a quiet film"]
    assert prefs.about_title == "y" * MAX_LLM_CHARS


def test_bounds_reach_the_grammar_but_not_the_prompt():
    schema = LLMPreferences.model_json_schema()
    for name in LIST_FIELDS:
        assert schema["properties"][name]["maxItems"] == MAX_LLM_ITEMS
        assert schema["properties"][name]["items"]["maxLength"] == MAX_LLM_CHARS
    prompted = llm_json_schema()
    assert "maxItems" not in prompted and "maxLength" not in prompted and '"liked_titles"' in prompted


@pytest.mark.slow
def test_tiny_model_answer_to_small_talk_is_complete_json():
    from bot.llm.factory import create_llm

    llm = create_llm("llamacpp", "smollm2-135m")
    tpl = PromptLibrary().get("understand")
    messages = [ChatMessage(**m) for m in tpl.render(
        user_message="hello! how are you today?", json_schema=llm_json_schema(),
        genres=["Comedy", "Drama", "Horror"], last_recommendations=[], domain="movies")]
    raw = llm.complete(messages, GenerationConfig(max_tokens=200, temperature=0.0,
                                                  json_schema=LLMPreferences.model_json_schema()))
    data = parse_llm_json(raw)  # raised "unbalanced JSON" when the answer ran into the cap
    for name in LIST_FIELDS:
        assert len(data.get(name) or []) <= MAX_LLM_ITEMS


# ------------------------------------------------------------------ what a greeting must not become
@pytest.mark.parametrize("text, expected", [
    ("hello! how are you today?", True),
    ("hey there, how are you doing?", True),
    ("¡Hola! ¿Qué tal?", True),
    ("谢谢", True),
    ("hello, I want a scary film", False),
    ("hi, something like Heat", False),
    ("你好，推荐几部科幻片", False),
])
def test_small_talk(text: str, expected: bool):
    assert is_small_talk(text) is expected


def test_llm_years_need_a_time_in_the_message():
    vocab = Vocabulary.from_items(small_catalogue())
    # what smollm2-135m answered to a greeting: the prompt example's years, copied
    copied = {"intent": "recommend", "year_min": 1990, "year_max": 1999}
    assert merge_llm_output(Understanding(text="my dad liked war stuff"), copied, vocab).year is None
    said = merge_llm_output(Understanding(text="war stuff from the nineties"), copied, vocab)
    assert said.year == Range(1990, 1999)


@pytest.mark.slow
def test_a_greeting_is_answered_without_reading_preferences(retriever):
    from bot.engine import ConversationEngine, EngineConfig
    from bot.llm.factory import create_llm
    from bot.state import SessionState

    engine = ConversationEngine(retriever, create_llm("llamacpp", "smollm2-135m"), PromptLibrary(),
                                EngineConfig(k=3, llm_understanding="auto", max_tokens=40, temperature=0.0, seed=1))
    state = SessionState()
    result = engine.run_turn(state, "hello! how are you today?")
    assert result.recommendations == []
    assert state.genres == [] and state.year is None
