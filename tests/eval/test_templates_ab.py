"""`recbot eval templates A B`: the paired bootstrap against hand computations, template versions, the
LLM replay, and whole runs on the small real ReDial setup with SmolLM2."""

from __future__ import annotations

import json
import threading

import pytest

from bot.faces.cli import build_parser, main
from eval.ab_stats import bootstrap_interval, comparison_cells, paired_bootstrap
from tests.eval.support import assert_help_lists, main_on_small_redial

# -- the statistics, by hand -----------------------------------------------------------------------


def test_point_estimates_are_ratios_of_sums():
    # A: turn 1 has 2 hits of 4 rec items, turn 2 none of 1 -> 2/5; B: 3/4 and 1/1 -> 4/5
    c = paired_bootstrap("R@10", [(2, 4), (0, 1)], [(3, 4), (1, 1)], n_boot=500, seed=1)
    assert c.a == pytest.approx(0.4) and c.b == pytest.approx(0.8) and c.diff == pytest.approx(0.4)
    # the resamples: {1,1} -> 6/8 - 4/8 = .25 (p 1/4), {1,2} -> .4 (p 1/2), {2,2} -> 1 - 0 = 1 (p 1/4);
    # with 500 draws both tails hold far more than 2.5% of them, so the interval is exactly [.25, 1]
    assert (c.ci_low, c.ci_high) == (pytest.approx(0.25), pytest.approx(1.0))
    assert c.units == 2 and c.resamples == 500


def test_a_constant_per_unit_difference_has_a_zero_width_interval():
    a = [(0.2, 1), (0.5, 1), (0.9, 1), (0.0, 1)]
    b = [(0.3, 1), (0.6, 1), (1.0, 1), (0.1, 1)]
    c = paired_bootstrap("m", a, b, n_boot=300, seed=3)
    assert c.diff == pytest.approx(0.1)
    assert c.ci_low == pytest.approx(0.1) and c.ci_high == pytest.approx(0.1)


def test_two_units_differing_by_zero_and_one():
    # resampled mean differences are 0, .5 or 1 with probabilities 1/4, 1/2, 1/4 -> [0, 1]
    c = paired_bootstrap("success", [(0, 1), (0, 1)], [(0, 1), (1, 1)], n_boot=2000, seed=0)
    assert c.diff == pytest.approx(0.5) and (c.ci_low, c.ci_high) == (0.0, 1.0)


def test_a_against_itself_is_zero_with_a_zero_interval():
    units = [(1, 1), (0, 1), (3, 1), (0, 0), (2, 1)]
    c = paired_bootstrap("turns to success", units, units, n_boot=1000, seed=5)
    assert c.diff == 0.0 and c.ci_low == 0.0 and c.ci_high == 0.0
    assert c.units == 4  # the unit with no denominator (no success) does not count


def test_the_bootstrap_is_seeded_and_keeps_the_pairing():
    import numpy as np

    rng = np.random.default_rng(42)
    a = [(float(x), 1.0) for x in rng.integers(0, 2, 40)]
    b = [(float(x), 1.0) for x in rng.integers(0, 2, 40)]
    one, two = paired_bootstrap("m", a, b, seed=7), paired_bootstrap("m", a, b, seed=7)
    assert (one.ci_low, one.ci_high) == (two.ci_low, two.ci_high)
    assert paired_bootstrap("m", a, b, seed=8) != one  # another seed, other resamples
    # pairing: B = A shifted by one unit's worth on every unit -> no resampling noise at all
    shifted = [(x + 1.0, 1.0) for x, _ in a]
    c = paired_bootstrap("m", a, shifted, seed=7)
    assert c.ci_low == pytest.approx(1.0) and c.ci_high == pytest.approx(1.0)


def test_undefined_metrics_and_mismatched_units():
    c = paired_bootstrap("turns to success", [(0, 0), (0, 0)], [(2, 1), (0, 0)])
    assert c.a is None and c.diff is None and c.ci_low is None
    assert comparison_cells(c)[1] == "—" and comparison_cells(c)[4] == "—"
    with pytest.raises(ValueError, match="same units"):
        paired_bootstrap("m", [(1, 1)], [(1, 1), (0, 1)])


