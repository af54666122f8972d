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
from eval.redial_catalogue import RedialCatalogue
from eval.redial_dialogues import read_dialogues
from eval.redial_turns import VIEWS, RedialTurn, truth_for_turn
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


@dataclass(frozen=True)
class SimulatorSetup:
    """One simulator run: the ReDial files it reads, what it plays (the first ``n_dialogues`` seekers with a
    target, ``max_turns`` bot turns of ``k`` cards), how it is scored (``n_boot`` bootstrap resamples) and
    where it writes; the same for ``recbot eval simulate`` and for both versions of ``recbot eval
    templates``. ``understanding``: when the engine's LLM reads the seeker's messages."""

    dialogues_path: Path | str
    catalogue_path: Path | str
    n_dialogues: int = 30
    max_turns: int = 5
    k: int = 3
    seed: int = 0
    n_boot: int = 2000
    understanding: Understanding = "auto"
    explanations: bool = False
    settings: Settings | None = None
    out_dir: Path | str | None = None
    progress: bool = True
    write: bool = True


@dataclass
class VersionRun:
    """Everything measured for one template version."""

    version: TemplateVersion
    simulation: SimulationRun
    redial_units: dict[str, list[Unit]]
    redial_seconds: float
    utterances_read: int


def version_engine(
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
    """The chat's engine over ``snapshot`` with ``version``'s templates: the product's retrieval for the
    simulator (``for_simulation``), the benchmark's (MMR off, as ``recbot eval redial``) for the turns."""
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
    from eval.redial_scoring import rank_turn
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


@dataclass
class Seekers:
    """What every simulator run of a comparison shares: the index, the understander and the seekers."""

    phrases: Phrases
    catalogue: RedialCatalogue
    snapshot: Any  # retrieval.index.IndexSnapshot of the ingested ReDial catalogue
    understander: Any  # bot.understanding.Understander over that catalogue
    profiles: list[SeekerProfile]
    skipped: dict[str, int]

    @property
    def titles(self):
        return self.understander.vocab.titles

    def engine(self, version: TemplateVersion, llm: LLM, settings: Settings, **options: Any):
        """:func:`version_engine` over this index and understander (``options``: its keyword arguments)."""
        return version_engine(version, self.snapshot, self.understander, llm, settings, **options)


def _check_file(path: Path, what: str, option: str) -> None:
    if not path.is_file():
        raise TemplatesABError(f"{path}: {what} not found; pass its path with {option}")


def open_inputs(setup: SimulatorSetup, settings: Settings, *, turns_path: Path | None = None,
                turns_limit: int = 0) -> tuple[Seekers, list[RedialTurn]]:
    """Check the inputs of a simulator run (and, with ``turns_path``, of the ReDial turns scored beside it)
    — a missing file is named with the option that gives it, counts must be positive — then read the
    catalogue, the first ``turns_limit`` turns, and open (ingesting once) the ReDial index and pick the
    first ``n_dialogues`` seekers with a target. Raises :class:`TemplatesABError`."""
    from bot.understanding import Understander
    from eval.redial_catalogue import load_catalogue
    from eval.redial_setup import open_redial_index
    from eval.redial_turns import read_turns

    catalogue_path, dialogues_path = Path(setup.catalogue_path), Path(setup.dialogues_path)
    _check_file(catalogue_path, "the ReDial catalogue (id2info.json)", "--catalogue")
    _check_file(dialogues_path, "the raw ReDial dialogues", "--dialogues-file")
    if turns_path is not None:
        _check_file(turns_path, "the ReDial turns", "--turns")
    if min(setup.n_dialogues, setup.max_turns, setup.k) < 1 or turns_limit < 0:
        raise TemplatesABError("dialogues, max_turns and k must be >= 1"
                               + (", turns_limit >= 0" if turns_path is not None else ""))
    catalogue = load_catalogue(catalogue_path)
    turns = read_turns(turns_path, catalogue)[:turns_limit] if turns_path is not None else []
    phrases = Phrases.load()
    snapshot = open_redial_index(settings, catalogue_path, progress=setup.progress)
    understander = Understander.from_items(snapshot.table.items)
    profiles, skipped = select_profiles(
        read_dialogues(dialogues_path, catalogue),
        catalogue,
        phrases,
        understander.vocab.titles,
        read_seeker_mentions(dialogues_path),
        setup.n_dialogues,
    )
    if not profiles:
        raise TemplatesABError(f"{dialogues_path}: no dialogue has a target movie in the catalogue")
    return Seekers(phrases, catalogue, snapshot, understander, profiles, skipped), turns


def simulate_version(version: TemplateVersion, seekers: Seekers, llm: LLM, settings: Settings,
                     setup: SimulatorSetup, desc: str = "simulator") -> SimulationRun:
    """The user simulator's conversations with the engine built with ``version``'s templates."""
    engine = seekers.engine(version, llm, settings, k=setup.k, understanding=setup.understanding, seed=setup.seed,
                            for_simulation=True)
    sim = simulate_many(
        engine,
        seekers.profiles,
        seekers.catalogue,
        seekers.phrases,
        seekers.titles,
        max_turns=setup.max_turns,
        seed=setup.seed,
        explanations=setup.explanations,
        progress=setup.progress,
        desc=desc,
    )
    sim.skipped = seekers.skipped
    return sim


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """``payload`` as indented UTF-8 JSON (the result files of both commands)."""
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
