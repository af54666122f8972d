"""ReDial recommender turns (``*_turns.jsonl``: one recommender turn a line, ``dialog_id``, ``turn_id``,
``context`` = the utterances so far, ``entity`` = mentions so far, ``rec`` = titles the human
recommender then suggested, ``resp``, ``template``) → :func:`read_turns` → :class:`RedialTurn`, and the
two views the benchmark scores them in (see ``../shared/DESIGN.md``):

- ``"all"``: every resolved rec item is in the truth; comparable to published CRS tables.
- ``"new-only"``: rec items already mentioned in the context are dropped from the truth, and the
  context's items are excluded from the ranking (:func:`exclusions_for_turn`).

A turn whose truth is empty in a view (every rec item was already mentioned, or none resolved) is
skipped in that view; metrics average over (turn, rec item) pairs (see :mod:`eval.metrics`). Any file
of this format is accepted (a held-out test split is scored the same way).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from eval.redial_catalogue import RedialCatalogue
from eval.redial_format import iter_jsonl, require_field, str_list

log = logging.getLogger(__name__)

View = Literal["all", "new-only"]
VIEWS: tuple[View, ...] = ("all", "new-only")


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
        dialog_id = str(require_field(row, "dialog_id", (str, int), where))
        turn_id = require_field(row, "turn_id", int, where)
        context = str_list(require_field(row, "context", list, where), f"{where} field 'context'")
        entity = str_list(require_field(row, "entity", list, where), f"{where} field 'entity'")
        rec = str_list(require_field(row, "rec", list, where), f"{where} field 'rec'")
        resp = require_field(row, "resp", str, where)
        template = str_list(row.get("template"), f"{where} field 'template'")
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