def test_a_single_versions_interval():
    value, low, high = bootstrap_interval([(1, 1), (0, 1)], n_boot=2000, seed=0)
    assert value == pytest.approx(0.5) and (low, high) == (0.0, 1.0)


def test_table_cells_are_signed_with_three_decimals():
    c = paired_bootstrap("R@10 (all)", [(2, 4), (0, 1)], [(3, 4), (1, 1)], n_boot=500, seed=1)
    assert comparison_cells(c) == ["R@10 (all)", "0.400", "0.800", "+0.400", "[+0.250, +1.000]", "2"]


# -- the CLI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["eval", "templates", "--help"],
            [
                "A",
                "B",
                "--dialogues",
                "--max-turns",
                "--turns-limit",
                "--k",
                "--seed",
                "--bootstrap",
                "--understanding",
                "--explanations",
                "--model",
                "--out",
                "--no-replay",
                "customer_service",
            ],
        ),
        (
            ["eval", "simulate", "--help"],
            [
                "--templates",
                "--dialogues",
                "--max-turns",
                "--k",
                "--seed",
                "--dialogues-file",
                "--catalogue",
                "--out",
            ],
        ),
        (["eval", "--help"], ["redial", "templates", "simulate"]),
    ],
)
def test_cli_help_lists_the_options(capsys, argv, expected):
    assert_help_lists(capsys, argv, expected)


def test_cli_defaults():
    args = build_parser().parse_args(["eval", "templates", "default", "customer_service"])
    assert (args.a, args.b, args.dialogues, args.max_turns, args.turns_limit, args.k) == (
        "default",
        "customer_service",
        30,
        5,
        40,
        3,
    )
    assert args.understanding == "auto" and not args.explanations and args.replay
    assert args.dialogues_file.endswith("valid_dialogues_raw.jsonl") and args.turns.endswith(
        "valid_turns.jsonl"
    )


def test_cli_reports_a_missing_data_file(tmp_path, capsys):
    code = main(
        ["eval", "templates", "default", "customer_service", "--catalogue", str(tmp_path / "none.json")]
    )
    assert code == 2 and "none.json" in capsys.readouterr().err


# -- template versions -----------------------------------------------------------------------------


def test_versions_are_set_names_or_directories(tmp_path):
    from eval.templates_ab import TemplatesABError, differing_templates, resolve_version
    from prompts.loader import DEFAULT_ROOT, PromptLibrary

    library = PromptLibrary([DEFAULT_ROOT])
    default = resolve_version("default", library, tmp_path, "a")
    support = resolve_version("customer_service", library, tmp_path, "b")
    assert differing_templates(default, support) == ["system", "recommend"]
    assert differing_templates(default, default) == []

    edited = tmp_path / "my_prompts"
    edited.mkdir()
    text = (
        (DEFAULT_ROOT / "default" / "elicit.yaml")
        .read_text()
        .replace("Reply with one short, friendly question only.", "Reply with one very short question only.")
    )
    (edited / "elicit.yaml").write_text(text)
    version = resolve_version(str(edited), library, tmp_path, "b")
    assert version.kind == "directory"
    assert differing_templates(default, version) == ["elicit"]  # the rest is inherited from default
    assert "very short question" in version.library.get("elicit", set=version.set_name).messages[0].content
    text_before = version.fingerprint()["elicit"]
    (edited / "elicit.yaml").write_text(text.replace("very short", "tiny"))  # edits during a run: no effect
    assert version.fingerprint()["elicit"] == text_before

    with pytest.raises(TemplatesABError, match="neither a prompt set"):
        resolve_version("no_such_set", library, tmp_path, "a")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TemplatesABError, match="no template files"):
        resolve_version(str(empty), library, tmp_path, "a")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "elicit.yaml").write_text(
        text.replace("{{ slot }}", "{{ slott }}").replace('slot == "genre"', 'slott == "genre"')
    )
    with pytest.raises(TemplatesABError, match=r"broken.*elicit\.yaml"):
        resolve_version(str(broken), library, tmp_path, "a")


