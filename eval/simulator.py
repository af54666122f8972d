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
import logging
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from eval.redial import RedialCatalogue, RedialDialogue, RedialFormatError, iter_jsonl

if TYPE_CHECKING:
    from bot.engine import ConversationEngine, Recommendation, TurnResult
    from bot.state import SessionState
    from bot.titles import TitleIndex

log = logging.getLogger(__name__)

PHRASES_PATH = Path(__file__).resolve().parent / "simulator_phrases.yaml"
Topic = Literal["genre", "liked_example", "people", "era", "mood"]
TOPICS: tuple[str, ...] = ("genre", "liked_example", "people", "era", "mood")
# catalogue genres too vague to say as a preference
_VAGUE_GENRES = frozenset({"short", "news", "talk-show", "reality-tv", "game-show", "adult"})


class SimulatorError(ValueError):
    """The phrases file or the simulator's input is unusable; the message names the file and field."""


# --------------------------------------------------------------------------------------------------
# phrases


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


# --------------------------------------------------------------------------------------------------
# the seeker's facts


def _norm(text: str) -> str:
    from bot.titles import normalize

    return normalize(text)


def _phrase_in(phrase: str, text: str) -> bool:
    """Whether normalised ``phrase`` occurs in normalised ``text`` as whole words."""
    p = _norm(phrase)
    return bool(p) and f" {p} " in f" {_norm(text)} "


class Films:
    """One id per film. Starts from :meth:`RedialCatalogue.canonical_id` (entries with identical names)
    and also merges entries that share an IMDb id *and* the same title apart from the year: id2info.json
    has 112 such groups ("The Exorcist" and "The Exorcist (1973)", "Jurassic Park" and "Jurassic Park
    (1993)"), which a person sees as the same film. Entries sharing an IMDb id under different titles
    (74 groups, e.g. "Spider (2007)" and "Spider-Man 3 (2007)") are data errors and stay apart."""

    def __init__(self, catalogue: RedialCatalogue) -> None:
        from bot.titles import title_key

        first: dict[tuple[str, str], str] = {}
        self._of: dict[str, str] = {}
        for movie_id, movie in catalogue.movies.items():
            canonical = catalogue.canonical_id(movie_id)
            if movie.imdb_id and (key := title_key(movie.title)):
                self._of[movie_id] = first.setdefault((movie.imdb_id, key), canonical)
            else:
                self._of[movie_id] = canonical
        # every entry of a name group follows its canonical entry
        for movie_id in catalogue.movies:
            self._of[movie_id] = self._of[catalogue.canonical_id(movie_id)]

    def of(self, item_id: str) -> str:
        return self._of.get(item_id, item_id)

    def merged(self) -> int:
        """How many catalogue entries map to another entry's film id."""
        return sum(1 for k, v in self._of.items() if k != v)


class TargetGuard:
    """Says whether a text names one of the seeker's targets.

    A text names a target when it contains the target's "Title (Year)", or its title as whole words
    (titles of two or more words; one-word titles are left to the matcher, "It" being in most sentences),
    or when the catalogue's title matcher (:meth:`bot.titles.TitleIndex.find_mentions`, what the bot
    itself uses) finds a title there that is a target or has a target's title ("Jumanji (2017)" names
    "Jumanji" when "Jumanji (1995)" is a target).
    """

    def __init__(
        self,
        titles: TitleIndex,
        catalogue: RedialCatalogue,
        targets: Iterable[str],
        films: Films | None = None,
    ) -> None:
        self.titles = titles
        self.catalogue = catalogue
        self.films = films or Films(catalogue)
        self.targets = frozenset(targets)
        self._labels = [catalogue.movies[t].name for t in self.targets]
        self._titles = {_norm(catalogue.movies[t].title) for t in self.targets} - {""}
        self._multiword = [t for t in self._titles if len(t.split()) >= 2]

    def names_target(self, text: str) -> str | None:
        """The target label the text names, or ``None``."""
        if not self.targets or not text.strip():
            return None
        low = text.casefold()
        for label in self._labels:
            if label.casefold() in low:
                return label
        for title in self._multiword:
            if _phrase_in(title, text):
                return title
        for mention in self.titles.find_mentions(text):
            film = self.films.of(mention.item_id)
            item = self.titles.items.get(mention.item_id)
            if film in self.targets or (item is not None and _norm(item.title) in self._titles):
                return item.label if item is not None else mention.item_id
        return None


@dataclass(frozen=True)
class SeekerProfile:
    """What one simulated seeker knows and wants (ids are film ids, see :class:`Films`)."""

    dialog_id: str
    targets: tuple[str, ...]
    likes: tuple[str, ...]
    genres: tuple[str, ...]
    people: tuple[str, ...]
    era: str | None  # an era phrase, e.g. "movies from the 1990s"
    mood: str | None
    seen: frozenset[str] = frozenset()
    disliked: frozenset[str] = frozenset()
    dropped: tuple[str, ...] = ()  # facts left out because they would name a target

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seen"], d["disliked"] = sorted(self.seen), sorted(self.disliked)
        return d


