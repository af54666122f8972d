"""Readers for the ReDial evaluation data (as prepared by iEvaLM-CRS) and the two scoring views.

Three files, any path accepted (a held-out test split of the same format is scored the same way):

- ``id2info.json``: the movie catalogue, ``{id: {name: "Title (Year)", genre, plot, director, writer,
  star, imdb_id}}`` → :func:`load_catalogue` → :class:`RedialCatalogue`.
- ``*_turns.jsonl``: one recommender turn a line (``dialog_id``, ``turn_id``, ``context`` = the
  utterances so far, ``entity`` = mentions so far, ``rec`` = titles the human recommender then
  suggested, ``resp``, ``template``) → :func:`read_turns` → :class:`RedialTurn`.
- ``*_dialogues_raw.jsonl``: the raw ReDial dialogues with the seeker's answers about every mentioned
  movie → :func:`read_dialogues` → :class:`RedialDialogue` (material for a user simulator).

Names are resolved to catalogue ids by exact match on ``name``. A few names occur twice in
``id2info.json`` with the same IMDb id (true duplicates such as "Meet the Parents (2000)"); each such
group gets one *canonical* id (the numerically smallest), every name resolves to it, and systems'
ranked lists should pass through :meth:`RedialCatalogue.canonicalise` before scoring so that ranking
either copy counts as a hit.

The two views of the benchmark (see ``../shared/DESIGN.md``):

- ``"all"``: every resolved rec item is in the truth; comparable to published CRS tables.
- ``"new-only"``: rec items already mentioned in the context are dropped from the truth, and the
  context's items are excluded from the ranking (pass :func:`context_item_ids` as ``exclude``).

A turn whose truth is empty in a view (every rec item was already mentioned, or none resolved) is
skipped in that view; metrics average over (turn, rec item) pairs (see :mod:`eval.metrics`).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

View = Literal["all", "new-only"]
VIEWS: tuple[View, ...] = ("all", "new-only")

_NAME_YEAR = re.compile(r"^(?P<title>.*\S)\s*\((?P<year>\d{4})\)$")
_MENTION = re.compile(r"@(\d+)")


class RedialFormatError(ValueError):
    """A ReDial file does not have the expected shape; the message names file, line and field."""


# --------------------------------------------------------------------------------------------------
# catalogue


@dataclass(frozen=True)
class RedialMovie:
    """One ``id2info.json`` entry. ``title``/``year`` are split from ``name`` when it ends in "(YYYY)"."""

    id: str
    name: str
    title: str
    year: int | None
    genres: tuple[str, ...]
    plot: str
    directors: tuple[str, ...]
    writers: tuple[str, ...]
    stars: tuple[str, ...]
    imdb_id: str | None


@dataclass(frozen=True)
class RedialCatalogue:
    """The ReDial movie catalogue with exact-name resolution and duplicate-id canonicalisation."""

    movies: Mapping[str, RedialMovie]
    id_of_name: Mapping[str, str]  # name -> canonical id
    canonical_of: Mapping[str, str]  # any id -> canonical id
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.movies)

    @property
    def canonical_ids(self) -> list[str]:
        """One id per distinct movie (duplicates collapsed), in file order: the ranking universe."""
        return list(dict.fromkeys(self.canonical_of[i] for i in self.movies))

    def resolve(self, name: str) -> str | None:
        """The canonical id of an exact ``"Title (Year)"`` name, or ``None``."""
        return self.id_of_name.get(name)

    def canonical_id(self, item_id: str) -> str:
        """The canonical id for any catalogue id; unknown ids pass through unchanged."""
        return self.canonical_of.get(item_id, item_id)

    def canonicalise(self, ranked: Sequence[str]) -> list[str]:
        """Map a ranked list to canonical ids and drop later duplicates, keeping the order."""
        return list(dict.fromkeys(self.canonical_id(i) for i in ranked))


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RedialFormatError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def _id_sort_key(item_id: str) -> tuple[int, str]:
    return (int(item_id), item_id) if item_id.isdigit() else (1 << 62, item_id)


def load_catalogue(path: str | Path) -> RedialCatalogue:
    """Read ``id2info.json`` into a :class:`RedialCatalogue`."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RedialFormatError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise RedialFormatError(f"{path}: expected an object {{id: info}}, got {type(raw).__name__}")
    movies: dict[str, RedialMovie] = {}
    ids_of_name: dict[str, list[str]] = defaultdict(list)
    for item_id, info in raw.items():
        where = f"{path} id {item_id!r}"
        if not isinstance(info, dict):
            raise RedialFormatError(f"{where}: expected an object, got {type(info).__name__}")
        name = info.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RedialFormatError(f"{where}: field 'name' must be a non-empty string, got {name!r}")
        m = _NAME_YEAR.match(name)
        movies[item_id] = RedialMovie(
            id=item_id,
            name=name,
            title=m["title"] if m else name,
            year=int(m["year"]) if m else None,
            genres=_str_list(info.get("genre"), f"{where} field 'genre'"),
            plot=info.get("plot") or "",
            directors=_str_list(info.get("director"), f"{where} field 'director'"),
            writers=_str_list(info.get("writer"), f"{where} field 'writer'"),
            stars=_str_list(info.get("star"), f"{where} field 'star'"),
            imdb_id=info.get("imdb_id") or None,
        )
        ids_of_name[name].append(item_id)
    id_of_name: dict[str, str] = {}
    canonical_of: dict[str, str] = {}
    for name, ids in ids_of_name.items():
        canonical = min(ids, key=_id_sort_key)
        id_of_name[name] = canonical
        for i in ids:
            canonical_of[i] = canonical
    dupes = sum(1 for ids in ids_of_name.values() if len(ids) > 1)
    log.info("%s: %d movies, %d names shared by several ids (collapsed)", path, len(movies), dupes)
    return RedialCatalogue(movies=movies, id_of_name=id_of_name, canonical_of=canonical_of, path=path)


