"""The ReDial benchmark runner: every recommender turn through every system, scored in both views.

    recbot eval redial --turns ../shared/data/redial/valid_turns.jsonl \\
                       --catalogue ../shared/data/redial/id2info.json

What :func:`run` does:

1. reads the catalogue (:func:`eval.redial.load_catalogue`) and the turns (:func:`eval.redial.read_turns`;
   any file of the same format, e.g. a held-out split);
2. ingests the catalogue as the index ``redial`` in the settings' data dir — idempotent: a second run
   embeds nothing — and opens it;
3. runs each system (:mod:`eval.systems`) over the turns, one system at a time (so turns/s is that
   system's own), asking for 50 ids per turn and view;
4. scores under the ReDial protocol (:mod:`eval.metrics`): ranked lists are canonicalised (duplicate
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
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tqdm.auto import tqdm

from bot import services
from bot.settings import Settings, get_settings
from eval.metrics import (
    catalogue_coverage,
    item_ranks,
    mean_item_scores,
    recall_curve,
    scores_from_rank,
    turn_scores,
)
from eval.redial import (
    VIEWS,
    RedialCatalogue,
    RedialTurn,
    exclusions_for_turn,
    load_catalogue,
    read_turns,
    truth_for_turn,
)
from eval.repeats import RepeatModel
from eval.report import ReportFiles, RunInfo, print_table, write_report
from eval.systems import (
    DEFAULT_SYSTEMS,
    SYSTEMS,
    DenseSystem,
    DialogueStates,
    LexicalSystem,
    PopularitySystem,
    RecbotSystem,
    System,
    eval_retrieval_config,
    fold_system,
    reranked_system,
)
from eval.transfer_data import mapped_share
from retrieval.embeddings import Embedder
from retrieval.index import IndexSnapshot
from retrieval.rerank import RerankerArtifact, find_artifact
from retrieval.retriever import Retriever

log = logging.getLogger(__name__)

K = 50
INDEX_NAME = "redial"


class RunnerError(RuntimeError):
    """A run cannot start (unknown system, no trained reranker...); the message says what to do."""


@dataclass
class RunOutput:
    """What a run produced: ``results[system][view][metric]``, recall curves, run info, files."""

    results: dict[str, dict[str, dict[str, float]]]
    curves: dict[str, dict[str, dict[int, float]]]
    run: RunInfo
    files: ReportFiles | None
    ranks: dict[str, dict[str, list[int | None]]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# setup shared with the reranker training


def open_redial_index(settings: Settings, catalogue_path: str | Path, *, progress: bool = True) -> IndexSnapshot:
    """Ingest ``id2info.json`` as the index ``redial`` (a no-op when unchanged) and open it."""
    from retrieval.catalogue import load_catalogue as load_items

    loaded = load_items(catalogue_path, mapping="redial", progress=progress)
    index = services.catalogue_index(settings, loaded.name)
    report = index.ingest(loaded.items, services.embedder(settings),
                          batch_size=settings.embedding.batch_size, progress=progress)
    log.info("%s", report.summary())
    return index.open()


def open_benchmark_catalogue(settings: Settings, catalogue: str | Path, *,
                             progress: bool = True) -> tuple[IndexSnapshot, RedialCatalogue, str]:
    """(snapshot, name resolution, index name) for ``catalogue``: a ReDial ``id2info.json`` path (the
    index ``redial``), or the name of a catalogue to transfer to (e.g. the bundled ``movies``; ingested if
    needed) whose films ReDial names map onto by normalised title + year."""
    if Path(catalogue).is_file():
        return open_redial_index(settings, catalogue, progress=progress), load_catalogue(catalogue), INDEX_NAME
    from bot.catalogues import ensure_indexed
    from eval.transfer_data import mapped_catalogue

    name = str(catalogue)
    ensure_indexed(settings, name)
    snapshot = services.catalogue_index(settings, name).open()
    return snapshot, mapped_catalogue(snapshot.table), name


def read_any_turns(path: str | Path, catalogue: RedialCatalogue) -> list[RedialTurn]:
    """A turns file (``*_turns.jsonl``) or raw ReDial dialogues (``*_dialogues_raw.jsonl``, cut into turns)."""
    from eval.redial import iter_jsonl
    from eval.transfer_data import raw_dialogue_turns

    first = next((row for _, row in iter_jsonl(Path(path))), {})
    if "messages" in first:
        return raw_dialogue_turns(path, catalogue, prefix="train:")
    return read_turns(path, catalogue)


def understander_for(snapshot: IndexSnapshot):
    from bot.understand import Understander

    return Understander.from_items(snapshot.table.items)


def llm_understand_fn(settings: Settings, snapshot: IndexSnapshot, understander):
    """The engine's LLM understanding (``llm_understanding="always"``) as an ``understand`` function."""
    from bot.engine import ConversationEngine, EngineConfig
    from retrieval.retriever import Retriever

    engine = ConversationEngine(
        Retriever(snapshot, services.embedder(settings), services.retrieval_config(settings)),
        services.llm(settings), services.prompt_library(),
        EngineConfig(llm_understanding="always", prompt_set=settings.prompt_set), understander=understander,
    )
    return lambda state, text: engine.understand(state, text)


