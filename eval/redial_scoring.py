"""Scoring one system on ReDial turns under the ReDial protocol (:mod:`eval.metrics`): ranked lists are
canonicalised (duplicate catalogue entries collapse to one id), excluded ids removed and cut to ``K``;
each (turn, rec item) pair is scored by the rank of its item and pairs are averaged; turns whose truth is
empty in a view are skipped there."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from eval.metrics import (
    catalogue_coverage,
    item_ranks,
    mean_item_scores,
    recall_curve,
    scores_from_rank,
    turn_scores,
)
from eval.redial_catalogue import RedialCatalogue
from eval.redial_turns import VIEWS, RedialTurn, exclusions_for_turn, truth_for_turn
from eval.systems import System

K = 50


def rank_turn(system: System, turn: RedialTurn, catalogue: RedialCatalogue, view: str, k: int = K) -> list[str]:
    """The system's canonicalised ranking for one turn and view, excluded ids removed, cut to ``k``."""
    exclude = exclusions_for_turn(turn, view)  # type: ignore[arg-type]
    ranked = catalogue.canonicalise(system.rank(turn, k, exclude))
    if exclude:
        skip = set(exclude)
        ranked = [i for i in ranked if i not in skip]
    return ranked[:k]


@dataclass
class TurnLists:
    """Per view: each turn's per-turn scores (:func:`eval.metrics.turn_scores`) and its top 10."""

    scores: dict[str, list[dict[str, float]]] = field(default_factory=lambda: {v: [] for v in VIEWS})
    tops: dict[str, list[list[str]]] = field(default_factory=lambda: {v: [] for v in VIEWS})


def score_system(system: System, turns: Sequence[RedialTurn], catalogue: RedialCatalogue, *,
                 progress: bool = True, lists: TurnLists | None = None) -> tuple[dict[str, list[int | None]], float]:
    """Per-view ranks of every (turn, rec item) pair, and the seconds it took (``lists`` collects per-turn
    scores and top 10s)."""
    ranks: dict[str, list[int | None]] = {v: [] for v in VIEWS}
    t0 = time.perf_counter()
    for turn in tqdm(turns, desc=system.name, unit="turn", disable=not progress, leave=False):
        for view in VIEWS:
            truth = truth_for_turn(turn, view)
            if not truth:
                continue
            ranked = rank_turn(system, turn, catalogue, view)
            ranks[view].extend(item_ranks(ranked, truth))
            if lists is not None:
                lists.scores[view].append(turn_scores(ranked, truth))
                lists.tops[view].append(ranked[:10])
    return ranks, time.perf_counter() - t0


def summarise(ranks: dict[str, list[int | None]], lists: TurnLists | None = None,
              catalogue_size: int | None = None) -> tuple[dict[str, dict[str, float]], dict[str, dict[int, float]]]:
    """Per view: the metrics averaged over pairs (plus the per-turn ones and Cov@10 from ``lists``) and
    the recall@k curve up to ``K``."""
    results: dict[str, dict[str, float]] = {}
    curves: dict[str, dict[int, float]] = {}
    for view, rs in ranks.items():
        if not rs:
            continue
        results[view] = {**mean_item_scores(scores_from_rank(r) for r in rs), "pairs": float(len(rs))}
        if lists is not None and lists.scores[view]:
            results[view].update(mean_item_scores(lists.scores[view]))
            if catalogue_size:
                results[view]["Cov@10"] = catalogue_coverage(lists.tops[view], catalogue_size)
        curves[view] = recall_curve(rs, K)
    return results, curves
