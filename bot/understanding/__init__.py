"""Understanding messages: lexicon data files -> vocabulary of a catalogue -> parser -> checked LLM merge.

- :mod:`~bot.understanding.lexicon` reads the word lists (``lexicon/<language>.yaml``);
- :mod:`~bot.understanding.vocabulary` derives what a catalogue lets people talk about;
- :mod:`~bot.understanding.parser` (with ``spans``, ``references``, ``modifiers``, ``topics``,
  ``language``) understands one message deterministically;
- :mod:`~bot.understanding.llm_merge` merges an LLM's JSON reading, keeping what resolves;
- :mod:`~bot.understanding.preferences` holds the one preference type shared with the session state.
"""

from bot.understanding.language import detect_language
from bot.understanding.llm_merge import (
    ForeignTitles,
    LLMPreferences,
    llm_json_schema,
    merge_llm_output,
    parse_llm_json,
    resolve_foreign_titles,
)
from bot.understanding.parser import Understander
from bot.understanding.preferences import Feedback, FeedbackKind, Intent, Preferences, Understanding
from bot.understanding.series import related_ids, series_key
from bot.understanding.vocabulary import GENRE_COMBOS, GENRE_SYNONYMS, MOODS, Vocabulary

__all__ = [
    "GENRE_COMBOS", "GENRE_SYNONYMS", "MOODS", "Feedback", "FeedbackKind", "ForeignTitles", "Intent",
    "LLMPreferences", "Preferences", "Understander", "Understanding", "Vocabulary", "detect_language",
    "llm_json_schema", "merge_llm_output", "parse_llm_json", "related_ids", "resolve_foreign_titles",
    "series_key",
]