# --------------------------------------------------------------------------------------------------
# recommender turns


@dataclass(frozen=True)
class RedialTurn:
    """One recommender turn of a ReDial dialogue, with its names resolved to canonical catalogue ids.

    ``context`` are the utterances before the turn (the first may be ""), ``entity`` the mentions so
    far (movies, genres, people), ``rec`` the titles the human recommender suggested in ``resp``.
    ``rec_ids`` are the resolved rec items (order kept, duplicates dropped), ``unresolved_rec`` the rec
    names with no catalogue match, ``context_ids`` the movie mentions of ``entity`` that resolve.
    """

    dialog_id: str
    turn_id: int
    context: tuple[str, ...]
    entity: tuple[str, ...]
    rec: tuple[str, ...]
    resp: str
    template: tuple[str, ...]
    rec_ids: tuple[str, ...] = ()
    unresolved_rec: tuple[str, ...] = ()
    context_ids: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.dialog_id}:{self.turn_id}"


def context_item_ids(turn: RedialTurn) -> tuple[str, ...]:
    """Catalogue ids of the movies mentioned before this turn (from ``entity``), first mention first.

    In the new-only view these are excluded from the system's ranking.
    """
    return turn.context_ids


def truth_for_turn(turn: RedialTurn, view: View) -> tuple[str, ...]:
    """The relevant ids of a turn in a view.

    ``"all"``: every resolved rec item. ``"new-only"``: the rec items not already mentioned in the
    context. An empty result means the turn is skipped in that view.
    """
    if view == "all":
        return turn.rec_ids
    if view == "new-only":
        seen = set(turn.context_ids)
        return tuple(i for i in turn.rec_ids if i not in seen)
    raise ValueError(f"unknown view {view!r}; expected one of {VIEWS}")


def exclusions_for_turn(turn: RedialTurn, view: View) -> tuple[str, ...]:
    """Ids the system must not rank in a view: nothing for ``"all"``, the context items for new-only."""
    if view == "all":
        return ()
    if view == "new-only":
        return turn.context_ids
    raise ValueError(f"unknown view {view!r}; expected one of {VIEWS}")


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object raises
    :class:`RedialFormatError` naming the file and line."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RedialFormatError(f"{path} line {lineno}: not valid JSON ({exc})") from exc
            if not isinstance(row, dict):
                raise RedialFormatError(f"{path} line {lineno}: expected an object, got {type(row).__name__}")
            yield lineno, row


