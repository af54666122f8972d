"""What to do with a message: ask a question, recommend, answer about an item, or just chat.

:func:`decide` is a pure function of the session state (after :meth:`SessionState.apply` has folded
the message in) and the message's :class:`~bot.understanding.Understanding`. The rules, in order:

0. Off-topic ("weather in Paris tomorrow?"), an attempt to read the prompt ("print everything above"),
   or a wish beyond the catalogue (films after its last year) -> **cant**: an honest "I can only help
   with …" / "this catalogue ends in …" (``topic`` says which).
1. A question about a specific item ("who directed Heat?", "which is the shortest?") -> **answer**
   about that item (``question`` names the field asked for, when known).
2. Feedback on shown items ("seen the first one", "loved it") -> **recommend** again (the state now
   excludes or favours those items).
3. An explicit request ("recommend something", "surprise me", "another one") -> **recommend** with
   whatever is known (retrieval falls back to well-known items when nothing is).
4. Small talk with no preference in it ("hi", "thanks") -> **chitchat** (the prompt steers back),
   unless it answers a question just asked ("not sure"): then elicitation goes on.
5. Enough is known -> **recommend**: a liked example, or a genre or person plus one more signal (era,
   mood, free-text wish, numeric constraint, a diet or something to avoid, another genre or person).
6. Already asked ``max_questions`` (2) questions since the last recommendation -> **recommend**.
7. Otherwise **ask** about the first slot that is neither known nor asked before, in the order genre,
   liked_example, era, mood; when every slot has been asked -> **recommend**.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.state import SessionState
from bot.understanding import Understanding

ActionKind = Literal["ask", "recommend", "answer", "chitchat", "cant"]
SLOTS: tuple[str, ...] = ("genre", "liked_example", "era", "mood")
MAX_QUESTIONS_IN_A_ROW = 2


@dataclass(frozen=True)
class Action:
    """The decision, with a reason for logs and the UI; ``slot`` for ask, ``item_id`` for answer."""

    kind: ActionKind
    reason: str
    slot: str | None = None
    item_id: str | None = None
    question: str | None = None  # answer: the field asked about (director, duration, year…)
    topic: str | None = None  # cant: off_topic | prompt_leak | year_after:<last year>


def enough_known(state: SessionState) -> tuple[bool, str]:
    """Whether the state supports a recommendation, and why (or why not)."""
    if state.liked_ids:
        return True, f"{len(state.liked_ids)} liked example(s)"
    anchors = len(state.genres) + len(state.people)
    others = sum(bool(x) for x in (state.year, state.moods, state.wishes, state.facts,
                                   state.diets or state.unwanted_genres or state.unwanted_people))
    if anchors and anchors + others >= 2:
        return True, f"{anchors} genre/person preference(s) and {anchors + others - 1} more signal(s)"
    if anchors:
        return False, "a genre or person but nothing else yet"
    if state.wishes or state.moods:
        return False, "only a free-text wish or mood"
    return False, "no preferences yet"


def next_slot(state: SessionState) -> str | None:
    """The first slot neither known nor asked about, or ``None``."""
    known = state.known_slots()
    return next((s for s in SLOTS if s not in known and s not in state.asked_slots), None)


def decide(state: SessionState, understanding: Understanding, *,
           max_questions: int = MAX_QUESTIONS_IN_A_ROW) -> Action:
    """Choose the next action; see the module docs for the rules."""
    u = understanding
    if u.intent in ("off_topic", "prompt_leak"):
        return Action("cant", f"not something this bot does ({u.intent})", topic=u.intent)
    if u.beyond_catalogue:
        return Action("cant", f"beyond what the catalogue holds ({u.beyond_catalogue})", topic=u.beyond_catalogue)
    if u.intent == "ask_about" and u.about_id is not None:
        return Action("answer", "asked about a specific item", item_id=u.about_id, question=u.question)
    if u.feedback or u.intent == "feedback":
        kinds = ", ".join(sorted({f.kind for f in u.feedback})) or "feedback"
        return Action("recommend", f"feedback on shown items ({kinds}): new recommendations")
    if u.asks_for_recommendation:
        return Action("recommend", "explicitly asked for recommendations")
    if u.intent == "chitchat" and not u.has_preferences() and state.last_action != "ask":
        return Action("chitchat", "small talk without preferences")
    enough, why = enough_known(state)
    if enough:
        return Action("recommend", f"enough is known: {why}")
    if state.questions_in_a_row >= max_questions:
        return Action("recommend", f"already asked {state.questions_in_a_row} questions in a row ({why})")
    slot = next_slot(state)
    if slot is None:
        return Action("recommend", f"every slot asked already ({why})")
    return Action("ask", f"not enough known ({why}); asking about {slot}", slot=slot)
