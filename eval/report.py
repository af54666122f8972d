"""Benchmark reports: ``result.json``, ``report.md``, ``report.html`` and ``recall_at_k.png``.

Input shapes (what the ReDial runner produces):

- ``results``: ``{system: {view: {metric: value}}}`` with the metric names of
  :data:`eval.metrics.REPORT_METRICS` (``R@1``, ``R@10``, ``R@50``, ``NDCG@10``, ``MRR`` per (turn, rec item)
  pair; ``P@10`` and ``MAP@50`` per turn; ``Cov@10``, the catalogue share some top 10 holds); extra metrics
  (e.g. ``pairs``, the number of (turn, rec item) pairs) are kept in ``result.json`` only.
- ``curves``: ``{system: {view: {k: recall}}}`` for ``k = 1..50`` (keys may be ints or strings).
- ``run``: a :class:`RunInfo` (turns scored, speed, duration, input files, date).

The published reference rows from ``../shared/DESIGN.md`` are added to the tables, labelled as
measured on the ReDial *test* split by their authors: they are context, not a like-for-like comparison
with numbers measured here on another split.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from eval.metrics import REPORT_METRICS
from eval.redial_turns import VIEWS

log = logging.getLogger(__name__)

Results = Mapping[str, Mapping[str, Mapping[str, float]]]
Curves = Mapping[str, Mapping[str, Mapping[int | str, float]]]

PROTOCOL_NOTE = (
    "Each rec item of each recommender turn is scored separately against the system's ranking over the "
    "whole catalogue: Recall@k = hits / rec items over all (turn, rec item) pairs; NDCG@10 and MRR per "
    "pair, averaged the same way. View 'all' keeps every rec item; 'new-only' drops rec items already "
    "mentioned in the context from the truth and excludes context items from the ranking."
)


@dataclass(frozen=True)
class PublishedRow:
    """A number reported elsewhere, on the ReDial test split; ``None`` where not reported."""

    system: str
    view: str
    metrics: Mapping[str, float]
    note: str = ""


# From ../shared/DESIGN.md ("Evaluation protocol"): published on the ReDial *test* split.
PUBLISHED: tuple[PublishedRow, ...] = (
    PublishedRow("KBRD", "all", {"R@1": 0.028, "R@10": 0.169, "R@50": 0.366}),
    PublishedRow("UniCRS", "all", {"R@1": 0.050, "R@10": 0.215, "R@50": 0.413}),
    PublishedRow("ChatGPT", "all", {"R@1": 0.037, "R@10": 0.130, "R@50": 0.218}),
    PublishedRow(
        "GPT-4 zero-shot",
        "new-only",
        {"R@1": 0.050, "R@10": 0.201, "R@20": 0.267},
        note="new-only style protocol; reports R@20 (0.267), not R@50",
    ),
)


@dataclass
class RunInfo:
    """What was run: turns scored, throughput, duration, input files and when."""

    turns: int
    turns_per_second: float
    minutes: float
    files: dict[str, str] = field(default_factory=dict)
    date: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReportFiles:
    """Paths of the files :func:`write_report` wrote."""

    result_json: Path
    report_md: Path
    report_html: Path
    plot_png: Path


# --------------------------------------------------------------------------------------------------
# tables


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _views(*sources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The views present in ``sources``: the known ones in canonical order, then others as first seen."""
    present = dict.fromkeys(v for src in sources for per_view in src.values() for v in per_view)
    return [v for v in VIEWS if v in present] + [v for v in present if v not in VIEWS]


def _table_rows(
    results: Results, view: str, metrics: Sequence[str], published: bool
) -> tuple[list[str], list[list[str]]]:
    header = ["System", *metrics]
    rows = [
        [system, *(_fmt(per_view[view].get(m)) for m in metrics)]
        for system, per_view in results.items()
        if view in per_view
    ]
    if published:
        for row in PUBLISHED:
            if row.view == view:
                label = f"{row.system} (published, ReDial test split)"
                rows.append([label, *(_fmt(row.metrics.get(m)) for m in metrics)])
    return header, rows


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def format_table(
    results: Results, metrics: Sequence[str] = REPORT_METRICS, *, published: bool = False
) -> str:
    """One Markdown table per view: a row per system, a column per metric (3 decimals)."""
    parts = []
    for view in _views(results):
        header, rows = _table_rows(results, view, metrics, published)
        parts.append(f"View: {view}\n\n{_markdown_table(header, rows)}")
    return "\n\n".join(parts)


def print_table(results: Results, metrics: Sequence[str] = REPORT_METRICS, file: TextIO | None = None) -> None:
    """Print the results as aligned plain-text tables, one per view (for the console)."""
    out = file or sys.stdout
    for view in _views(results):
        header, rows = _table_rows(results, view, metrics, published=False)
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        print(f"[{view}]", file=out)
        for cells in [header, *rows]:
            first = cells[0].ljust(widths[0])
            rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
            print("  ".join([first, *rest]), file=out)
        print(file=out)


# --------------------------------------------------------------------------------------------------
# plot


def _normalise_curves(curves: Curves) -> dict[str, dict[str, dict[int, float]]]:
    return {
        system: {view: {int(k): float(v) for k, v in curve.items()} for view, curve in per_view.items()}
        for system, per_view in curves.items()
    }