# -- the LLM replay (real SmolLM2) -----------------------------------------------------------------


@pytest.mark.slow
def test_replay_answers_an_identical_deterministic_request_once(tmp_path):
    from bot.llm.base import ChatMessage, GenerationConfig
    from bot.settings import Settings
    from eval.templates_ab import ReplayLLM, evaluation_llm

    llm = ReplayLLM(
        evaluation_llm(Settings(data_dir=tmp_path, llm={"backend": "llamacpp", "model": "smollm2-135m"}))
    )
    msgs = [ChatMessage("user", "Name one colour.")]
    greedy = GenerationConfig(max_tokens=12, temperature=0.0)
    first = llm.complete(msgs, greedy)
    assert llm.complete(msgs, greedy) == first and (llm.calls, llm.replayed) == (2, 1)
    llm.complete(msgs, GenerationConfig(max_tokens=12, temperature=0.7))  # sampled, no seed: never replayed
    llm.complete(msgs, GenerationConfig(max_tokens=12, temperature=0.7))
    assert llm.replayed == 1
    seeded = GenerationConfig(max_tokens=12, temperature=0.7, seed=3)
    llm.complete(msgs, seeded)
    llm.complete(msgs, seeded)
    assert llm.replayed == 2
    stop = threading.Event()
    stop.set()  # a cancelled answer is not stored
    other = [ChatMessage("user", "Name one animal.")]
    llm.complete(other, greedy, stop)
    llm.complete(other, greedy)
    assert llm.replayed == 2


# -- whole runs on the small real setup ------------------------------------------------------------


def _tiny(small_redial):
    return small_redial.settings.model_copy(
        update={
            "llm": small_redial.settings.llm.model_copy(
                update={"model": "smollm2-135m", "backend": "llamacpp"}
            )
        }
    )


def _run_small(small_redial, dialogues, a: str, b: str, turns_limit: int = 40, replay: bool = True, **options):
    """``run(a, b)`` on the small real setup with SmolLM2, quietly."""
    from eval.templates_ab import SimulatorSetup, run

    setup = SimulatorSetup(dialogues_path=dialogues, catalogue_path=small_redial.catalogue_path,
                           settings=_tiny(small_redial), progress=False, **options)
    return run(a, b, setup, turns_path=small_redial.turns_path, turns_limit=turns_limit, replay=replay)


@pytest.mark.slow
def test_default_against_customer_service_writes_the_side_by_side_report(
    small_redial, small_redial_dialogues, tmp_path
):
    from eval.templates_ab import tables

    out = tmp_path / "ab"
    result = _run_small(
        small_redial,
        small_redial_dialogues,
        "default",
        "customer_service",
        n_dialogues=4,
        max_turns=3,
        turns_limit=6,
        n_boot=300,
        out_dir=out,
    )
    assert result.info["templates_that_differ"] == ["system", "recommend"]
    assert [c.metric for c in result.simulator] == [
        "success@1 (≤3 turns)",
        "success@3 (≤3 turns)",
        "turns to success@3",
        "target recall@1",
        "target recall@3",
    ]
    assert {c.metric for c in result.redial} == {
        f"{m} ({v})" for m in ("R@1", "R@10", "R@50", "NDCG@10", "MRR") for v in ("all", "new-only")
    }
    # `understand` is the same in both sets, so the ReDial turns are read identically: replayed, equal
    for c in result.redial:
        assert c.diff == 0.0 and c.ci_low == 0.0 and c.ci_high == 0.0, c
    assert result.info["llm_calls_replayed"] >= result.info["redial_utterances_read"]["B"] > 0
    payload = json.loads((out / "result.json").read_text())
    assert payload["units"]["simulator"]["ids"] == ["16162", "15266", "15326", "4362"]
    assert len(payload["units"]["redial_turns"]["ids"]) == 6
    # the report's numbers are the units' ratios
    for row in payload["simulator"]:
        units = payload["units"]["simulator"]["metrics"][row["metric"]]["A"]
        den = sum(d for _, d in units)
        assert row["a"] == (pytest.approx(sum(n for n, _ in units) / den) if den else None)
    md = (out / "report.md").read_text()
    assert "A: default" in md and "B: customer_service" in md and "95% CI of B − A" in md
    assert "templates that differ between A and B: system, recommend" in md
    assert len((out / "conversations_A.jsonl").read_text().splitlines()) == 4
    text = tables(result)
    assert "[User simulator]" in text and "[ReDial turns (LLM understanding)]" in text


