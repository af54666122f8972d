"""The LLM's part of understanding a message, used by the turn engine after the rules.

Two calls, each only when the rules leave something to find (the 0.5B model costs seconds on 2 cores):

- ``translate_titles``: a message in another language that names something the rules did not resolve
  ("我喜欢肖申克", "me encantó El club de la lucha") -> original titles, checked by
  :func:`~bot.understanding.llm_merge.resolve_foreign_titles`;
- ``understand``: a message where the rules found nothing to hold on to -> :class:`LLMPreferences`,
  checked by :func:`~bot.understanding.llm_merge.merge_llm_output`.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING, Literal

from bot.llm.base import LLM, ChatMessage, GenerationConfig, LLMError
from bot.understanding.llm_merge import (
    ForeignTitles,
    LLMPreferences,
    llm_json_schema,
    merge_llm_output,
    resolve_foreign_titles,
)
from bot.understanding.patterns import POSITIVE, SIMILAR
from bot.understanding.preferences import Understanding
from bot.understanding.topics import is_small_talk
from bot.understanding.vocabulary import Vocabulary
from prompts.loader import PromptLibrary

if TYPE_CHECKING:
    from bot.state import SessionState

log = logging.getLogger(__name__)
_TITLE_CUE = re.compile(r"《|「|“|\"|看过|叫")


class LLMReader:
    """Asks the LLM what the rules missed, and keeps only what resolves to the catalogue."""

    def __init__(self, llm: LLM, prompts: PromptLibrary, vocab: Vocabulary, *, prompt_set: str = "default",
                 domain: str = "movies") -> None:
        self.llm, self.prompts, self.vocab = llm, prompts, vocab
        self.prompt_set, self.domain = prompt_set, domain

    @staticmethod
    def names_unknown_title(u: Understanding) -> bool:
        """A message in another language that seems to name a title the rules did not resolve."""
        if u.language == "en" or u.intent in ("off_topic", "prompt_leak", "ask_about"):
            return False
        if u.liked_ids or u.disliked_ids or u.about_id or u.genres or u.people or u.modifiers:
            return False
        return bool(_TITLE_CUE.search(u.text) or POSITIVE.search(u.text) or SIMILAR.search(u.text))

    def read(self, u: Understanding, state: SessionState, mode: Literal["auto", "always", "never"],
             cancel: threading.Event | None = None) -> Understanding:
        if mode == "never":
            return u
        if self.names_unknown_title(u):
            u = self.foreign_titles(u, cancel)  # "我喜欢肖申克": the original title, then the catalogue
        # the LLM is consulted when rules found nothing to hold on to (or always, if configured)
        found = u.has_preferences() or u.feedback or u.about_id or u.asks_for_recommendation
        if u.intent in ("off_topic", "prompt_leak") or (
                mode == "auto" and (found or len(u.text.split()) < 4 or is_small_talk(u.text))):
            return u
        tpl = self.prompts.get("understand", set=self.prompt_set)
        titles = self.vocab.titles
        messages = [ChatMessage(**m) for m in tpl.render(
            user_message=u.text, json_schema=llm_json_schema(), genres=sorted(self.vocab.genre_names),
            last_recommendations=[titles.label(i) for i in state.last_recommendations if i in titles],
            domain=self.domain)]
        try:
            raw = self.llm.complete(messages, GenerationConfig(
                max_tokens=200, temperature=0.0, json_schema=LLMPreferences.model_json_schema()), cancel)
            return merge_llm_output(u, raw, self.vocab, state)
        except (LLMError, ValueError) as exc:
            log.info("LLM understanding skipped (%s)", type(exc).__name__)
            log.debug("LLM understanding skipped: %s", exc)  # may quote the user's words
            u.llm_error = str(exc)
            return u

    def foreign_titles(self, u: Understanding, cancel: threading.Event | None = None) -> Understanding:
        """Titles written in another language, via the LLM's original title (JSON), kept only when the
        original resolves to the catalogue and the title as written is in the message."""
        try:
            tpl = self.prompts.get("translate_titles", set=self.prompt_set)
            messages = [ChatMessage(**m) for m in tpl.render(user_message=u.text, domain=self.domain)]
            raw = self.llm.complete(messages, GenerationConfig(
                max_tokens=80, temperature=0.0, json_schema=ForeignTitles.model_json_schema()), cancel)
        except (LLMError, ValueError) as exc:
            log.info("title translation skipped (%s)", type(exc).__name__)
            return u
        return resolve_foreign_titles(u, raw, self.vocab)
