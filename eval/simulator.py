"""A user simulator that plays the ReDial seeker, so whole conversations with the bot can be scored.

    recbot eval simulate --dialogues 30 --max-turns 5

Who the simulated seeker is (:func:`build_profile`, from one raw ReDial dialogue):

- **targets**: the movies the human recommender suggested and the seeker liked (its post-dialogue form
  says ``suggested`` and ``liked``), as film ids (:class:`Films`: one id per film, so that a card for
  "The Exorcist" counts for the target "The Exorcist (1973)"). The seeker never names them.
- **likes**: the movies the seeker brought up itself and liked; **genres** and **people**: the genre
  words and names it used in its own messages (the iEvaLM-CRS ``entity`` field), then the genres and
  first stars of the movies it liked; an **era** from the years of those movies and a **mood** from its
  genres. A fact that would name a target (a liked "Jumanji (2017)" when "Jumanji (1995)" is a target)
  is dropped: :class:`TargetGuard` decides with the catalogue's own title matcher plus plain text checks.
- **seen** / **disliked**: what it had seen or disliked, for its feedback on cards.

How it talks (:class:`SimulatedSeeker`; every phrasing comes from ``simulator_phrases.yaml``, chosen
with a random generator seeded by ``seed`` and the dialogue id, so a run is repeatable):

1. It opens with a liked movie and/or a genre (the most specific opening it has facts for).
2. When the bot asks, it reads the question for its topic (genre, a liked example, people, era,
   mood; keywords in the phrases file, the engine's chosen slot when no keyword matches) and answers
   from its unused facts of that topic, or says it does not know.
3. When the bot recommends: a target among the cards is a **success** (it presses Like on it and asks
   for more); otherwise it presses Seen / Dislike on cards it had seen or disliked and says so, or asks
   for something else, adding one more unused fact.

The bot is the real :class:`bot.engine.ConversationEngine` over the ingested ReDial catalogue.
Every bot turn's cards are recorded; the conversation runs ``max_turns`` bot turns (it does not stop at
the first success, so target recall over the whole conversation means something).

Metrics per dialogue (:func:`conversation_units`): ``success@k`` — a target among the top ``k`` cards of
any bot turn up to ``N``; ``turns to success`` — the first such turn (averaged over successes only);
``target recall@k`` — the share of the dialogue's targets shown in the top ``k`` cards of some turn.
Explanations (the LLM's text under the cards) do not change the cards, so by default they are skipped:
the engine streams the cards before any text, and the turn is closed there.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.redial_catalogue import RedialCatalogue
from eval.simulated_seeker import SeekerReply, SimulatedSeeker
from eval.simulator_phrases import PHRASES_PATH, TOPICS, Phrases, SimulatorError, classify_question
from eval.simulator_profiles import (
    Films,
    SeekerProfile,
    TargetGuard,
    build_profile,
    read_seeker_mentions,
    select_profiles,
)

if TYPE_CHECKING:
    from bot.engine import ConversationEngine, Recommendation, TurnResult
    from bot.state import SessionState
    from bot.titles import TitleIndex


@dataclass
class BotTurn:
    """One bot turn of a simulated conversation."""

    turn: int  # 1-based
    user: str  # the seeker's message this turn answered
    action: str
    text: str  # the bot's reply ("" for recommendations whose explanation was skipped)
    cards: list[str]  # film ids (see Films), card order
    card_labels: list[str]
    hits: list[int]  # 1-based card positions holding a target
    seconds: float
    slot: str | None = None  # for questions: the slot the policy chose
    topic: str | None = None  # how the seeker read the question
    topic_from: str | None = None
    feedback: list[tuple[str, str]] = field(default_factory=list)  # buttons the seeker pressed after it


@dataclass
class Conversation:
    """A whole simulated conversation and its targets."""

    dialog_id: str
    targets: list[str]
    turns: list[BotTurn]
    profile: dict[str, Any]
    blocked_messages: int = 0

    def first_success(self, k: int) -> int | None:
        """The first turn with a target among its top ``k`` cards, or ``None``."""
        return next((t.turn for t in self.turns if any(h <= k for h in t.hits)), None)

    def targets_shown(self, k: int) -> set[str]:
        return {c for t in self.turns for c in t.cards[:k] if c in self.targets}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bot_turn(engine: ConversationEngine, state: SessionState, text: str, *, explanations: bool) -> TurnResult:
    """One engine turn. Without ``explanations``, a recommendation turn stops once its cards are chosen
    (the engine streams them before any text, and has already recorded them in the state)."""
    from bot.engine import TurnResult

    events = engine.stream_turn(state, text)
    result: TurnResult | None = None
    try:
        for event in events:
            if event.kind == "recommendations" and not explanations:
                result = TurnResult(
                    action="recommend",
                    reason="explanation skipped",
                    text="",
                    recommendations=list(event.recommendations),
                )
                break
            if event.kind == "done":
                result = event.result
    finally:
        events.close()
    assert result is not None
    return result


def run_conversation(
    engine: ConversationEngine, seeker: SimulatedSeeker, *, max_turns: int, explanations: bool = False
) -> Conversation:
    """Let ``seeker`` talk with ``engine`` for ``max_turns`` bot turns."""
    from bot.state import SessionState

    state = SessionState()
    message = seeker.opening()
    turns: list[BotTurn] = []
    for n in range(1, max_turns + 1):
        t0 = time.perf_counter()
        result = bot_turn(engine, state, message, explanations=explanations)
        seconds = time.perf_counter() - t0
        recs: list[Recommendation] = list(result.recommendations) if result.action == "recommend" else []
        cards = [(r.id, seeker.films.of(r.id)) for r in recs]
        turn = BotTurn(
            turn=n,
            user=message,
            action=result.action,
            text=result.text,
            cards=[c for _, c in cards],
            card_labels=[r.label for r in recs],
            hits=[pos for pos, (_, c) in enumerate(cards, 1) if c in seeker.profile.targets],
            seconds=round(seconds, 3),
        )
        if result.action == "ask":
            turn.slot = state.asked_slots[-1] if state.asked_slots else None
            reply = seeker.answer(result.text, turn.slot)
            turn.topic, turn.topic_from = reply.topic, reply.topic_from
        elif result.action == "recommend":
            reply = seeker.react(cards)
        else:
            reply = seeker.follow_up()
        turns.append(turn)
        if n == max_turns:
            break
        for kind, item_id in reply.feedback:
            engine.feedback(state, kind, item_id)  # type: ignore[arg-type]
        turn.feedback = list(reply.feedback)
        message = reply.text
    return Conversation(
        dialog_id=seeker.profile.dialog_id,
        targets=list(seeker.profile.targets),
        turns=turns,
        profile=seeker.profile.to_dict(),
        blocked_messages=seeker.blocked,
    )


Unit = tuple[float, float]  # (numerator, denominator) of one dialogue or turn; metric = Σnum / Σden


def metric_names(k: int, max_turns: int) -> list[str]:
    ks = sorted({1, k})
    return (
        [f"success@{x} (≤{max_turns} turns)" for x in ks]
        + [f"turns to success@{k}"]
        + [f"target recall@{x}" for x in ks]
    )


def conversation_units(
    conversations: Sequence[Conversation], k: int, max_turns: int
) -> dict[str, list[Unit]]:
    """Per-dialogue (numerator, denominator) of each simulator metric, dialogues in order.

    ``success@x``: 1/1 when a target was among the top ``x`` cards of a turn ≤ ``max_turns``, else 0/1;
    ``turns to success@k``: first success turn / 1 for successes, 0/0 (left out) otherwise;
    ``target recall@x``: targets shown in the top ``x`` / targets, as a per-dialogue share.
    """
    ks = sorted({1, k})
    units: dict[str, list[Unit]] = {name: [] for name in metric_names(k, max_turns)}
    for conv in conversations:
        within = [t for t in conv.turns if t.turn <= max_turns]
        c = Conversation(conv.dialog_id, conv.targets, within, conv.profile)
        for x in ks:
            units[f"success@{x} (≤{max_turns} turns)"].append((1.0 if c.first_success(x) else 0.0, 1.0))
            share = len(c.targets_shown(x)) / len(c.targets) if c.targets else 0.0
            units[f"target recall@{x}"].append((share, 1.0))
        first = c.first_success(k)
        units[f"turns to success@{k}"].append((float(first), 1.0) if first else (0.0, 0.0))
    return units


def ratio(units: Sequence[Unit]) -> float | None:
    den = sum(d for _, d in units)
    return sum(n for n, _ in units) / den if den else None


@dataclass
class SimulationRun:
    """Conversations of one template version, with timing."""

    conversations: list[Conversation]
    seconds: float
    skipped: dict[str, int] = field(default_factory=dict)

    def units(self, k: int, max_turns: int) -> dict[str, list[Unit]]:
        return conversation_units(self.conversations, k, max_turns)

    def stats(self) -> dict[str, float]:
        turns = [t for c in self.conversations for t in c.turns]
        actions = Counter(t.action for t in turns)
        n = max(len(self.conversations), 1)
        return {
            "dialogues": float(len(self.conversations)),
            "bot turns": float(len(turns)),
            "questions per dialogue": actions["ask"] / n,
            "recommendation turns per dialogue": actions["recommend"] / n,
            "seconds per bot turn": self.seconds / len(turns) if turns else 0.0,
            "questions read from the slot (no keyword)": float(sum(t.topic_from == "slot" for t in turns)),
            "messages replaced (named a target)": float(sum(c.blocked_messages for c in self.conversations)),
        }


def simulate_many(
    engine: ConversationEngine,
    profiles: Sequence[SeekerProfile],
    catalogue: RedialCatalogue,
    phrases: Phrases,
    titles: TitleIndex,
    *,
    max_turns: int,
    seed: int = 0,
    explanations: bool = False,
    progress: bool = True,
    desc: str = "simulator",
) -> SimulationRun:
    """One conversation per profile with ``engine``; a progress bar shows successes so far."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    films = Films(catalogue)
    conversations: list[Conversation] = []
    bar = tqdm(profiles, desc=desc, unit="dialogue", disable=not progress, leave=False)
    for profile in bar:
        seeker = SimulatedSeeker(
            profile, phrases, catalogue, TargetGuard(titles, catalogue, profile.targets, films), seed
        )
        conversations.append(run_conversation(engine, seeker, max_turns=max_turns, explanations=explanations))
        bar.set_postfix(successes=sum(c.first_success(engine.config.k) is not None for c in conversations))
    return SimulationRun(conversations, time.perf_counter() - t0)


def write_conversations(path: str | Path, conversations: Iterable[Conversation]) -> Path:
    """One conversation a line (JSONL), for reading transcripts."""
    path = Path(path)
    path.write_text(
        "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in conversations), encoding="utf-8"
    )
    return path


def default_out_dir(kind: str = "simulate") -> Path:
    return Path("reports") / f"{kind}-{datetime.now(UTC).strftime('%Y-%m-%d')}"


__all__ = [
    "PHRASES_PATH",
    "TOPICS",
    "BotTurn",
    "Conversation",
    "Films",
    "Phrases",
    "SeekerProfile",
    "SeekerReply",
    "SimulatedSeeker",
    "SimulationRun",
    "SimulatorError",
    "TargetGuard",
    "Unit",
    "bot_turn",
    "build_profile",
    "classify_question",
    "conversation_units",
    "default_out_dir",
    "metric_names",
    "ratio",
    "read_seeker_mentions",
    "run_conversation",
    "select_profiles",
    "simulate_many",
    "write_conversations",
]