@pytest.mark.slow
def test_a_against_itself_differs_by_nothing_even_without_replay(
    small_redial, small_redial_dialogues, tmp_path
):
    """Without the replay every LLM call runs twice: equal numbers mean the whole path is deterministic."""
    result = _run_small(
        small_redial,
        small_redial_dialogues,
        "default",
        "default",
        n_dialogues=3,
        max_turns=3,
        turns_limit=4,
        n_boot=200,
        replay=False,
        out_dir=tmp_path,
    )
    assert result.info["llm_calls_replayed"] is None and result.info["templates_that_differ"] == []
    for c in [*result.simulator, *result.redial]:
        assert c.a == c.b, c
        assert c.diff in (0.0, None) and c.ci_low in (0.0, None) and c.ci_high in (0.0, None), c
    a = [[t.text for t in conv.turns] for conv in result.a.simulation.conversations]
    b = [[t.text for t in conv.turns] for conv in result.b.simulation.conversations]
    assert a == b  # the very same questions, word for word


@pytest.mark.slow
def test_eval_templates_cli_prints_the_table(
    small_redial, small_redial_dialogues, tmp_path, monkeypatch, capsys
):
    argv = [
        *["eval", "templates", "default", "customer_service", "--dialogues", "2", "--max-turns", "2"],
        *["--turns-limit", "3", "--model", "smollm2-135m", "--bootstrap", "200", "--quiet"],
    ]
    code = main_on_small_redial(
        monkeypatch, small_redial, small_redial_dialogues, tmp_path / "cli", argv, with_turns=True
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "A: default" in out and "B: customer_service" in out and "95% CI of B − A" in out
    assert "R@10 (new-only)" in out and "success@3 (≤2 turns)" in out
    assert (tmp_path / "cli" / "result.json").is_file() and (tmp_path / "cli" / "report.md").is_file()


@pytest.mark.slow
def test_redial_turn_units_agree_with_the_redial_runner(small_redial):
    """With rule-only understanding (no LLM) the per-turn units give exactly `recbot eval redial`'s recbot."""
    from bot.understanding import Understander
    from eval.redial_catalogue import load_catalogue
    from eval.redial_runner import run as run_redial
    from eval.redial_turns import read_turns
    from eval.templates_ab import TemplateVersion, evaluation_llm, redial_turn_units
    from eval.version_runs import version_engine
    from prompts.loader import PromptLibrary

    settings = _tiny(small_redial)
    # ranker off for the runner too: the A/B engine ranks without a learned ranker (trained on these
    # dialogues, it would score them in-sample), and the units must agree on everything else
    settings = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"rerank": "off"})})
    catalogue = load_catalogue(small_redial.catalogue_path)
    turns = read_turns(small_redial.turns_path, catalogue)
    understander = Understander.from_items(small_redial.snapshot.table.items)
    engine = version_engine(TemplateVersion("default", "default", PromptLibrary(), "set"), small_redial.snapshot,
                            understander, evaluation_llm(settings), settings, k=3, understanding="never", seed=0,
                            for_simulation=False)
    units, read = redial_turn_units(engine, understander, turns, catalogue, progress=False)
    assert read > 0
    reference = run_redial(small_redial.turns_path, small_redial.catalogue_path, ["recbot"], settings=settings,
                           progress=False, write=False).results["recbot"]
    for view in ("all", "new-only"):
        assert sum(d for _, d in units[f"R@1 ({view})"]) == reference[view]["pairs"]
        for metric in ("R@1", "R@10", "R@50", "NDCG@10", "MRR"):
            us = units[f"{metric} ({view})"]
            assert sum(n for n, _ in us) / sum(d for _, d in us) == pytest.approx(reference[view][metric])
