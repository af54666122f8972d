"""The names ``bot.understand`` always offered, now in the :mod:`bot.understanding` package."""

from bot.understanding import (
    GENRE_COMBOS,
    GENRE_SYNONYMS,
    MOODS,
    Feedback,
    FeedbackKind,
    Intent,
    LLMPreferences,
    Understander,
    Understanding,
    Vocabulary,
    llm_json_schema,
    merge_llm_output,
    parse_llm_json,
)

__all__ = [
    "GENRE_COMBOS", "GENRE_SYNONYMS", "MOODS", "Feedback", "FeedbackKind", "Intent", "LLMPreferences",
    "Understander", "Understanding", "Vocabulary", "llm_json_schema", "merge_llm_output", "parse_llm_json",
]
