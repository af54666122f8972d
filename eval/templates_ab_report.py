"""The A/B result (:class:`ABResult`) as tables, a printed summary and ``report.md`` + ``result.json``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eval.ab_stats import Comparison, comparison_cells, comparison_header, markdown_table, text_table
from eval.simulator import SeekerProfile, write_conversations
from eval.template_versions import ENGINE_TEMPLATES
from eval.version_runs import VersionRun, write_json


@dataclass
class ABResult:
    a: VersionRun
    b: VersionRun
    simulator: list[Comparison]
    redial: list[Comparison]
    info: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)


def _notes(result: ABResult) -> list[str]:
    i = result.info
    differ = i["templates_that_differ"]
    same = "none (A and B are the same)"
    notes = [f"templates that differ between A and B: {', '.join(differ) if differ else same}"]
    if differ and "understand" not in differ:
        notes.append(
            "`understand` is the same in A and B: the ReDial-turn metrics cannot differ (the LLM's "
            "answers to identical requests are replayed), only the simulator can"
        )
    if differ and set(differ) <= {"recommend_item", "recommend", "answer", "chitchat"}:
        notes.append("only explanation/answer templates differ: they never change the cards")
    notes += [
        (
            f"LLM {i['llm']}; {i['llm_calls']} calls, {i['llm_calls_replayed']} replayed from identical "
            "earlier requests"
        ),
        (
            f"simulator: {i['dialogues']} ReDial seekers with a target "
            f"({i['dialogues_skipped'] or 'none skipped'}), {i['max_turns']} bot turns each, "
            f"{i['k']} cards a turn, understanding '{i['simulator_understanding']}', explanations "
            f"{'generated' if i['explanations'] else 'skipped (they do not change the cards)'}; "
            "CIs resample dialogues"
        ),
        (
            f"ReDial turns: the first {i['turns_scored']} recommender turns with rec items, `recbot` with "
            "every seeker utterance read by the LLM (the version's `understand`); CIs resample turns"
        ),
        f"paired percentile bootstrap, {i['bootstrap_resamples']} resamples, seed {i['seed']}",
        f"minutes: {i['minutes']:.1f} in all (setup {i['setup_seconds']:.0f} s; "
        + "; ".join(
            f"{s}: simulator {v['simulator']:.0f} s, ReDial turns {v['redial_turns']:.0f} s"
            for s, v in i["seconds"].items()
        )
        + ")",
    ]
    return notes


def tables(result: ABResult, fmt: Literal["text", "markdown"] = "text") -> str:
    render = text_table if fmt == "text" else markdown_table
    a, b = result.info["A"], result.info["B"]
    parts = []
    for title, rows, unit in (
        ("User simulator", result.simulator, "dialogues"),
        ("ReDial turns (LLM understanding)", result.redial, "turns"),
    ):
        body = render(comparison_header(a, b, unit), [comparison_cells(c) for c in rows])
        parts.append(f"## {title}\n\n{body}" if fmt == "markdown" else f"[{title}]\n{body}")
    return "\n\n".join(parts)


def print_result(result: ABResult) -> None:
    print(tables(result, "text"))
    print()
    for note in _notes(result):
        print(f"- {note}")
    if result.files:
        print(f"report: {Path(result.files['report_md']).parent}")


def write_report(
    out_dir: str | Path, result: ABResult, profiles: Sequence[SeekerProfile], turn_keys: Sequence[str]
) -> dict[str, str]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ua = result.a.simulation.units(result.info["k"], result.info["max_turns"])
    ub = result.b.simulation.units(result.info["k"], result.info["max_turns"])
    payload = {
        "run": result.info,
        "simulator": [c.to_dict() for c in result.simulator],
        "redial_turns": [c.to_dict() for c in result.redial],
        "units": {
            "simulator": {
                "ids": [p.dialog_id for p in profiles],
                "metrics": {m: {"A": ua[m], "B": ub[m]} for m in ua},
            },
            "redial_turns": {
                "ids": list(turn_keys),
                "metrics": {
                    m: {"A": result.a.redial_units[m], "B": result.b.redial_units[m]}
                    for m in result.a.redial_units
                },
            },
        },
        "note": "each unit is [numerator, denominator]; a metric is sum(numerators) / sum(denominators)",
    }
    files = {
        "result_json": out / "result.json",
        "report_md": out / "report.md",
        "conversations_a": out / "conversations_A.jsonl",
        "conversations_b": out / "conversations_B.jsonl",
    }
    write_json(files["result_json"], payload)
    write_conversations(files["conversations_a"], result.a.simulation.conversations)
    write_conversations(files["conversations_b"], result.b.simulation.conversations)
    i = result.info
    md = [
        f"# Prompt templates A/B: {i['A']} vs {i['B']}",
        "",
        (
            f"A = `{i['A']}`, B = `{i['B']}`. Each row: the metric for A and B, B − A and its 95% paired "
            "bootstrap interval (an interval that contains 0 means no detectable difference)."
        ),
        "",
        tables(result, "markdown"),
        "",
        "## Notes",
        "",
    ]
    md += [f"- {n}" for n in _notes(result)]
    md += [
        "",
        "## Templates",
        "",
        markdown_table(
            ["template", "A", "B"],
            [
                [n, i["template_fingerprints"]["A"][n], i["template_fingerprints"]["B"][n]]
                for n in ENGINE_TEMPLATES
            ],
        ),
    ]
    md += [
        "",
        "## Simulator runs",
        "",
        markdown_table(
            ["", "A", "B"],
            [
                [name, f"{i['simulator_stats']['A'][name]:.2f}", f"{i['simulator_stats']['B'][name]:.2f}"]
                for name in i["simulator_stats"]["A"]
            ],
        ),
    ]
    md += [
        "",
        f"Data: {i['files']['dialogues']}, {i['files']['turns']}, {i['files']['catalogue']}.",
        f"Date {i['date']}.",
        "",
    ]
    files["report_md"].write_text("\n".join(md), encoding="utf-8")
    return {name: str(path) for name, path in files.items()}
