"""``recbot eval simulate``: the user simulator against the engine built with one template version,
scored with bootstrap intervals (:func:`simulate`, :func:`simulate_table`).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bot.settings import get_settings
from eval.ab_stats import bootstrap_interval, markdown_table, text_table
from eval.replay_llm import evaluation_llm
from eval.simulator import SimulationRun, write_conversations
from eval.simulator import default_out_dir as simulator_out_dir
from eval.template_versions import resolve_version
from eval.version_runs import SimulatorSetup, open_inputs, simulate_version, write_json


@dataclass
class SimulateResult:
    run: SimulationRun
    rows: list[tuple[str, float | None, float | None, float | None, int]]  # metric, value, low, high, units
    info: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)


def simulate(version_spec: str, setup: SimulatorSetup) -> SimulateResult:
    """The user simulator alone, with one template version; metrics with bootstrap intervals."""
    from bot import services

    t_start = time.perf_counter()
    settings = setup.settings or get_settings()
    seekers, _ = open_inputs(setup, settings)
    k, max_turns, seed = setup.k, setup.max_turns, setup.seed
    with tempfile.TemporaryDirectory(prefix="recbot-sim-") as tmp:
        version = resolve_version(version_spec, services.prompt_library(settings), Path(tmp), "a")
        sim = simulate_version(version, seekers, evaluation_llm(settings), settings, setup)
        fingerprint = version.fingerprint()
    units = sim.units(k, max_turns)
    rows = []
    for metric, us in units.items():
        value, low, high = bootstrap_interval(us, n_boot=setup.n_boot, seed=seed)
        rows.append((metric, value, low, high, sum(1 for _, d in us if d > 0)))
    info = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "templates": version_spec,
        "template_fingerprint": fingerprint,
        "llm": f"{settings.llm.backend}:{settings.llm.model}",
        "dialogues": len(seekers.profiles),
        "dialogues_skipped": seekers.skipped,
        "max_turns": max_turns,
        "k": k,
        "seed": seed,
        "bootstrap_resamples": setup.n_boot,
        "understanding": setup.understanding,
        "explanations": setup.explanations,
        "minutes": round((time.perf_counter() - t_start) / 60, 2),
        "stats": sim.stats(),
        "files": {"dialogues": str(setup.dialogues_path), "catalogue": str(setup.catalogue_path)},
    }
    result = SimulateResult(sim, rows, info)
    if setup.write:
        out = Path(setup.out_dir or simulator_out_dir("simulate"))
        out.mkdir(parents=True, exist_ok=True)
        files = {
            "result_json": out / "result.json",
            "report_md": out / "report.md",
            "conversations": out / "conversations.jsonl",
        }
        payload = {
            "run": info,
            "metrics": [
                dict(zip(("metric", "value", "ci_low", "ci_high", "units"), r, strict=True)) for r in rows
            ],
            "units": {"ids": [p.dialog_id for p in seekers.profiles], "metrics": units},
        }
        write_json(files["result_json"], payload)
        write_conversations(files["conversations"], sim.conversations)
        md = [
            f"# User simulator: templates {version_spec}",
            "",
            simulate_table(result, "markdown"),
            "",
            "## Run",
            "",
        ]
        md += [
            f"- {name}: {value}"
            for name, value in info.items()
            if name not in ("template_fingerprint", "stats")
        ]
        md += [f"- {name}: {value:.2f}" for name, value in info["stats"].items()]
        files["report_md"].write_text("\n".join(md) + "\n", encoding="utf-8")
        result.files = {name: str(path) for name, path in files.items()}
    return result


def simulate_table(result: SimulateResult, fmt: Literal["text", "markdown"] = "text") -> str:
    def num(x: float | None) -> str:
        return "—" if x is None else f"{x:.3f}"

    header = ["metric", "value", "95% CI", "dialogues"]
    rows = [
        [m, num(v), "—" if lo is None else f"[{num(lo)}, {num(hi)}]", str(n)]
        for m, v, lo, hi, n in result.rows
    ]
    return (text_table if fmt == "text" else markdown_table)(header, rows)
