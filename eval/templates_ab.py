"""A/B of two prompt-template versions: the user simulator and the ReDial turns, side by side.

    recbot eval templates default customer_service
    recbot eval templates default ./my_prompts/default_edited --dialogues 10 --turns-limit 20

A *template version* is a prompt set name (``default``, ``customer_service``, or a set saved by the
prompt lab under ``<data_dir>/prompts``) or a directory of template files (``NAME.yaml``, optionally a
``_set.yaml`` with ``extends``); a directory inherits what it does not define from ``default``. It is
copied when the run starts, so editing it during a run changes nothing.

For each version the same work is done with the same seeds:

1. the user simulator (:mod:`eval.simulator`) plays the first ``dialogues`` ReDial seekers that have a
   target, ``max_turns`` bot turns each, against the real engine built with that version's templates;
2. the first ``turns_limit`` ReDial recommender turns are scored as ``recbot`` in
   :mod:`eval.redial_runner` scores them with ``--llm`` (every seeker utterance read by the engine's
   LLM understanding, i.e. the version's ``understand`` template), in both views.

Then every metric is compared: A, B, B − A and a 95% paired bootstrap interval of B − A, resampling
dialogues (simulator) or turns (ReDial) — see :mod:`eval.ab_stats`. ``result.json`` keeps the
per-unit numbers, ``report.md`` the tables, ``conversations_A.jsonl`` / ``_B`` the transcripts.

Where the templates act: ``understand`` changes what the engine understands (every ReDial-turn
utterance; simulator messages only when the rules found nothing, or always with
``understanding="always"``); ``system`` + ``elicit`` word the questions the simulated seeker reads;
``recommend_item`` / ``recommend`` only word explanations, which never change the cards (they are
skipped unless asked for). The report lists which templates differ between A and B.

LLM calls are made with ``cache_prompt=False`` (reproducible llama.cpp output) and an identical request
— same messages and generation settings, deterministic decoding — is answered from memory the second
time (:class:`ReplayLLM`): templates that A and B share cost once, and their outputs are identical by
construction, so differences come from the templates alone.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.llm.base import LLM
from bot.settings import get_settings
from eval.ab_stats import paired_bootstrap
from eval.replay_llm import ReplayLLM, evaluation_llm
from eval.simulate_templates import SimulateResult, simulate, simulate_table
from eval.simulator import default_out_dir as simulator_out_dir
from eval.template_versions import (
    ENGINE_TEMPLATES,
    TemplatesABError,
    TemplateVersion,
    differing_templates,
    resolve_version,
)
from eval.templates_ab_report import ABResult, print_result, tables, write_report
from eval.version_runs import SimulatorSetup, VersionRun, open_inputs, redial_turn_units, simulate_version


def default_out_dir() -> Path:
    return simulator_out_dir("templates")


def run(a_spec: str, b_spec: str, setup: SimulatorSetup, *, turns_path: str | Path, turns_limit: int = 40,
        replay: bool = True) -> ABResult:
    """Run both versions on the same dialogues (``setup``) and the first ``turns_limit`` ReDial turns of
    ``turns_path``, and compare them (see the module docs); ``replay``: answer a repeated LLM request from
    memory."""
    from bot import services

    t_start = time.perf_counter()
    settings = setup.settings or get_settings()
    seekers, turns = open_inputs(setup, settings, turns_path=Path(turns_path), turns_limit=turns_limit)
    catalogue = seekers.catalogue
    k, max_turns, seed, n_boot = setup.k, setup.max_turns, setup.seed, setup.n_boot
    setup_s = time.perf_counter() - t_start

    base_llm = evaluation_llm(settings)
    llm: LLM = ReplayLLM(base_llm) if replay else base_llm
    with tempfile.TemporaryDirectory(prefix="recbot-ab-") as tmp:
        library = services.prompt_library(settings)
        versions = [
            resolve_version(a_spec, library, Path(tmp), "a"),
            resolve_version(b_spec, library, Path(tmp), "b"),
        ]
        runs: list[VersionRun] = []
        for slot, version in zip("AB", versions, strict=True):
            sim = simulate_version(version, seekers, llm, settings, setup, desc=f"{slot} simulator")
            t0 = time.perf_counter()
            turn_engine = seekers.engine(version, llm, settings, k=k, understanding="always", seed=seed,
                                         for_simulation=False)
            units, read = redial_turn_units(
                turn_engine,
                seekers.understander,
                turns,
                catalogue,
                progress=setup.progress,
                desc=f"{slot} redial turns",
            )
            runs.append(VersionRun(version, sim, units, time.perf_counter() - t0, read))
        differ = differing_templates(*versions)
        fingerprints = {"A": versions[0].fingerprint(), "B": versions[1].fingerprint()}

    ra, rb = runs
    ua, ub = ra.simulation.units(k, max_turns), rb.simulation.units(k, max_turns)
    simulator = [paired_bootstrap(m, ua[m], ub[m], n_boot=n_boot, seed=seed) for m in ua]
    redial = [
        paired_bootstrap(m, ra.redial_units[m], rb.redial_units[m], n_boot=n_boot, seed=seed)
        for m in ra.redial_units
    ]
    minutes = (time.perf_counter() - t_start) / 60
    info = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "A": a_spec,
        "B": b_spec,
        "templates_that_differ": differ,
        "template_fingerprints": fingerprints,
        "llm": f"{settings.llm.backend}:{settings.llm.model}",
        "llm_calls": getattr(llm, "calls", None),
        "llm_calls_replayed": getattr(llm, "replayed", None),
        "dialogues": len(seekers.profiles),
        "dialogues_skipped": seekers.skipped,
        "max_turns": max_turns,
        "k": k,
        "turns_scored": len(turns),
        "seed": seed,
        "bootstrap_resamples": n_boot,
        "simulator_understanding": setup.understanding,
        "explanations": setup.explanations,
        "minutes": round(minutes, 2),
        "setup_seconds": round(setup_s, 1),
        "seconds": {
            slot: {"simulator": round(r.simulation.seconds, 1), "redial_turns": round(r.redial_seconds, 1)}
            for slot, r in zip("AB", runs, strict=True)
        },
        "simulator_stats": {slot: r.simulation.stats() for slot, r in zip("AB", runs, strict=True)},
        "redial_utterances_read": {slot: r.utterances_read for slot, r in zip("AB", runs, strict=True)},
        "files": {
            "dialogues": str(setup.dialogues_path),
            "turns": str(turns_path),
            "catalogue": str(setup.catalogue_path),
        },
    }
    result = ABResult(ra, rb, simulator, redial, info)
    if setup.write:
        result.files = write_report(
            setup.out_dir or default_out_dir(), result, seekers.profiles, [t.key for t in turns]
        )
    return result


__all__ = [
    "ENGINE_TEMPLATES",
    "ABResult",
    "ReplayLLM",
    "SimulateResult",
    "SimulatorSetup",
    "TemplateVersion",
    "TemplatesABError",
    "VersionRun",
    "default_out_dir",
    "differing_templates",
    "evaluation_llm",
    "print_result",
    "redial_turn_units",
    "resolve_version",
    "run",
    "simulate",
    "simulate_table",
    "tables",
    "write_report",
]
