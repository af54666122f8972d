"""Report writer: every file is written, the PNG is real, the tables carry the numbers."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from eval.metrics import REPORT_METRICS, mean_item_scores, recall_curve, redial_item_scores
from eval.report import PUBLISHED, RunInfo, format_table, print_table, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _system(ranked: list[str], truths: list[list[str]]) -> tuple[dict[str, float], dict[int, float]]:
    """Score a fixed ranking over a few turns with the real metric code: (table row, recall curve)."""
    per_item = [s for truth in truths for s in redial_item_scores(ranked, truth)]
    ranks = [ranked.index(i) + 1 if i in ranked else None for truth in truths for i in truth]
    scores = mean_item_scores(per_item)
    scores["pairs"] = float(len(per_item))
    return scores, recall_curve(ranks, max_k=50)


@pytest.fixture(scope="module")
def inputs() -> tuple[dict, dict, RunInfo]:
    catalogue = [f"m{i}" for i in range(100)]
    truths_all = [["m0"], ["m3", "m40"], ["m7"], ["m99"], ["m20", "m2"]]
    truths_new = [["m0"], ["m40"], ["m7"], ["m20"]]
    good = catalogue  # m0 first
    other = list(reversed(catalogue))  # m99 first
    results: dict = {}
    curves: dict = {}
    for name, ranked in (("dense", good), ("popularity (in-sample)", other)):
        results[name], curves[name] = {}, {}
        for view, truths in (("all", truths_all), ("new-only", truths_new)):
            results[name][view], curves[name][view] = _system(ranked, truths)
    run = RunInfo(
        turns=5,
        turns_per_second=12.5,
        minutes=0.01,
        files={"turns": "/data/redial/valid_turns.jsonl", "catalogue": "/data/redial/id2info.json"},
        date="2026-01-02T03:04:05+00:00",
        notes=["hand-made rankings for the report test"],
    )
    return results, curves, run


def test_write_report_writes_every_file(tmp_path: Path, inputs) -> None:
    results, curves, run = inputs
    files = write_report(tmp_path / "out", results, curves, run)
    for path in (files.result_json, files.report_md, files.report_html, files.plot_png):
        assert path.is_file() and path.stat().st_size > 0, path

    png = files.plot_png.read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 20_000  # a real plot, not an empty canvas
    with Image.open(io.BytesIO(png)) as img:
        img.load()
        width, height = img.size
        assert img.format == "PNG" and width > 2 * height  # two panels side by side
        assert len(img.getcolors(maxcolors=1 << 20) or []) > 20  # lines, text and grid, not a flat image

    html_text = files.report_html.read_text(encoding="utf-8")
    assert base64.b64encode(png).decode("ascii") in html_text  # the same plot, embedded
    assert "<table>" in html_text and "dense" in html_text and "published, ReDial test split" in html_text


def test_markdown_contains_the_numbers(tmp_path: Path, inputs) -> None:
    results, curves, run = inputs
    md = write_report(tmp_path, results, curves, run).report_md.read_text(encoding="utf-8")
    sections = {part.split("\n", 1)[0]: part for part in md.split("## View: ")[1:]}
    assert set(sections) == {"all", "new-only"}
    for system, per_view in results.items():
        for view, metrics in per_view.items():
            row = next(line for line in sections[view].splitlines() if line.startswith(f"| {system} |"))
            cells = [c.strip() for c in row.strip("|").split("|")]
            expected = [f"{metrics[m]:.3f}" if m in metrics else "—" for m in REPORT_METRICS]
            assert cells == [system, *expected], (system, view)
    # dense ranks m0 first: all view R@1 = 1 hit / 7 pairs; new-only R@1 = 1 / 4
    assert results["dense"]["all"]["R@1"] == pytest.approx(1 / 7)
    assert "| dense | 0.143 |" in md and "| dense | 0.250 |" in md
    # published rows are labelled and sit in the right view's table
    assert "| KBRD (published, ReDial test split) | 0.028 | 0.169 | 0.366 | — | — |" in md
    assert "| GPT-4 zero-shot (published, ReDial test split) | 0.050 | 0.201 | — | — | — |" in md
    assert "R@20 (0.267)" in md and "**test** split" in md
    assert "turns/s: 12.50" in md and "/data/redial/valid_turns.jsonl" in md and "2026-01-02" in md
    assert "![Recall@k](recall_at_k.png)" in md


def test_result_json_round_trips(tmp_path: Path, inputs) -> None:
    results, curves, run = inputs
    data = json.loads(write_report(tmp_path, results, curves, run).result_json.read_text(encoding="utf-8"))
    assert data["results"] == results
    assert data["recall_curves"]["dense"]["all"]["50"] == pytest.approx(curves["dense"]["all"][50])
    assert len(data["recall_curves"]["dense"]["new-only"]) == 50
    assert data["run"]["turns"] == 5 and data["run"]["files"]["turns"].endswith("valid_turns.jsonl")
    assert {r["system"] for r in data["published_reference"]} == {r.system for r in PUBLISHED}
    assert all(r["split"] == "ReDial test" for r in data["published_reference"])


def test_print_and_format_table(inputs) -> None:
    results, _, _ = inputs
    buf = io.StringIO()
    print_table(results, file=buf)
    text = buf.getvalue()
    assert "[all]" in text and "[new-only]" in text
    dense_lines = [line for line in text.splitlines() if line.startswith("dense")]
    assert len(dense_lines) == 2 and f"{results['dense']['all']['MRR']:.3f}" in dense_lines[0]
    table = format_table(results)
    assert "View: all" in table and "| popularity (in-sample) |" in table
    assert "KBRD" not in table and "KBRD" in format_table(results, published=True)
