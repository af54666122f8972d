"""Raw ReDial dialogues (``*_dialogues_raw.jsonl``, one dialogue a line, with the seeker's answers about
every mentioned movie) → :func:`read_dialogues` → :class:`RedialDialogue`: the material of the user
simulator (:mod:`eval.simulator`) and of the transfer ranker's extra training turns."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from eval.redial_catalogue import RedialCatalogue
from eval.redial_format import RedialFormatError, iter_jsonl, require_field

log = logging.getLogger(__name__)

_MENTION = re.compile(r"@(\d+)")


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
        dialog_id = str(require_field(row, "conversationId", (str, int), where))
        seeker = require_field(row, "initiatorWorkerId", int, where)
        recommender = require_field(row, "respondentWorkerId", int, where)
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
        for i, msg in enumerate(require_field(row, "messages", list, where)):
            mwhere = f"{where} message {i}"
            if not isinstance(msg, dict):
                raise RedialFormatError(f"{mwhere}: expected an object")
            sender_id = require_field(msg, "senderWorkerId", int, mwhere)
            if sender_id not in (seeker, recommender):
                raise RedialFormatError(f"{mwhere}: senderWorkerId {sender_id} is neither participant")
            text = require_field(msg, "text", str, mwhere)
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
