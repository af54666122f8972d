"""Running one template version for the A/B (:mod:`eval.templates_ab`) and the simulator command:
the engine built with the version's templates, the simulated seekers, and the ReDial turns as units.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.llm.base import LLM
from bot.settings import Settings
from eval.redial import VIEWS, RedialCatalogue, RedialTurn, read_dialogues, truth_for_turn
from eval.simulator import (
    Phrases,
    SeekerProfile,
    SimulationRun,
    Unit,
    read_seeker_mentions,
    select_profiles,
    simulate_many,
)
from eval.template_versions import TemplatesABError, TemplateVersion, Understanding

REDIAL_METRICS: tuple[str, ...] = ("R@1", "R@10", "R@50", "NDCG@10", "MRR")


@dataclass
class VersionRun:
    """Everything measured for one template version."""

    version: TemplateVersion
    simulation: SimulationRun
    redial_units: dict[str, list[Unit]]
    redial_seconds: float
    utterances_read: int


def _engine(
    version: TemplateVersion,
    snapshot,
    understander,
    llm: LLM,
    settings: Settings,
    *,
    k: int,
    understanding: Understanding,
    seed: int,
    for_simulation: bool,
):
    from bot import services
    from bot.engine import ConversationEngine, EngineConfig
    from eval.systems import eval_retrieval_config
    from retrieval.retriever import Retriever

    base = services.retrieval_config(settings)
    # the simulator meets the product's retrieval (MMR on); the ReDial turns are scored as `eval redial` does
    config = base if for_simulation else eval_retrieval_config(base)
    engine_config = EngineConfig(
        k=k,
        prompt_set=version.set_name,
        llm_understanding=understanding,
        temperature=settings.llm.temperature,
        max_tokens=settings.llm.max_tokens,
        seed=seed,
    )
    return ConversationEngine(
        # retrieval without a learned ranker: the rankers were trained on these dev dialogues, so using
        # them here would score the simulator and the A/B in-sample
        Retriever(snapshot, services.embedder(settings), config),
        llm,
        version.library,
        engine_config,
        understander=understander,
    )


def redial_turn_units(
    engine,
    understander,
    turns: Sequence[RedialTurn],
    catalogue: RedialCatalogue,
    *,
    progress: bool = True,
    desc: str = "redial turns",
) -> tuple[dict[str, list[Unit]], int]:
    """Per turn and view, (Σ metric over the turn's rec items, rec items) for each ReDial metric; the
    ``recbot`` system of :mod:`eval.systems` with the engine's LLM understanding (``always``)."""
    from tqdm.auto import tqdm

    from eval.metrics import item_ranks, scores_from_rank
    from eval.redial_runner import rank_turn
    from eval.systems import DialogueStates, RecbotSystem

    states = DialogueStates(understander, lambda state, text: engine.understand(state, text))
    system = RecbotSystem(states, engine.catalogue)
    units: dict[str, list[Unit]] = {f"{m} ({v})": [] for v in VIEWS for m in REDIAL_METRICS}
    for turn in tqdm(turns, desc=desc, unit="turn", disable=not progress, leave=False):
        for view in VIEWS:
            truth = truth_for_turn(turn, view)
            sums = dict.fromkeys(REDIAL_METRICS, 0.0)
            if truth:
                for rank in item_ranks(rank_turn(system, turn, catalogue, view), truth):
                    for m, value in scores_from_rank(rank).items():
                        sums[m] += value
            for m in REDIAL_METRICS:
                units[f"{m} ({view})"].append((sums[m], float(len(truth))))
    return units, states.utterances_read


def _check_file(path: Path, what: str, option: str) -> None:
    if not path.is_file():
        raise TemplatesABError(f"{path}: {what} not found; pass its path with {option}")


@dataclass
class _Seekers:
    """What every simulator run of a comparison shares: the index, the understander and the seekers."""

    phrases: Phrases
    catalogue: RedialCatalogue
    snapshot: Any  # retrieval.index.IndexSnapshot of the ingested ReDial catalogue
    understander: Any  # bot.understand.Understander over that catalogue
    profiles: list[SeekerProfile]
    skipped: dict[str, int]

    @property
    def titles(self):
        return self.understander.vocab.titles


def _load_seekers(
    settings: Settings,
    catalogue: RedialCatalogue,
    catalogue_path: Path,
    dialogues_path: Path,
    n_dialogues: int,
    *,
    progress: bool,
) -> _Seekers:
    """Opens (ingesting once) the ReDial index and picks the first ``n_dialogues`` seekers with a target."""
    from bot.understand import Understander
    from eval.redial_runner import open_redial_index

    phrases = Phrases.load()
    snapshot = open_redial_index(settings, catalogue_path, progress=progress)
    understander = Understander.from_items(snapshot.table.items)
    profiles, skipped = select_profiles(
        read_dialogues(dialogues_path, catalogue),
        catalogue,
        phrases,
        understander.vocab.titles,
        read_seeker_mentions(dialogues_path),
        n_dialogues,
    )
    if not profiles:
        raise TemplatesABError(f"{dialogues_path}: no dialogue has a target movie in the catalogue")
    return _Seekers(phrases, catalogue, snapshot, understander, profiles, skipped)


def _simulate_version(
    version: TemplateVersion,
    seekers: _Seekers,
    llm: LLM,
    settings: Settings,
    *,
    k: int,
    max_turns: int,
    understanding: Understanding,
    seed: int,
    explanations: bool,
    progress: bool,
    desc: str = "simulator",
) -> SimulationRun:
    """The user simulator's conversations with the engine built with ``version``'s templates."""
    engine = _engine(
        version,
        seekers.snapshot,
        seekers.understander,
        llm,
        settings,
        k=k,
        understanding=understanding,
        seed=seed,
        for_simulation=True,
    )
    sim = simulate_many(
        engine,
        seekers.profiles,
        seekers.catalogue,
        seekers.phrases,
        seekers.titles,
        max_turns=max_turns,
        seed=seed,
        explanations=explanations,
        progress=progress,
        desc=desc,
    )
    sim.skipped = seekers.skipped
    return sim


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
