"""What the simulated seeker says and how it reads the bot: the phrasings of
``simulator_phrases.yaml`` (:class:`Phrases`, validated on load) and :func:`classify_question`, which finds
the topic of a bot question. Part of the user simulator (:mod:`eval.simulator`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

PHRASES_PATH = Path(__file__).resolve().parent / "simulator_phrases.yaml"


Topic = Literal["genre", "liked_example", "people", "era", "mood"]


TOPICS: tuple[str, ...] = ("genre", "liked_example", "people", "era", "mood")


class SimulatorError(ValueError):
    """The phrases file or the simulator's input is unusable; the message names the file and field."""


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


# the placeholder an answer on each topic fills
_TOPIC_SLOT: dict[str, str] = {
    "genre": "genre",
    "liked_example": "title",
    "people": "person",
    "era": "era",
    "mood": "mood",
}


# key -> the placeholders each phrasing under it must use (all of them, and no others)
_REQUIRED_SLOTS: dict[str, frozenset[str]] = {
    "opening.genre_and_title": frozenset({"genre", "title"}),
    "opening.title": frozenset({"title"}),
    "opening.genre": frozenset({"genre"}),
    "opening.person": frozenset({"person"}),
    "opening.nothing": frozenset(),
    **{f"answer.{t}": frozenset({_TOPIC_SLOT[t]}) for t in TOPICS},
    **{f"answer.{t}_unknown": frozenset() for t in TOPICS},
    "feedback.success": frozenset(),
    "feedback.seen": frozenset({"ordinal"}),
    "feedback.disliked": frozenset({"ordinal"}),
    "feedback.other": frozenset(),
    **{f"more.{slot}": frozenset({slot}) for slot in ("title", "person", "genre", "era", "mood")},
}


class Phrases(BaseModel):
    """The contents of ``simulator_phrases.yaml`` (see the comments in that file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int | str
    opening: dict[str, list[str]]
    answer: dict[str, list[str]]
    feedback: dict[str, list[str]]
    more: dict[str, list[str]]
    question_topics: dict[str, list[str]]
    ordinals: list[str]
    eras: dict[str, str]
    moods: dict[str, str]

    @field_validator("question_topics")
    @classmethod
    def _known_topics(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(v) - set(TOPICS))
        if unknown:
            raise ValueError(f"unknown topic(s) {unknown}; topics are {list(TOPICS)}")
        return v

    def options(self, key: str) -> list[str]:
        section, name = key.split(".", 1)
        return getattr(self, section)[name]

    @classmethod
    def load(cls, path: str | Path = PHRASES_PATH) -> Phrases:
        """Read and check a phrases file; every problem names the file and the key."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise SimulatorError(f"{path}: cannot read the simulator phrases ({exc})") from exc
        try:
            phrases = cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise SimulatorError(f"{path}: field {where!r}: {first['msg']}") from exc
        for key, wanted in _REQUIRED_SLOTS.items():
            section, name = key.split(".", 1)
            options = getattr(phrases, section).get(name)
            if not options:
                raise SimulatorError(f"{path}: key {key!r} needs at least one phrasing")
            for i, text in enumerate(options):
                used = set(_PLACEHOLDER.findall(text))
                if used != wanted:
                    raise SimulatorError(
                        f"{path}: {key}[{i}] {text!r} must use exactly the placeholders "
                        f"{sorted(wanted) or 'none'}, it uses {sorted(used) or 'none'}"
                    )
        for name in ("recent", "decade"):
            if name not in phrases.eras:
                raise SimulatorError(f"{path}: key 'eras.{name}' is missing")
        if "{decade}" not in phrases.eras["decade"]:
            raise SimulatorError(f"{path}: 'eras.decade' must use the placeholder {{decade}}")
        if len(phrases.ordinals) < 3:
            raise SimulatorError(f"{path}: 'ordinals' needs at least first, second, third")
        return phrases


def _norm(text: str) -> str:
    from bot.titles import normalize

    return normalize(text)


def classify_question(text: str, phrases: Phrases) -> str | None:
    """The topic a bot question is about, by keyword hits (ties: the earlier topic), or ``None``."""
    padded = f" {_norm(text)} "
    best, best_hits = None, 0
    for topic, words in phrases.question_topics.items():
        hits = sum(padded.count(f" {_norm(w)} ") for w in words if _norm(w))
        if hits > best_hits:
            best, best_hits = topic, hits
    return best
