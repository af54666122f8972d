"""How the simulated seeker talks: :class:`SimulatedSeeker` answers each bot turn from its
profile with phrasings from :class:`eval.simulator_phrases.Phrases`. Part of the user simulator
(:mod:`eval.simulator`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from eval.redial_catalogue import RedialCatalogue
from eval.simulator_phrases import Phrases, classify_question
from eval.simulator_profiles import SeekerProfile, TargetGuard

log = logging.getLogger(__name__)

_SLOT_TOPIC = {"genre": "genre", "liked_example": "liked_example", "era": "era", "mood": "mood"}


@dataclass
class SeekerReply:
    """What the seeker does after a bot turn: button feedback (kind, catalogue item id), then a message."""

    text: str
    feedback: list[tuple[str, str]] = field(default_factory=list)
    topic: str | None = None  # for answers: what it took the question to be about
    topic_from: str | None = None  # "text" or "slot"


class SimulatedSeeker:
    """Plays one :class:`SeekerProfile`. Each fact is said at most once; phrasing is seeded."""

    def __init__(
        self,
        profile: SeekerProfile,
        phrases: Phrases,
        catalogue: RedialCatalogue,
        guard: TargetGuard,
        seed: int = 0,
    ) -> None:
        self.profile = profile
        self.phrases = phrases
        self.catalogue = catalogue
        self.guard = guard
        self.films = guard.films
        self.rng = random.Random(f"{seed}:{profile.dialog_id}")
        self._left: dict[str, list[str]] = {
            "title": [catalogue.movies[i].name for i in profile.likes],
            "genre": list(profile.genres),
            "person": list(profile.people),
            "era": [profile.era] if profile.era else [],
            "mood": [profile.mood] if profile.mood else [],
        }
        self.found: set[str] = set()  # targets already liked
        self.blocked = 0  # messages replaced because they named a target (should stay 0)

    # -- phrasing
    def _say(self, key: str, **values: str) -> str:
        return self.rng.choice(self.phrases.options(key)).format(**values)

    def _take(self, kind: str) -> str | None:
        left = self._left[kind]
        return left.pop(0) if left else None

    def _checked(self, text: str) -> str:
        if self.guard.names_target(text):
            self.blocked += 1
            log.warning("dialogue %s: a simulated message named a target; replaced", self.profile.dialog_id)
            return self.phrases.feedback["other"][0]
        return text

    def _more(self) -> str | None:
        """One unused fact as a sentence (liked titles first, then people, genres, era, mood)."""
        for kind in ("title", "person", "genre", "era", "mood"):
            value = self._take(kind)
            if value is not None:
                return self._say(f"more.{kind}", **{kind: value})
        return None

    # -- the three moves
    def opening(self) -> str:
        title, genre = self._take("title"), self._take("genre")
        if title and genre:
            text = self._say("opening.genre_and_title", title=title, genre=genre)
        elif title:
            text = self._say("opening.title", title=title)
        elif genre:
            text = self._say("opening.genre", genre=genre)
        elif person := self._take("person"):
            text = self._say("opening.person", person=person)
        else:
            text = self._say("opening.nothing")
        return self._checked(text)

    def answer(self, question: str, slot: str | None) -> SeekerReply:
        """Answer a question of the bot from the facts of its topic."""
        topic, source = classify_question(question, self.phrases), "text"
        if topic is None:
            topic, source = _SLOT_TOPIC.get(slot or "", "genre"), "slot"
        kind = {"genre": "genre", "liked_example": "title", "people": "person", "era": "era", "mood": "mood"}[
            topic
        ]
        value = self._take(kind)
        if value is None:
            text = self._say(f"answer.{topic}_unknown")
        else:
            text = self._say(f"answer.{topic}", **{kind: value})
        return SeekerReply(self._checked(text), topic=topic, topic_from=source)

    def react(self, cards: Sequence[tuple[str, str]]) -> SeekerReply:
        """React to recommendation cards, given as (catalogue item id, film id) in card order."""
        hits = [(item_id, c) for item_id, c in cards if c in self.profile.targets and c not in self.found]
        if hits:
            self.found.update(c for _, c in hits)
            return SeekerReply(
                self._checked(self._say("feedback.success")),
                feedback=[("like", item_id) for item_id, _ in hits],
            )
        feedback: list[tuple[str, str]] = []
        sentences: list[str] = []
        for pos, (item_id, c) in enumerate(cards):
            kind = "dislike" if c in self.profile.disliked else "seen" if c in self.profile.seen else None
            if kind is None or pos >= len(self.phrases.ordinals):
                continue
            feedback.append((kind, item_id))
            if not sentences:  # one sentence is enough; the buttons carry the rest
                key = "feedback.disliked" if kind == "dislike" else "feedback.seen"
                sentences.append(self._say(key, ordinal=self.phrases.ordinals[pos]))
        if not sentences:
            sentences.append(self._say("feedback.other"))
        more = self._more()
        if more:
            sentences.append(more)
        return SeekerReply(self._checked(" ".join(sentences)), feedback=feedback)

    def follow_up(self) -> SeekerReply:
        """After small talk or an answer about an item: one more fact, or ask for something else."""
        return SeekerReply(self._checked(self._more() or self._say("feedback.other")))