def load_artifact(settings: Settings, snapshot: IndexSnapshot, embedder: Embedder) -> RerankerArtifact:
    path = find_artifact(settings.cache_dir, INDEX_NAME, snapshot.table, embedder.name)
    if path is None:
        raise RunnerError(
            "no trained reranker for this ReDial catalogue; train one first:\n"
            "  recbot train-reranker --turns ../shared/data/redial/valid_turns.jsonl "
            "--catalogue ../shared/data/redial/id2info.json"
        )
    try:
        return RerankerArtifact.load(path)
    except (ValueError, TypeError, EOFError, AttributeError, pickle.UnpicklingError) as exc:
        raise RunnerError(f"the cached reranker {path} cannot be used ({exc}); run `recbot train-reranker` again") from exc


def repeats_path(artifact_path: Path) -> Path:
    """Where the all view's repeat model (:mod:`eval.repeats`) sits beside a reranker artifact."""
    return artifact_path.with_name(artifact_path.stem + ".repeats.pkl")


def save_repeats(model: RepeatModel, artifact_path: Path) -> Path:
    path = repeats_path(artifact_path)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return path


def load_repeats(settings: Settings, snapshot: IndexSnapshot, embedder: Embedder) -> RepeatModel | None:
    """The repeat model trained with this catalogue's reranker, if any (a self-written local file)."""
    path = find_artifact(settings.cache_dir, INDEX_NAME, snapshot.table, embedder.name)
    if path is None or not repeats_path(path).is_file():
        return None
    try:
        with open(repeats_path(path), "rb") as fh:
            model = pickle.load(fh)  # noqa: S301 - written by `recbot train-reranker` in this cache
    except (EOFError, AttributeError, pickle.UnpicklingError) as exc:
        log.warning("ignoring %s: %s", repeats_path(path), exc)
        return None
    return model if isinstance(model, RepeatModel) else None


def benchmark_engine(settings: Settings, snapshot: IndexSnapshot, understander, *, llm: bool):
    """The chat's :class:`~bot.engine.ConversationEngine` over ``snapshot`` whose ``understand`` the benchmark
    calls: rules only (no LLM loaded, ``llm_understanding="never"``) unless ``llm``."""
    from bot.engine import ConversationEngine, EngineConfig

    return ConversationEngine(
        Retriever(snapshot, services.embedder(settings), services.retrieval_config(settings)),
        services.llm(settings) if llm else None, services.prompt_library(),
        EngineConfig(llm_understanding="always" if llm else "never", prompt_set=settings.prompt_set),
        understander=understander,
    )


def product_system(settings: Settings, snapshot: IndexSnapshot, catalogue_name: str, states: DialogueStates,
                   config, all_turns: Sequence[RedialTurn]) -> tuple[System, str]:
    """``recbot``: the ranker the chat loads for this catalogue, out-of-fold on the ranker's own dialogues."""
    from eval.train_transfer import load_folds

    embedder = services.embedder(settings)
    ranker = services.ranker_for(settings, catalogue_name, snapshot.table)
    if ranker is None:
        return RecbotSystem(states, Retriever(snapshot, embedder, config)), "recbot: no learned ranker (rerank=off)"
    if ranker.name == "learned":
        artifact = load_artifact(settings, snapshot, embedder)
        repeats = load_repeats(settings, snapshot, embedder)
        system = reranked_system(states, snapshot, embedder, config, artifact, name="recbot", repeats=repeats)
        return system, (f"recbot: the learned reranker trained for {catalogue_name!r} (what the chat loads for it); "
                        f"its {len(artifact.fold_of)} training dialogues are scored out-of-fold"
                        + ("; all view: the repeat model (a benchmark add-on) ranks mentioned items" if repeats else ""))
    folds, fold_of = load_folds(settings, "movies", embedder)
    seen = {t.dialog_id for t in all_turns} & set(fold_of)
    system = fold_system(states, snapshot, embedder, config, ranker, folds, fold_of, name="recbot")
    return system, (f"recbot: the packaged transfer ranker (what the chat loads for {catalogue_name!r}); "
                    f"{len(seen)} of these dialogues were in its training data and are scored by the "
                    f"{len(folds)}-fold model that never saw them"
                    + ("" if folds or not seen else " -- fold models missing: NOT out-of-fold, run "
                       "`recbot train-reranker --transfer`"))


