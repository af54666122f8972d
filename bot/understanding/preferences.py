"""The one preference type, and what one message says.

:class:`Preferences` is what a person wants and does not want, in catalogue terms (item ids, the
catalogue's genre names, people as the catalogue writes them, year and fact ranges, moods and free-text
wishes). :class:`Understanding` (one message) and :class:`bot.state.SessionState` (the conversation)
both *are* preferences, so the two never drift apart. The wanted and unwanted things a retrieval
:class:`~retrieval.schema.Query` also takes are declared once, in :class:`~retrieval.schema.Taste`, so
:meth:`Preferences.to_query` copies them by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ConfigDict, Field

from retrieval.schema import Query, Taste

Intent = Literal["recommend", "ask_about", "feedback", "chitchat", "off_topic", "prompt_leak"]
FeedbackKind = Literal["like", "dislike", "seen"]
SeriesExclusion = Literal["sequels", "remakes"]
MAX_LIKED_IN_QUERY = 5  # most recent liked items used as neighbours


@dataclass(frozen=True)
class Feedback:
    """A reaction to an item: like, dislike or seen."""

    kind: FeedbackKind
    item_id: str


class Preferences(Taste):
    """Wanted and unwanted things. All ids are catalogue item ids; genres and people are catalogue names.

    Beyond the :class:`~retrieval.schema.Taste` a query takes: items seen, moods, free-text wishes,
    series to leave out, diets, and the unwanted things as the person named them.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    seen_ids: list[str] = Field(default_factory=list)
    # titles named without a verdict ("Have you seen Alien?"): known to the person, so never recommended,
    # and context for the ranker
    mentioned_ids: list[str] = Field(default_factory=list)
    moods: list[str] = Field(default_factory=list)
    unwanted_moods: list[str] = Field(default_factory=list)
    wishes: list[str] = Field(default_factory=list)
    no_series: list[SeriesExclusion] = Field(default_factory=list)  # "no sequels", "no remakes"
    diets: list[str] = Field(default_factory=list)  # "vegetarian": its exclusions are in unwanted_people
    # the unwanted people/ingredients as the person named them ("Mushrooms"), without the variants and diet
    # exclusions added for them: what explanations cite
    said_unwanted: list[str] = Field(default_factory=list)

    def has_preferences(self) -> bool:
        """Whether anything about taste is known (seen items and moods to avoid alone do not count)."""
        return bool(self.liked_ids or self.disliked_ids or self.genres or self.unwanted_genres or self.people
                    or self.unwanted_people or self.year or self.facts or self.moods or self.wishes or self.diets)

    def query_text(self) -> str:
        """Free text for retrieval: recent wishes and moods. Never anything disliked."""
        parts = list(self.wishes[-3:])
        joined = " ".join(parts).casefold()
        parts += [m for m in self.moods if m.casefold() not in joined]
        return "; ".join(parts)

    def to_query(self, k: int = 10, exclude_ids: list[str] | None = None) -> Query:
        """The retrieval request these preferences make: the taste, the most recent liked items, the text."""
        taste = self.taste() | {"liked_ids": list(self.liked_ids[-MAX_LIKED_IN_QUERY:])}
        excluded = (exclude_ids if exclude_ids is not None
                    else [*self.disliked_ids, *self.seen_ids, *self.mentioned_ids, *self.liked_ids])
        return Query(**taste, text=self.query_text(), exclude_ids=list(dict.fromkeys(excluded)), k=k)


class Understanding(Preferences):
    """What one message says. Lists keep catalogue ids / names; nothing here is free invention.

    Beyond the preferences: the ``intent``; ``about_id`` and ``question`` (the field asked about, e.g.
    ``director``, ``duration``) for questions about an item; relative requests (``replace_genres``:
    the new genres replace the wanted ones, ``drop_genres``: wanted genres to relax); ``another`` ("one
    more"); the detected ``language``; ``beyond_catalogue`` when the wish is outside what the catalogue
    holds (e.g. years after its last one).
    """

    text: str
    intent: Intent = "chitchat"
    language: str = "en"
    asks_for_recommendation: bool = False
    is_question: bool = False
    about_id: str | None = None
    question: str | None = None
    ambiguous: dict[str, list[str]] = Field(default_factory=dict)  # item chosen -> other same-title items
    feedback: list[Feedback] = Field(default_factory=list)
    replace_genres: bool = False
    drop_genres: list[str] = Field(default_factory=list)
    another: bool = False
    modifiers: list[str] = Field(default_factory=list)  # names of the relative requests understood
    beyond_catalogue: str | None = None  # e.g. "year_after:2014"
    new_topic: bool = False  # liked films the held genres / years do not fit: those are dropped
    llm_used: bool = False
    llm_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()