def _require(row: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if name not in row:
        raise RedialFormatError(f"{where}: missing field {name!r}")
    value = row[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RedialFormatError(f"{where}: field {name!r} has type {type(value).__name__}, expected {kind}")
    return value


def read_turns(
    path: str | Path, catalogue: RedialCatalogue, *, skip_empty_rec: bool = True
) -> list[RedialTurn]:
    """Read a ReDial turns file; turns whose ``rec`` is empty are skipped unless asked otherwise.

    Rec names are resolved to canonical ids by exact name match; the number that do not resolve is
    logged (see :func:`resolution_stats` for the figures).
    """
    path = Path(path)
    turns: list[RedialTurn] = []
    skipped = 0
    for lineno, row in iter_jsonl(path):
        where = f"{path} line {lineno}"
        dialog_id = str(_require(row, "dialog_id", (str, int), where))
        turn_id = _require(row, "turn_id", int, where)
        context = _str_list(_require(row, "context", list, where), f"{where} field 'context'")
        entity = _str_list(_require(row, "entity", list, where), f"{where} field 'entity'")
        rec = _str_list(_require(row, "rec", list, where), f"{where} field 'rec'")
        resp = _require(row, "resp", str, where)
        template = _str_list(row.get("template"), f"{where} field 'template'")
        if not rec and skip_empty_rec:
            skipped += 1
            continue
        resolved = [catalogue.resolve(name) for name in rec]
        turns.append(
            RedialTurn(
                dialog_id=dialog_id,
                turn_id=turn_id,
                context=context,
                entity=entity,
                rec=rec,
                resp=resp,
                template=template,
                rec_ids=tuple(dict.fromkeys(i for i in resolved if i is not None)),
                unresolved_rec=tuple(n for n, i in zip(rec, resolved, strict=True) if i is None),
                context_ids=tuple(dict.fromkeys(i for i in map(catalogue.resolve, entity) if i is not None)),
            )
        )
    stats = resolution_stats(turns)
    log.info(
        "%s: %d turns kept, %d skipped (empty rec); %d rec items, %d resolved, %d unresolved",
        path,
        len(turns),
        skipped,
        stats.rec_items,
        stats.resolved,
        stats.unresolved,
    )
    return turns


@dataclass(frozen=True)
class ResolutionStats:
    """How the rec names of a set of turns map onto the catalogue."""

    turns: int
    turns_with_rec: int
    rec_items: int
    resolved: int
    unresolved_names: Counter[str] = field(default_factory=Counter)

    @property
    def unresolved(self) -> int:
        return self.rec_items - self.resolved


def resolution_stats(turns: Sequence[RedialTurn]) -> ResolutionStats:
    """Count turns, rec items, and rec names that resolve (or not) to catalogue ids."""
    unresolved: Counter[str] = Counter(n for t in turns for n in t.unresolved_rec)
    rec_items = sum(len(t.rec) for t in turns)
    return ResolutionStats(
        turns=len(turns),
        turns_with_rec=sum(1 for t in turns if t.rec),
        rec_items=rec_items,
        resolved=rec_items - sum(unresolved.values()),
        unresolved_names=unresolved,
    )


# --------------------------------------------------------------------------------------------------
# raw dialogues


@dataclass(frozen=True)
class MovieAnswer:
    """A post-dialogue form answer about one mentioned movie, from the seeker's point of view.

    ReDial codes ``suggested`` 0/1 (1: the recommender suggested it), ``seen`` and ``liked`` 0/1/2
    where 2 means "did not say"; here 2 becomes ``None``.
    """

    suggested: bool
    seen: bool | None
    liked: bool | None


@dataclass(frozen=True)
class RedialMessage:
    """One message; ``movie_ids`` are the ``@id`` mentions in ``text``, in order."""

    turn_id: int
    sender: Literal["seeker", "recommender"]
    worker_id: int
    text: str
    movie_ids: tuple[str, ...]


@dataclass(frozen=True)
class RedialDialogue:
    """A raw ReDial dialogue. The seeker is the initiator; the recommender is the respondent.

    ``seeker_answers`` come from ``initiatorQuestions`` (the seeker's own form), ``recommender_answers``
    from ``respondentQuestions`` (the recommender's form about the seeker). Either may be empty.
    ``movie_mentions`` maps the dialogue's movie ids (ReDial ids, the keys of ``id2info.json``) to the
    names as written in the dialogue (spacing normalised).
    """

    dialog_id: str
    seeker_worker_id: int
    recommender_worker_id: int
    movie_mentions: Mapping[str, str]
    seeker_answers: Mapping[str, MovieAnswer]
    recommender_answers: Mapping[str, MovieAnswer]
    messages: tuple[RedialMessage, ...]

    def answer(self, movie_id: str) -> MovieAnswer | None:
        """The seeker's own answer about a movie, else the recommender's answer about the seeker."""
        return self.seeker_answers.get(movie_id) or self.recommender_answers.get(movie_id)

    def _ids_where(self, predicate: Any) -> tuple[str, ...]:
        ids = dict.fromkeys([*self.movie_mentions, *self.seeker_answers, *self.recommender_answers])
        return tuple(i for i in ids if (a := self.answer(i)) is not None and predicate(a))

    def liked_ids(self) -> tuple[str, ...]:
        """Movies the seeker liked."""
        return self._ids_where(lambda a: a.liked is True)

    def disliked_ids(self) -> tuple[str, ...]:
        """Movies the seeker did not like."""
        return self._ids_where(lambda a: a.liked is False)

    def seen_ids(self) -> tuple[str, ...]:
        """Movies the seeker had seen."""
        return self._ids_where(lambda a: a.seen is True)

    def suggested_ids(self) -> tuple[str, ...]:
        """Movies the recommender suggested (as opposed to ones the seeker brought up)."""
        return self._ids_where(lambda a: a.suggested)

    def render(self, message: RedialMessage) -> str:
        """The message text with ``@id`` mentions replaced by movie names (unknown ids kept as-is)."""
        return _MENTION.sub(lambda m: self.movie_mentions.get(m[1]) or m[0], message.text)

    def seeker_messages(self) -> tuple[RedialMessage, ...]:
        return tuple(m for m in self.messages if m.sender == "seeker")


def _answers(value: Any, where: str) -> dict[str, MovieAnswer]:
    # Dialogues whose form was not filled carry an empty list instead of an object.
    if value in ([], None):
        return {}
    if not isinstance(value, dict):
        raise RedialFormatError(
            f"{where}: expected an object {{movie id: answers}}, got {type(value).__name__}"
        )
    out: dict[str, MovieAnswer] = {}
    for movie_id, ans in value.items():
        fields = {}
        for name, allowed in (("suggested", (0, 1)), ("seen", (0, 1, 2)), ("liked", (0, 1, 2))):
            v = ans.get(name) if isinstance(ans, dict) else None
            if v not in allowed:
                raise RedialFormatError(
                    f"{where} movie {movie_id!r}: field {name!r} must be in {allowed}, got {v!r}"
                )
            fields[name] = v
        out[str(movie_id)] = MovieAnswer(
            suggested=fields["suggested"] == 1,
            seen=None if fields["seen"] == 2 else fields["seen"] == 1,
            liked=None if fields["liked"] == 2 else fields["liked"] == 1,
        )
    return out


def read_dialogues(path: str | Path, catalogue: RedialCatalogue | None = None) -> list[RedialDialogue]:
    """Read a raw ReDial dialogues file (one dialogue a line).

    With a ``catalogue``, mention names missing in the file are filled from it; movie ids stay the
    dialogue's own (map them with :meth:`RedialCatalogue.canonical_id`).
    """
    path = Path(path)
    dialogues: list[RedialDialogue] = []
    for lineno, row in iter_jsonl(path):
        where = f"{path} line {lineno}"
        dialog_id = str(_require(row, "conversationId", (str, int), where))
        seeker = _require(row, "initiatorWorkerId", int, where)
        recommender = _require(row, "respondentWorkerId", int, where)
        mentions_raw = row.get("movieMentions") or {}
        if not isinstance(mentions_raw, dict):
            raise RedialFormatError(f"{where}: field 'movieMentions' must be an object")
        mentions: dict[str, str] = {}
        for movie_id, name in mentions_raw.items():
            if not isinstance(name, str) or not name.strip():
                movie = catalogue.movies.get(movie_id) if catalogue else None
                name = movie.name if movie else ""
            mentions[str(movie_id)] = " ".join(name.split())
        messages = []
        for i, msg in enumerate(_require(row, "messages", list, where)):
            mwhere = f"{where} message {i}"
            if not isinstance(msg, dict):
                raise RedialFormatError(f"{mwhere}: expected an object")
            sender_id = _require(msg, "senderWorkerId", int, mwhere)
            if sender_id not in (seeker, recommender):
                raise RedialFormatError(f"{mwhere}: senderWorkerId {sender_id} is neither participant")
            text = _require(msg, "text", str, mwhere)
            turn_id = msg.get("turn_id", i)  # iEvaLM-CRS adds turn_id; plain ReDial has messageId
            if not isinstance(turn_id, int):
                raise RedialFormatError(f"{mwhere}: field 'turn_id' must be an integer, got {turn_id!r}")
            messages.append(
                RedialMessage(
                    turn_id=turn_id,
                    sender="seeker" if sender_id == seeker else "recommender",
                    worker_id=sender_id,
                    text=text,
                    movie_ids=tuple(_MENTION.findall(text)),
                )
            )
        dialogues.append(
            RedialDialogue(
                dialog_id=dialog_id,
                seeker_worker_id=seeker,
                recommender_worker_id=recommender,
                movie_mentions=mentions,
                seeker_answers=_answers(row.get("initiatorQuestions"), f"{where} field 'initiatorQuestions'"),
                recommender_answers=_answers(
                    row.get("respondentQuestions"), f"{where} field 'respondentQuestions'"
                ),
                messages=tuple(messages),
            )
        )
    log.info("%s: %d dialogues", path, len(dialogues))
    return dialogues


__all__ = [
    "VIEWS",
    "MovieAnswer",
    "RedialCatalogue",
    "RedialDialogue",
    "RedialFormatError",
    "RedialMessage",
    "RedialMovie",
    "RedialTurn",
    "ResolutionStats",
    "View",
    "context_item_ids",
    "exclusions_for_turn",
    "load_catalogue",
    "read_dialogues",
    "read_turns",
    "resolution_stats",
    "truth_for_turn",
]