def read_seeker_mentions(path: str | Path) -> dict[str, list[str]]:
    """Per dialogue id, the genre words and names the seeker used, from the raw file's ``entity`` field
    of each seeker message (added by iEvaLM-CRS; plain ReDial files have none: empty lists)."""
    path = Path(path)
    out: dict[str, list[str]] = {}
    for lineno, row in iter_jsonl(path):
        seeker = row.get("initiatorWorkerId")
        said: list[str] = []
        for msg in row.get("messages") or []:
            if isinstance(msg, dict) and msg.get("senderWorkerId") == seeker:
                entities = msg.get("entity") or []
                if not isinstance(entities, list):
                    raise RedialFormatError(f"{path} line {lineno}: field 'entity' must be a list")
                said += [e for e in entities if isinstance(e, str) and e.strip() and e not in said]
        out[str(row.get("conversationId"))] = said
    return out


def _people_of(catalogue: RedialCatalogue) -> set[str]:
    return {p for m in catalogue.movies.values() for p in (*m.stars, *m.directors, *m.writers)}


def _era(years: Sequence[int], eras: Mapping[str, str]) -> str | None:
    if not years:
        return None
    median = int(statistics.median(years))
    if median >= 2010:
        return eras["recent"]
    return eras["decade"].format(decade=median // 10 * 10)


def build_profile(
    dialogue: RedialDialogue,
    catalogue: RedialCatalogue,
    phrases: Phrases,
    guard_for: Callable[[Sequence[str]], TargetGuard],
    *,
    said: Sequence[str] = (),
    people: set[str] | None = None,
    films: Films | None = None,
) -> SeekerProfile:
    """The seeker of ``dialogue`` (see the module docs); ``said`` are its own genre words and names."""
    films = films or Films(catalogue)

    def canonical(ids: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(films.of(i) for i in ids if i in catalogue.movies))

    targets = canonical(i for i in dialogue.suggested_ids() if dialogue.answer(i).liked is True)  # type: ignore[union-attr]
    guard = guard_for(targets)
    dropped: list[str] = []

    def keep(fact: str) -> bool:
        if guard.names_target(fact):
            dropped.append(fact)
            return False
        return True

    liked_own = [i for i in canonical(dialogue.liked_ids()) if i not in targets]
    likes = [i for i in liked_own if keep(catalogue.movies[i].name)]
    people = people if people is not None else _people_of(catalogue)
    said_people = [s for s in said if s in people]
    said_genres = [s.lower() for s in said if s not in people]
    derived_genres = Counter(
        g.lower() for i in liked_own for g in catalogue.movies[i].genres if g.lower() not in _VAGUE_GENRES
    )
    genres = [
        g for g in dict.fromkeys([*said_genres, *(g for g, _ in derived_genres.most_common())]) if keep(g)
    ]
    stars = [catalogue.movies[i].stars[0] for i in likes if catalogue.movies[i].stars]
    people_facts = [p for p in dict.fromkeys([*said_people, *stars]) if keep(p)]
    years = [y for i in liked_own if (y := catalogue.movies[i].year) is not None]
    mood = next((phrases.moods[g] for g in genres if g in phrases.moods), None)
    return SeekerProfile(
        dialog_id=dialogue.dialog_id,
        targets=tuple(targets),
        likes=tuple(likes),
        genres=tuple(genres),
        people=tuple(people_facts),
        era=_era(years, phrases.eras),
        mood=mood,
        seen=frozenset(canonical(dialogue.seen_ids())),
        disliked=frozenset(canonical(dialogue.disliked_ids())),
        dropped=tuple(dropped),
    )


# --------------------------------------------------------------------------------------------------
# the seeker


def classify_question(text: str, phrases: Phrases) -> str | None:
    """The topic a bot question is about, by keyword hits (ties: the earlier topic), or ``None``."""
    padded = f" {_norm(text)} "
    best, best_hits = None, 0
    for topic, words in phrases.question_topics.items():
        hits = sum(padded.count(f" {_norm(w)} ") for w in words if _norm(w))
        if hits > best_hits:
            best, best_hits = topic, hits
    return best


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


# --------------------------------------------------------------------------------------------------
# conversations


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


# --------------------------------------------------------------------------------------------------
# metrics

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


# --------------------------------------------------------------------------------------------------
# runs


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


def select_profiles(
    dialogues: Sequence[RedialDialogue],
    catalogue: RedialCatalogue,
    phrases: Phrases,
    titles: TitleIndex,
    mentions: Mapping[str, Sequence[str]],
    limit: int | None,
) -> tuple[list[SeekerProfile], dict[str, int]]:
    """Profiles of the first ``limit`` dialogues that have at least one target in the catalogue."""
    people = _people_of(catalogue)
    films = Films(catalogue)
    profiles: list[SeekerProfile] = []
    skipped = Counter[str]()
    for d in dialogues:
        if limit is not None and len(profiles) >= limit:
            break
        p = build_profile(
            d,
            catalogue,
            phrases,
            lambda t: TargetGuard(titles, catalogue, t, films),
            said=mentions.get(d.dialog_id, ()),
            people=people,
            films=films,
        )
        if not p.targets:
            skipped["no target in the catalogue"] += 1
            continue
        profiles.append(p)
    return profiles, dict(skipped)


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
