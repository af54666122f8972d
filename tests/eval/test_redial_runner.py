"""The ReDial runner and its CLI on a small real setup: real turns, a real index, real models."""

from __future__ import annotations

import json

import pytest

from bot.faces.cli import build_parser
from tests.eval.support import assert_help_lists


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["eval", "redial", "--help"], ["--turns", "--catalogue", "--systems", "--limit", "--out", "--llm",
                                        "--no-llm"]),
        (["train-reranker", "--help"], ["--turns", "--catalogue", "--folds", "--extra"]),
    ],
)
def test_cli_help_lists_the_options(capsys, argv, expected):
    assert_help_lists(capsys, argv, expected)


def test_cli_system_names_are_the_runners():
    from bot.faces.commands.evaluate import SYSTEMS as CLI_SYSTEMS
    from eval.systems import SYSTEMS

    assert CLI_SYSTEMS == SYSTEMS


def test_cli_rejects_unknown_systems(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["eval", "redial", "--turns", "t", "--catalogue", "c", "--systems", "magic"])
    assert exc.value.code == 2
    assert "choose systems from" in capsys.readouterr().err


def test_cli_defaults_to_no_llm():
    args = build_parser().parse_args(["eval", "redial", "--turns", "t", "--catalogue", "c"])
    assert args.llm is False
    args = build_parser().parse_args(["eval", "redial", "--turns", "t", "--catalogue", "c", "--llm"])
    assert args.llm is True


@pytest.fixture(scope="module")
def baseline_run(small_redial, tmp_path_factory):
    from eval.redial_runner import run

    out = tmp_path_factory.mktemp("report")
    return run(small_redial.turns_path, small_redial.catalogue_path, ["popularity", "bm25", "dense", "recbot"],
               out_dir=out, settings=small_redial.settings, progress=False)


@pytest.mark.slow
def test_runner_writes_json_markdown_html_and_plot(baseline_run):
    files = baseline_run.files
    for path in (files.result_json, files.report_md, files.report_html, files.plot_png):
        assert path.is_file() and path.stat().st_size > 0, path
    payload = json.loads(files.result_json.read_text())
    assert set(payload["results"]) == {"popularity", "bm25", "dense", "recbot"}
    assert set(payload["results"]["recbot"]) == {"all", "new-only"}
    assert "recbot" in files.report_md.read_text() and "new-only" in files.report_md.read_text()
    assert files.plot_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_runner_scores_every_pair_and_metrics_are_consistent(baseline_run, small_redial):
    from eval.redial_catalogue import load_catalogue
    from eval.redial_turns import read_turns, truth_for_turn

    turns = read_turns(small_redial.turns_path, load_catalogue(small_redial.catalogue_path))
    for system, per_view in baseline_run.results.items():
        for view, m in per_view.items():
            assert m["pairs"] == sum(len(truth_for_turn(t, view)) for t in turns)
            assert 0.0 <= m["R@1"] <= m["R@10"] <= m["R@50"] <= 1.0, (system, view, m)
            assert m["MRR"] >= m["R@1"] and m["turns/s"] > 0
            assert baseline_run.curves[system][view][50] == pytest.approx(m["R@50"])


@pytest.mark.slow
def test_popularity_numbers_match_a_hand_computation(baseline_run, small_redial):
    from eval.baselines import PopularityRanker
    from eval.redial_catalogue import load_catalogue
    from eval.redial_turns import read_turns, truth_for_turn

    catalogue = load_catalogue(small_redial.catalogue_path)
    turns = read_turns(small_redial.turns_path, catalogue)
    order = PopularityRanker().fit(turns, dict(catalogue.id_of_name)).ranking
    hits = pairs = 0
    for t in turns:
        top = [i for i in order if i not in set(t.context_ids)][:10]
        for item in truth_for_turn(t, "new-only"):
            pairs += 1
            hits += item in top
    assert baseline_run.results["popularity"]["new-only"]["R@10"] == pytest.approx(hits / pairs)


@pytest.mark.slow
def test_second_ingest_embeds_nothing(small_redial):
    from bot import services
    from retrieval.catalogue import load_catalogue as load_items

    loaded = load_items(small_redial.catalogue_path, mapping="redial", progress=False)
    report = services.catalogue_index(small_redial.settings, "redial").ingest(
        loaded.items, services.embedder(small_redial.settings), progress=False)
    assert report.up_to_date and report.embedded == 0


@pytest.mark.slow
def test_runner_rejects_unknown_systems_and_a_missing_reranker(small_redial, tmp_path):
    from bot import services
    from bot.settings import Settings
    from eval.redial_runner import run
    from eval.redial_setup import RunnerError, load_artifact

    with pytest.raises(RunnerError, match="unknown system"):
        run(small_redial.turns_path, small_redial.catalogue_path, ["oracle"], settings=small_redial.settings,
            progress=False, write=False)
    empty = Settings(data_dir=tmp_path / "nothing-trained")
    with pytest.raises(RunnerError, match="train-reranker"):
        load_artifact(empty, small_redial.snapshot, services.embedder(small_redial.settings))