def plot_recall_curves(curves: Curves, path: str | Path, max_k: int = 50) -> Path:
    """Recall@k for k = 1..``max_k``: one panel per view, one line per system; saved as PNG.

    Uses matplotlib's object API with the Agg canvas (no pyplot global state, no display needed).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    norm = _normalise_curves(curves)
    views = _views(norm) or list(VIEWS)
    fig = Figure(figsize=(5.5 * len(views), 4.2), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(views), squeeze=False)[0]
    for ax, view in zip(axes, views, strict=True):
        for system, per_view in norm.items():
            curve = per_view.get(view)
            if not curve:
                continue
            ks = sorted(k for k in curve if 1 <= k <= max_k)
            ax.plot(ks, [curve[k] for k in ks], label=system, linewidth=1.6)
        ax.set_title(f"view: {view}")
        ax.set_xlabel("k")
        ax.set_ylabel("Recall@k")
        ax.set_xlim(1, max_k)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper left")
    fig.savefig(path, format="png")
    return path


# --------------------------------------------------------------------------------------------------
# files


def _run_lines(run: RunInfo) -> list[tuple[str, str]]:
    lines = [
        ("date", run.date),
        ("turns", str(run.turns)),
        ("turns/s", f"{run.turns_per_second:.2f}"),
        ("minutes", f"{run.minutes:.2f}"),
    ]
    lines += [(f"file: {name}", value) for name, value in run.files.items()]
    lines += [("note", note) for note in run.notes]
    return lines


def _published_footnote() -> str:
    parts = [f"{r.system}: {r.note}" for r in PUBLISHED if r.note]
    return (
        "Rows marked *published* were reported on the ReDial **test** split (as listed in DESIGN.md); "
        "the rows above them are measured here on the split named in the run info, so they are context, "
        "not a like-for-like comparison." + (" " + "; ".join(parts) + "." if parts else "")
    )


def _markdown(results: Results, run: RunInfo, plot_name: str) -> str:
    out = ["# ReDial recommendation benchmark", "", PROTOCOL_NOTE, ""]
    for view in _views(results):
        header, rows = _table_rows(results, view, REPORT_METRICS, published=True)
        out += [f"## View: {view}", "", _markdown_table(header, rows), ""]
    out += [_published_footnote(), "", f"![Recall@k]({plot_name})", "", "## Run", ""]
    out += [f"- {name}: {value}" for name, value in _run_lines(run)]
    return "\n".join(out) + "\n"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr"
        + (' class="published"' if "(published" in cells[0] else "")
        + ">"
        + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        + "</tr>"
        for cells in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(results: Results, run: RunInfo, png: bytes) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>ReDial benchmark</title>",
        ("<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}"
         "td+td,th+th{text-align:right}tr.published td{color:#666;font-style:italic}</style></head><body>"),
        "<h1>ReDial recommendation benchmark</h1>",
        f"<p>{html.escape(PROTOCOL_NOTE)}</p>",
    ]
    for view in _views(results):
        header, rows = _table_rows(results, view, REPORT_METRICS, published=True)
        parts += [f"<h2>View: {html.escape(view)}</h2>", _html_table(header, rows)]
    footnote = html.escape(_published_footnote()).replace("*published*", "<em>published</em>")
    parts.append(f"<p>{footnote.replace('**test**', '<strong>test</strong>')}</p>")
    b64 = base64.b64encode(png).decode("ascii")
    parts.append(f'<img alt="Recall@k" src="data:image/png;base64,{b64}">')
    parts.append("<h2>Run</h2><ul>")
    parts += [f"<li>{html.escape(n)}: {html.escape(v)}</li>" for n, v in _run_lines(run)]
    parts.append("</ul></body></html>")
    return "\n".join(parts) + "\n"


def write_report(out_dir: str | Path, results: Results, curves: Curves, run: RunInfo) -> ReportFiles:
    """Write ``result.json``, ``report.md``, ``report.html`` and ``recall_at_k.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        result_json=out / "result.json",
        report_md=out / "report.md",
        report_html=out / "report.html",
        plot_png=out / "recall_at_k.png",
    )
    norm_curves = _normalise_curves(curves)
    payload = {
        "results": {s: {v: dict(m) for v, m in pv.items()} for s, pv in results.items()},
        "recall_curves": {
            s: {v: {str(k): r for k, r in c.items()} for v, c in pv.items()} for s, pv in norm_curves.items()
        },
        "run": run.to_dict(),
        "protocol": PROTOCOL_NOTE,
        "published_reference": [
            {
                "system": r.system,
                "view": r.view,
                "split": "ReDial test",
                "metrics": dict(r.metrics),
                "note": r.note,
            }
            for r in PUBLISHED
        ],
    }
    files.result_json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plot_recall_curves(norm_curves, files.plot_png)
    files.report_md.write_text(_markdown(results, run, files.plot_png.name), encoding="utf-8")
    files.report_html.write_text(_html(results, run, files.plot_png.read_bytes()), encoding="utf-8")
    log.info("report written to %s", out)
    return files


__all__ = [
    "PROTOCOL_NOTE",
    "PUBLISHED",
    "PublishedRow",
    "ReportFiles",
    "RunInfo",
    "format_table",
    "plot_recall_curves",
    "print_table",
    "write_report",
]
