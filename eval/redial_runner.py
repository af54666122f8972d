"""The ReDial benchmark runner: every recommender turn through every system, scored in both views.

    recbot eval redial --turns ../shared/data/redial/valid_turns.jsonl \\
                       --catalogue ../shared/data/redial/id2info.json

What :func:`run` does:

1. reads the catalogue (:func:`eval.redial_catalogue.load_catalogue`) and the turns (:func:`eval.redial_turns.read_turns`;
   any file of the same format, e.g. a held-out split);
2. ingests the catalogue as the index ``redial`` in the settings' data dir — idempotent: a second run
   embeds nothing — and opens it (:mod:`eval.redial_setup`);
3. runs each system (:mod:`eval.systems`, built by :mod:`eval.redial_systems`) over the turns, one system at a time (so turns/s is that
   system's own), asking for 50 ids per turn and view;
4. scores under the ReDial protocol (:mod:`eval.redial_scoring`, :mod:`eval.metrics`): ranked lists are canonicalised (duplicate
   catalogue entries collapse to one id) and cut to 50, each (turn, rec item) pair is scored by the
   rank of its item, pairs are averaged; turns whose truth is empty in a view are skipped there;
   ``new-only`` drops rec items already mentioned from the truth and excludes the context's items
   from the ranking;
5. prints the tables and writes ``result.json``, ``report.md``, ``report.html`` and the recall@k plot
   (:func:`eval.report.write_report`), by default into ``reports/redial-<date>``.

Understanding is deterministic by default; ``llm=True`` sends every seeker utterance through the
engine's LLM understanding as well (the configured LLM, see ``bot.services.llm``): slow on a CPU, so
combine it with ``limit``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.settings import Settings, get_settings
from eval.redial_scoring import TurnLists, score_system, summarise
from eval.redial_setup import INDEX_NAME, RunnerError, open_benchmark_catalogue, read_any_turns
from eval.redial_systems import build_systems
from eval.redial_turns import VIEWS, read_turns, truth_for_turn
from eval.report import ReportFiles, RunInfo, print_table, write_report
from eval.systems import DEFAULT_SYSTEMS, RecbotSystem
from eval.transfer_data import mapped_share

log = logging.getLogger(__name__)


@dataclass
class RunOutput:
    """What a run produced: ``results[system][view][metric]``, recall curves, run info, files."""

    results: dict[str, dict[str, dict[str, float]]]
    curves: dict[str, dict[str, dict[int, float]]]
    run: RunInfo
    files: ReportFiles | None
    ranks: dict[str, dict[str, list[int | None]]] = field(default_factory=dict)


def default_out_dir() -> Path:
    return Path("reports") / f"redial-{datetime.now(UTC).strftime('%Y-%m-%d')}"


def run(
    turns_path: str | Path,
    catalogue_path: str | Path,
    systems: Sequence[str] = DEFAULT_SYSTEMS,
    *,
    limit: int | None = None,
    out_dir: str | Path | None = None,
    llm: bool = False,
    train_turns_path: str | Path | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    write: bool = True,
) -> RunOutput:
    """Score ``systems`` on the turns of ``turns_path`` (the first ``limit`` only, when given).

    ``train_turns_path``: the turns the popularity baseline is fitted on (default: the scored file,
    in-sample; a held-out split should be scored with the dev file here).

    Returns the results and, with ``write``, the report files (in ``out_dir``, default
    ``reports/redial-<date>``). Raises :class:`RunnerError` for an unknown system or a missing reranker.
    """
    settings = settings or get_settings()
    t_start = time.perf_counter()
    snapshot, catalogue, catalogue_name = open_benchmark_catalogue(settings, catalogue_path, progress=progress)
    all_turns = read_turns(turns_path, catalogue)
    turns = all_turns[:limit] if limit else all_turns
    if not turns:
        raise RunnerError(f"{turns_path}: no recommender turns with rec items to score")
    train_turns = None
    if train_turns_path is not None and Path(train_turns_path).resolve() != Path(turns_path).resolve():
        train_turns = read_any_turns(train_turns_path, catalogue)
    built, notes = build_systems(list(dict.fromkeys(systems)), settings, snapshot, catalogue, all_turns, llm=llm,
                                 train_turns=train_turns, train_path=train_turns_path, catalogue_name=catalogue_name)
    if catalogue_name != INDEX_NAME:
        notes.insert(0, f"transfer benchmark on the catalogue {catalogue_name!r} ({len(snapshot.table)} items): "
                        f"ReDial names mapped by normalised title + year; {mapped_share(turns):.1%} of the rec "
                        "names of these turns map (only those are scored)")

    results: dict[str, dict[str, dict[str, float]]] = {}
    curves: dict[str, dict[str, dict[int, float]]] = {}
    all_ranks: dict[str, dict[str, list[int | None]]] = {}
    scoring_seconds = 0.0
    for system in built:
        lists = TurnLists()
        ranks, seconds = score_system(system, turns, catalogue, progress=progress, lists=lists)
        scoring_seconds += seconds
        res, cur = summarise(ranks, lists, len(catalogue.canonical_ids) or len(snapshot.table))
        speed = len(turns) / seconds if seconds > 0 else float("inf")
        for view in res:
            res[view]["turns/s"] = speed
        results[system.name], curves[system.name], all_ranks[system.name] = res, cur, ranks
        notes.append(f"{system.name}: {speed:.1f} turns/s ({seconds / 60:.2f} min)")
        if isinstance(system, RecbotSystem) and system.retrievers:
            notes.append(f"{system.name}: {system.out_of_fold_turns} turns out-of-fold, "
                         f"{system.final_model_turns} with the final model")
        log.info("%s done in %.1f s", system.name, seconds)

    minutes = (time.perf_counter() - t_start) / 60
    n_pairs = {v: sum(len(truth_for_turn(t, v)) for t in turns) for v in VIEWS}
    notes.append("pairs scored: " + ", ".join(f"{v} {n}" for v, n in n_pairs.items())
                 + f"; {sum(len(t.unresolved_rec) for t in turns)} rec names not in the catalogue are ignored")
    info = RunInfo(
        turns=len(turns),
        turns_per_second=len(turns) * len(built) / scoring_seconds if scoring_seconds > 0 else 0.0,
        minutes=minutes,
        files={"turns": str(turns_path), "catalogue": str(catalogue_path),
               **({"train_turns": str(train_turns_path)} if train_turns is not None else {})},
        notes=notes,
    )
    files = None
    if write:
        files = write_report(out_dir or default_out_dir(), results, curves, info)
    return RunOutput(results=results, curves=curves, run=info, files=files, ranks=all_ranks)


def print_results(output: RunOutput) -> None:
    """The tables (plus turns/s per system) on stdout."""
    print_table(output.results)
    for note in output.run.notes:
        print(f"- {note}")
    if output.files is not None:
        print(f"report: {output.files.report_html.parent}")


__all__ = ["RunOutput", "default_out_dir", "print_results", "run"]
