"""The systems a ReDial run scores (:data:`eval.systems.SYSTEMS`), built ready to rank over an opened
catalogue, with the notes the report prints about how each was fitted."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot import services
from bot.settings import Settings
from eval.redial_catalogue import RedialCatalogue
from eval.redial_setup import (
    INDEX_NAME,
    RunnerError,
    benchmark_engine,
    load_artifact,
    load_repeats,
    understander_for,
)
from eval.redial_turns import RedialTurn
from eval.systems import (
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
from retrieval.index import IndexSnapshot
from retrieval.retriever import Retriever


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
                        + (f" (every model also trained on {artifact.meta['extra_turns']} turns of "
                           f"{artifact.meta.get('extra_file')}, never scored)" if artifact.meta.get("extra_turns") else "")
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