@pytest.mark.slow
def test_trained_reranker_is_cached_loaded_and_scored_out_of_fold(small_redial, tmp_path):
    from bot import services
    from eval.redial_runner import run
    from eval.train_reranker import train
    from retrieval.rerank import RerankerArtifact, load_reranker

    report = train(small_redial.turns_path, small_redial.catalogue_path, folds=3, settings=small_redial.settings,
                   progress=False)
    assert report.path.is_file() and report.path.with_suffix(".json").is_file()
    assert report.path.is_relative_to(small_redial.settings.cache_dir)
    art = RerankerArtifact.load(report.path)
    assert len(art.folds) == 3 and set(art.fold_of.values()) == {0, 1, 2}
    assert 0.0 <= report.oof["R@50"] <= 1.0 and report.positives > 0

    embedder = services.embedder(small_redial.settings)
    reranker = load_reranker(small_redial.settings.cache_dir, "redial", small_redial.snapshot.table, embedder)
    assert reranker is not None
    # the chat's wiring picks it up by itself, unless switched off
    assert services.retriever(small_redial.settings, "redial").reranker is not None
    off = small_redial.settings.model_copy(update={"retrieval": small_redial.settings.retrieval.model_copy(
        update={"rerank": "off"})})
    assert services.retriever(off, "redial").reranker is None

    out = run(small_redial.turns_path, small_redial.catalogue_path, ["recbot+rerank"], out_dir=tmp_path,
              settings=small_redial.settings, progress=False)
    res = out.results["recbot+rerank"]
    assert set(res) == {"all", "new-only"} and 0.0 <= res["all"]["R@50"] <= 1.0
    # every training dialogue was scored by a fold model that never saw it
    assert any("0 with the final model" in n for n in out.run.notes), out.run.notes


@pytest.mark.slow
def test_recbot_is_the_ranker_the_chat_loads(baseline_run, small_redial, tmp_path):
    from bot import services
    from eval.redial_runner import run

    ranker = services.ranker_for(small_redial.settings, "redial", small_redial.snapshot.table)
    assert ranker is not None  # the packaged transfer ranker at least
    # a run made now (an earlier test may have trained a reranker for this catalogue since baseline_run)
    now = run(small_redial.turns_path, small_redial.catalogue_path, ["recbot"], out_dir=tmp_path,
              settings=small_redial.settings, progress=False)
    notes = " ".join(now.run.notes)
    assert f"recbot: the {'packaged transfer ranker' if ranker.name == 'transfer' else 'learned reranker'}" in notes
    for view in ("all", "new-only"):
        m = baseline_run.results["recbot"][view]
        assert 0.0 <= m["P@10"] <= 1.0 and 0.0 <= m["MAP@50"] <= 1.0 and 0.0 < m["Cov@10"] <= 1.0


@pytest.mark.slow
def test_extra_dialogues_train_every_fold_and_are_never_scored(small_redial, small_redial_dialogues, tmp_path):
    import shutil

    from bot.settings import Settings
    from eval.train_reranker import train
    from retrieval.rerank import RerankerArtifact

    # the first 8 dialogues are the scored turns, the last 4 (as raw ReDial dialogues) the extra ones
    rows = [json.loads(line) for line in small_redial.turns_path.read_text(encoding="utf-8").splitlines()]
    order = list(dict.fromkeys(r["dialog_id"] for r in rows))
    scored, extra = set(order[:8]), set(order[8:])
    turns_path = tmp_path / "turns.jsonl"
    turns_path.write_text("".join(json.dumps(r) + "\n" for r in rows if r["dialog_id"] in scored), encoding="utf-8")
    extra_path = tmp_path / "extra_raw.jsonl"
    extra_path.write_text("".join(line + "\n" for line in small_redial_dialogues.read_text(encoding="utf-8")
                                  .splitlines() if json.loads(line)["conversationId"] in extra), encoding="utf-8")
    # a private cache (the index copied, nothing re-embedded): the shared fixture's reranker stays as it is
    settings = Settings(data_dir=tmp_path / "data")
    shutil.copytree(small_redial.settings.index_dir, settings.index_dir)

    alone = train(turns_path, small_redial.catalogue_path, folds=2, settings=settings, progress=False)
    alone_folds = RerankerArtifact.load(alone.path).folds  # the next run writes the same path
    both = train(turns_path, small_redial.catalogue_path, folds=2, settings=settings, progress=False,
                 extra_path=extra_path)
    assert alone.extra_turns == 0 and both.extra_turns > 0
    assert both.turns == alone.turns and both.dialogues == alone.dialogues == len(scored)
    assert both.rows > alone.rows and both.positives > alone.positives  # the final model saw the extra turns
    art = RerankerArtifact.load(both.path)
    assert set(art.fold_of) == scored  # only the scored dialogues have a fold: they stay out-of-fold
    assert art.meta["extra_turns"] == both.extra_turns
    for with_extra, without in zip(art.folds, alone_folds, strict=True):  # every fold trained on them too
        assert with_extra.positives > without.positives
    with pytest.raises(ValueError, match="shares dialogues"):
        train(turns_path, small_redial.catalogue_path, folds=2, settings=settings, progress=False,
              extra_path=turns_path)
