"""The LLM's JSON reading of a message is bounded by its schema, so a small model cannot loop until the
token cap and lose the whole answer (SmolLM2 repeated "How are you today?" as a liked title 20 times)."""

from __future__ import annotations

import pytest

from bot.llm.base import ChatMessage, GenerationConfig
from bot.understanding.llm_merge import MAX_LLM_CHARS, MAX_LLM_ITEMS, LLMPreferences, llm_json_schema, parse_llm_json
from prompts.loader import PromptLibrary

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
