"""What the bot knows about one conversation, and how that becomes a retrieval :class:`Query`.

A :class:`SessionState` is a pydantic model, so it round-trips through JSON
(``SessionState.model_validate_json(state.model_dump_json())``) for whatever session store holds it.

The turn engine drives it like this::

    u = understander.parse(text, state)      # bot.understanding
    state.apply(u)                           # fold the message in (counts the turn)
    action = decide(state, u)                # bot.policy
    ...                                      # then, depending on what was done:
    state.record_question(action.slot, question_text)
    state.record_recommendations([c.item.id for c in candidates])
    state.record_answer() / state.record_chitchat()

Later statements win: saying "no horror" after "horror is fine" moves horror from wanted to unwanted,
and liking an item that was disliked moves it back. Relative requests shift rather than add: "something
funnier" after horror replaces the wanted genres with comedy (horror is relaxed, not excluded), "older"
replaces the year range. The state is a :class:`~bot.understanding.preferences.Preferences` (the one
preference type), plus the history of the conversation and its language. Dislikes never become query text: they are hard
filters (unwanted genres and people), exclusions (disliked ids) and penalties (``disliked_ids``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic import Field

from bot.understanding.preferences import MAX_LIKED_IN_QUERY, FeedbackKind, Preferences, Understanding
from retrieval.schema import Query

__all__ = ["MAX_ASKED", "MAX_LIKED_IN_QUERY", "MAX_WISHES", "FeedbackKind", "SessionState"]
MAX_WISHES = 5  # free-text wishes kept, most recent last
MAX_ASKED = 20  # questions remembered (to avoid repeating them)


def _push(target: list[str], values: Iterable[str]) -> None:
    for v in values:
        if v not in target:
            target.append(v)


def _drop(target: list[str], values: Iterable[str]) -> None:
    gone = set(values)
    target[:] = [v for v in target if v not in gone]


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


class SessionState(Preferences):
    """Preferences, constraints and history of one conversation. All ids are catalogue item ids.
    ``wishes`` keeps the MAX_WISHES most recent free-text wishes."""

    shown_ids: list[str] = Field(default_factory=list)  # every item recommended so far, in order
    language: str | None = None  # of the person's messages (en, es, zh…), once known
    turn: int = 0  # user messages applied
    last_recommendations: list[str] = Field(default_factory=list)
    asked_slots: list[str] = Field(default_factory=list)
    asked_questions: list[str] = Field(default_factory=list)
    questions_in_a_row: int = 0  # questions asked since the last recommendation
    last_action: str | None = None
    last_question: str | None = None  # the field the last answer was about (director, duration…)
    last_about: str | None = None  # the item the last answer was about

    # ------------------------------------------------------------------------------ feedback
    def like(self, item_id: str) -> None:
        _drop(self.disliked_ids, [item_id])
        _push(self.liked_ids, [item_id])

    def dislike(self, item_id: str) -> None:
        _drop(self.liked_ids, [item_id])
        _push(self.disliked_ids, [item_id])

    def mark_seen(self, item_id: str) -> None:
        _push(self.seen_ids, [item_id])

    def apply_feedback(self, kind: FeedbackKind, item_id: str) -> None:
        """``like`` / ``dislike`` / ``seen`` for one item (from a button or a parsed message)."""
        if kind == "like":
            self.like(item_id)
        elif kind == "dislike":
            self.dislike(item_id)
        elif kind == "seen":
            self.mark_seen(item_id)
        else:
            raise ValueError(f"unknown feedback kind {kind!r}; expected like, dislike or seen")

    # --------------------------------------------------------------------------- attributes
    def want_genres(self, genres: Iterable[str]) -> None:
        genres = list(genres)
        self.unwanted_genres[:] = [g for g in self.unwanted_genres if not any(_same(g, x) for x in genres)]
        _push(self.genres, [g for g in genres if not any(_same(g, x) for x in self.genres)])

    def avoid_genres(self, genres: Iterable[str]) -> None:
        genres = list(genres)
        self.genres[:] = [g for g in self.genres if not any(_same(g, x) for x in genres)]
        _push(self.unwanted_genres, [g for g in genres if not any(_same(g, x) for x in self.unwanted_genres)])

    def want_people(self, people: Iterable[str]) -> None:
        people = list(people)
        _drop(self.unwanted_people, people)
        _drop(self.said_unwanted, people)
        _push(self.people, people)

    def avoid_people(self, people: Iterable[str]) -> None:
        people = list(people)
        _drop(self.people, people)
        _push(self.unwanted_people, people)

    def add_wish(self, wish: str) -> None:
        wish = " ".join(wish.split())
        if not wish:
            return
        _drop(self.wishes, [wish])
        self.wishes.append(wish)
        del self.wishes[:-MAX_WISHES]

    def drop_topic(self) -> None:
        """Forget the wanted genres and years (a liked film has started a new topic)."""
        self.genres[:] = []
        self.year = None

    def apply(self, u: Understanding) -> None:
        """Fold one understood message into the state and count the turn."""
        self.turn += 1
        if u.language and u.text.strip():
            self.language = u.language
        if u.new_topic:  # "I like Interstellar, anything similar?" after 90s comedies
            self.drop_topic()
        if u.replace_genres:  # "something funnier": the new genres replace the wanted ones
            self.genres[:] = []
        _drop(self.genres, u.drop_genres)
        for fb in u.feedback:
            self.apply_feedback(fb.kind, fb.item_id)
        for item_id in u.liked_ids:
            self.like(item_id)
        for item_id in u.disliked_ids:
            self.dislike(item_id)
        for item_id in u.seen_ids:
            self.mark_seen(item_id)
        known = set(self.exclude_ids)
        _push(self.mentioned_ids, [i for i in u.mentioned_ids if i not in known])
        self.want_genres(u.genres)
        self.avoid_genres(u.unwanted_genres)
        self.want_people(u.people)
        self.avoid_people(u.unwanted_people)
        _drop(self.said_unwanted, u.said_unwanted)
        _push(self.said_unwanted, [p for p in u.said_unwanted if p in self.unwanted_people])
        _drop(self.unwanted_moods, u.moods)
        _push(self.moods, u.moods)
        _drop(self.moods, u.unwanted_moods)
        _push(self.unwanted_moods, u.unwanted_moods)
        if u.year is not None:
            self.year = u.year
        self.facts.update(u.facts)
        _push(self.no_series, u.no_series)
        _push(self.diets, u.diets)
        for wish in u.wishes:
            self.add_wish(wish)

    # ------------------------------------------------------------------------------ history
    def record_question(self, slot: str | None, text: str = "") -> None:
        if slot:
            _push(self.asked_slots, [slot])
        if text.strip():
            self.asked_questions.append(" ".join(text.split()))
            del self.asked_questions[:-MAX_ASKED]
        self.questions_in_a_row += 1
        self.last_action = "ask"

    def record_follow_up(self, text: str) -> None:
        """A question asked after recommending: remembered (never asked twice), not counted as elicitation."""
        if text.strip():
            self.asked_questions.append(" ".join(text.split()))
            del self.asked_questions[:-MAX_ASKED]

    def record_recommendations(self, item_ids: Iterable[str]) -> None:
        ids = list(dict.fromkeys(item_ids))
        self.last_recommendations = ids
        _push(self.shown_ids, ids)
        self.questions_in_a_row = 0
        self.last_action = "recommend"

    def record_answer(self, question: str | None = None, item_id: str | None = None) -> None:
        """An answer about an item; ``question`` (the field asked) lets "and the second one?" reuse it,
        ``item_id`` lets "how long is it?" point at the item just discussed."""
        self.last_action = "answer"
        self.last_question = question
        self.last_about = item_id

    def record_chitchat(self) -> None:
        self.last_action = "chitchat"

    # ------------------------------------------------------------------------------- queries
    @property
    def exclude_ids(self) -> list[str]:
        """Items never to recommend again: shown, disliked, seen, named, and the liked ones (already known)."""
        return list(dict.fromkeys([*self.shown_ids, *self.disliked_ids, *self.seen_ids, *self.mentioned_ids,
                                   *self.liked_ids]))

    def to_query(self, k: int = 10, also_exclude: Iterable[str] = ()) -> Query:
        """The retrieval request for the next recommendations (``also_exclude``: e.g. sequels)."""
        return super().to_query(k, exclude_ids=list(dict.fromkeys([*self.exclude_ids, *also_exclude])))

    # ------------------------------------------------------------------------------ summary
    def known_slots(self) -> set[str]:
        """Which elicitation slots are already filled: genre, liked_example, era, mood."""
        slots = set()
        if self.genres or self.people:
            slots.add("genre")
        if self.liked_ids:
            slots.add("liked_example")
        if self.year is not None:
            slots.add("era")
        if self.moods or self.wishes:
            slots.add("mood")
        return slots

    def known_lines(self, label: Callable[[str], str] | None = None) -> list[str]:
        """Short lines for the prompts' ``known`` variable. ``label`` turns an id into "Title (Year)"."""
        name = label or (lambda i: i)
        lines = []
        if self.liked_ids:
            lines.append("liked: " + ", ".join(name(i) for i in self.liked_ids[-5:]))
        if self.disliked_ids:
            lines.append("disliked: " + ", ".join(name(i) for i in self.disliked_ids[-5:]))
        if self.genres:
            lines.append("wants genres: " + ", ".join(self.genres))
        if self.unwanted_genres:
            lines.append("avoids genres: " + ", ".join(self.unwanted_genres))
        if self.people:
            lines.append("wants people: " + ", ".join(self.people))
        if self.diets:
            lines.append("diet: " + ", ".join(self.diets))
        if self.unwanted_people:
            more = len(self.unwanted_people) - 8
            lines.append("avoids people: " + ", ".join(self.unwanted_people[:8]) + (f" and {more} more" if more > 0 else ""))
        if self.year is not None:
            lo, hi = self.year.min, self.year.max
            if lo is not None and hi is not None:
                lines.append(f"years: {lo:.0f}-{hi:.0f}" if lo != hi else f"year: {lo:.0f}")
            elif lo is not None:
                lines.append(f"years: {lo:.0f} or later")
            elif hi is not None:
                lines.append(f"years: {hi:.0f} or earlier")
        for fact, rng in self.facts.items():
            bounds = [f">= {rng.min:g}" if rng.min is not None else "",
                      f"<= {rng.max:g}" if rng.max is not None else ""]
            lines.append(f"{fact}: " + " and ".join(b for b in bounds if b))
        if self.moods:
            lines.append("mood: " + ", ".join(self.moods))
        if self.unwanted_moods:
            lines.append("not in the mood for: " + ", ".join(self.unwanted_moods))
        if self.wishes:
            lines.append("wishes: " + "; ".join(self.wishes[-3:]))
        return lines