def build_systems(names: Sequence[str], settings: Settings, snapshot: IndexSnapshot, catalogue: RedialCatalogue,
                  all_turns: Sequence[RedialTurn], *, llm: bool = False,
                  train_turns: Sequence[RedialTurn] | None = None,
                  train_path: str | Path | None = None,
                  catalogue_name: str = INDEX_NAME) -> tuple[list[System], list[str]]:
    """The named systems, ready to rank, and notes for the report.

    ``train_turns`` (read from ``train_path``) is what the popularity baseline is fitted on; without it,
    the scored turns themselves (in-sample).
    """
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        raise RunnerError(f"unknown system(s) {unknown}; choose from {', '.join(SYSTEMS)}")
    embedder = services.embedder(settings)
    config = eval_retrieval_config(services.retrieval_config(settings))
    notes: list[str] = []
    systems: list[System] = []
    understander = None
    shared_states: DialogueStates | None = None

    def states() -> DialogueStates:
        nonlocal understander, shared_states
        if understander is None:
            understander = understander_for(snapshot)
        if not llm:  # cheap: each system reads the context itself, with the engine's own understanding
            return DialogueStates.from_engine(benchmark_engine(settings, snapshot, understander, llm=False))
        if shared_states is None:  # LLM calls are costly: read each context once for every system
            shared_states = DialogueStates.from_engine(benchmark_engine(settings, snapshot, understander, llm=True))
        return shared_states

    for name in names:
        if name == "popularity":
            if train_turns is None:
                systems.append(PopularitySystem(all_turns, catalogue.id_of_name))
                notes.append("popularity: fitted on the scored turns file itself (in-sample, optimistic); "
                             "a reference, not a result (pass --train-turns to fit it on another file)")
            else:
                systems.append(PopularitySystem(train_turns, catalogue.id_of_name))
                notes.append(f"popularity: fitted on {len(train_turns)} turns of {train_path}")
        elif name == "bm25":
            systems.append(LexicalSystem(snapshot))
        elif name == "dense":
            systems.append(DenseSystem(snapshot, embedder))
        elif name == "retrieval":
            systems.append(RecbotSystem(states(), Retriever(snapshot, embedder, config), name="retrieval"))
        elif name == "recbot":
            system, note = product_system(settings, snapshot, catalogue_name, states(), config, all_turns)
            systems.append(system)
            notes.append(note)
        elif name == "recbot+rerank":
            artifact = load_artifact(settings, snapshot, embedder)
            repeats = load_repeats(settings, snapshot, embedder)
            systems.append(reranked_system(states(), snapshot, embedder, config, artifact, repeats=repeats))
            if repeats is not None:
                pairs = [(r, set(t.context_ids)) for t in all_turns for r in t.rec_ids]
                share = sum(r in ctx for r, ctx in pairs) / max(1, len(pairs))
                notes.append("recbot+rerank, all view: items already mentioned compete too, scored by the repeat "
                             f"model trained with the reranker (the recommender names them again in {share:.1%} "
                             "of these pairs; the product itself never re-recommends them); out-of-fold likewise")
            notes.append(
                f"recbot+rerank: reranker trained on {len(artifact.fold_of)} dialogues "
                f"({artifact.meta.get('turns_file', '?')}); turns of those dialogues are scored by the "
                f"{len(artifact.folds)}-fold cross-validation model that did not see them (out-of-fold)"
            )
    if any(n.startswith("recbot") or n == "retrieval" for n in names):
        notes.append(f"recbot systems: understanding {'with the LLM' if llm else 'deterministic (no LLM)'}; "
                     "MMR off (lambda 1.0) and exact in-memory dense search for the benchmark")
    return systems, notes


# --------------------------------------------------------------------------------------------------
# scoring


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


__all__ = [
    "INDEX_NAME",
    "K",
    "RunOutput",
    "RunnerError",
    "build_systems",
    "default_out_dir",
    "open_redial_index",
    "print_results",
    "rank_turn",
    "run",
    "score_system",
    "summarise",
]
