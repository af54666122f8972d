"""ReDial readers against the real evaluation files, the two views, and the popularity baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.baselines import PopularityRanker
from eval.metrics import mean_item_scores, redial_item_scores
from eval.redial_catalogue import RedialCatalogue, load_catalogue
from eval.redial_dialogues import RedialDialogue, read_dialogues
from eval.redial_format import RedialFormatError
from eval.redial_turns import (
    RedialTurn,
    context_item_ids,
    exclusions_for_turn,
    read_turns,
    resolution_stats,
    truth_for_turn,
)


@pytest.fixture(scope="session")
def redial_dir(shared_data: Path) -> Path:
    return shared_data / "redial"


@pytest.fixture(scope="session")
def catalogue(redial_dir: Path) -> RedialCatalogue:
    return load_catalogue(redial_dir / "id2info.json")


@pytest.fixture(scope="session")
def turns(redial_dir: Path, catalogue: RedialCatalogue) -> list[RedialTurn]:
    return read_turns(redial_dir / "valid_turns.jsonl", catalogue)


@pytest.fixture(scope="session")
def dialogues(redial_dir: Path, catalogue: RedialCatalogue) -> list[RedialDialogue]:
    return read_dialogues(redial_dir / "valid_dialogues_raw.jsonl", catalogue)


# --------------------------------------------------------------------------------------------------
# catalogue


def test_catalogue_counts_and_fields(catalogue: RedialCatalogue) -> None:
    assert len(catalogue) == 6583
    # seven names occur twice with the same IMDb id; they collapse to one canonical id each
    assert len(catalogue.canonical_ids) == 6583 - 7
    shining = catalogue.movies[catalogue.resolve("The Shining (1980)")]
    assert (shining.id, shining.title, shining.year) == ("202190", "The Shining", 1980)
    assert "horror" in shining.genres and shining.directors == ("Stanley Kubrick",)
    assert "Jack Nicholson" in shining.stars and shining.imdb_id == "tt0081505"
    assert catalogue.resolve("Not A Real Movie (1899)") is None


def test_catalogue_duplicates_are_canonicalised(catalogue: RedialCatalogue) -> None:
    both = [i for i, m in catalogue.movies.items() if m.name == "Meet the Parents (2000)"]
    assert sorted(both) == ["106317", "170722"]
    assert catalogue.resolve("Meet the Parents (2000)") == "106317"
    assert catalogue.canonical_id("170722") == "106317"
    # ranking either copy counts once, under the canonical id
    assert catalogue.canonicalise(["170722", "202190", "106317"]) == ["106317", "202190"]
    assert catalogue.movies["104784"].year is None  # "Tinker Bell" has no year in its name


# --------------------------------------------------------------------------------------------------
# turns


def test_turn_counts_and_resolution(turns: list[RedialTurn]) -> None:
    stats = resolution_stats(turns)
    assert stats.turns == 2716 and stats.turns_with_rec == 2716
    assert stats.rec_items == 3595
    assert stats.resolved == 3595 and stats.unresolved == 0
    assert len({t.dialog_id for t in turns}) == 985


def test_first_turn_fields(turns: list[RedialTurn], catalogue: RedialCatalogue) -> None:
    t = turns[0]
    assert (t.dialog_id, t.turn_id) == ("16162", 2)
    assert t.context[0] == "" and t.context[-1].endswith("like The Babadook (2014)")
    assert t.entity == ("horror", "The Babadook (2014)")
    assert t.rec == ("The Shining (1980)", "What Lies Beneath (2000)")
    assert [catalogue.movies[i].name for i in t.rec_ids] == list(t.rec)
    assert context_item_ids(t) == (catalogue.resolve("The Babadook (2014)"),)  # "horror" is no movie
    assert "The Shining (1980)" in t.resp


def test_views_on_real_turns(turns: list[RedialTurn]) -> None:
    second = turns[1]  # 16162 turn 4: The Shining was recommended earlier, The Exorcist is new
    assert "202190" in context_item_ids(second)
    assert truth_for_turn(second, "all") == truth_for_turn(second, "new-only") == ("76012",)
    new_pairs = sum(len(truth_for_turn(t, "new-only")) for t in turns)
    repeated = sum(1 for t in turns for i in t.rec_ids if i in t.context_ids)
    assert repeated == 277 and new_pairs == 3595 - 277
    assert sum(1 for t in turns if truth_for_turn(t, "new-only")) == 2568  # 148 turns only repeat items


def test_view_logic_on_hand_made_turn() -> None:
    turn = RedialTurn(
        dialog_id="d",
        turn_id=3,
        context=("", "I loved B"),
        entity=("comedy", "B (2001)", "C (2002)"),
        rec=("A (2000)", "B (2001)"),
        resp="Try A (2000) or B (2001)",
        template=(),
        rec_ids=("A", "B"),
        context_ids=("B", "C"),
    )
    assert truth_for_turn(turn, "all") == ("A", "B")
    assert truth_for_turn(turn, "new-only") == ("A",)  # B was already mentioned
    assert exclusions_for_turn(turn, "all") == ()
    assert exclusions_for_turn(turn, "new-only") == ("B", "C")
    with pytest.raises(ValueError, match="unknown view"):
        truth_for_turn(turn, "new")  # type: ignore[arg-type]


def test_conversation_turns_carry_what_was_asked_for_before_each_turn() -> None:
    from eval.train_reranker import conversation_turns
    from retrieval.rerank import ConversationTurn
    from retrieval.schema import Query

    def turn(turn_id: int, rec: tuple[str, ...], context: tuple[str, ...]) -> RedialTurn:
        return RedialTurn(dialog_id="d", turn_id=turn_id, context=("",), entity=(), rec=rec, resp="", template=(),
                          rec_ids=rec, context_ids=context)

    first, second = turn(1, ("A",), ("B",)), turn(3, ("C",), ("B", "A"))
    queries = {first.key: Query(genres=["Horror", "horror"], people=["Sigourney Weaver"])}
    assert conversation_turns([first, second], queries) == [
        ConversationTurn("d", ("B",), ("A",), ("genre:horror", "person:sigourney weaver")),
        ConversationTurn("d", ("B", "A"), ("C",), ()),  # no understanding of this turn was given
    ]
    assert conversation_turns([first])[0].wanted == ()


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_read_turns_skips_empty_rec_and_reports_unresolved(
    tmp_path: Path, catalogue: RedialCatalogue
) -> None:
    base = {"dialog_id": "1", "context": [""], "entity": [], "resp": "r", "template": []}
    path = _write_jsonl(
        tmp_path / "turns.jsonl",
        [
            {**base, "turn_id": 0, "rec": []},
            {
                **base,
                "turn_id": 1,
                "rec": ["The Shining (1980)", "No Such Film (1901)"],
                "entity": ["Jaws (1975)"],
            },
        ],
    )
    got = read_turns(path, catalogue)
    assert len(got) == 1
    assert got[0].rec_ids == ("202190",) and got[0].unresolved_rec == ("No Such Film (1901)",)
    assert got[0].context_ids == (catalogue.resolve("Jaws (1975)"),)
    stats = resolution_stats(got)
    assert (stats.rec_items, stats.resolved, stats.unresolved) == (2, 1, 1)
    assert stats.unresolved_names == {"No Such Film (1901)": 1}
    assert len(read_turns(path, catalogue, skip_empty_rec=False)) == 2


def test_read_turns_names_file_line_and_field(tmp_path: Path, catalogue: RedialCatalogue) -> None:
    path = _write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {"dialog_id": "1", "turn_id": 1, "context": [], "entity": [], "rec": ["Jaws (1975)"], "resp": ""},
            {"dialog_id": "1", "turn_id": "two", "context": [], "entity": [], "rec": [], "resp": ""},
        ],
    )
    with pytest.raises(RedialFormatError, match=r"bad\.jsonl line 2: field 'turn_id'"):
        read_turns(path, catalogue)


# --------------------------------------------------------------------------------------------------
# raw dialogues


def test_dialogue_counts(dialogues: list[RedialDialogue], turns: list[RedialTurn]) -> None:
    assert len(dialogues) == 1000
    assert sum(len(d.messages) for d in dialogues) == 12395
    ids = {d.dialog_id for d in dialogues}
    assert {t.dialog_id for t in turns} <= ids  # every scored turn has its raw dialogue
    assert sum(1 for d in dialogues if not d.seeker_answers) == 12  # form left empty ([] in the file)


def test_dialogue_fields_and_seeker_preferences(dialogues: list[RedialDialogue]) -> None:
    d = dialogues[0]
    assert d.dialog_id == "16162" and d.seeker_worker_id == 271 and d.recommender_worker_id == 147
    assert d.movie_mentions["202190"] == "The Shining (1980)"  # "The Shining  (1980)" in the file
    msg = d.messages[1]
    assert msg.sender == "seeker" and msg.movie_ids == ("135508",)
    assert d.render(msg) == "Hi im looking for a good horroe movie like The Babadook (2014)"
    assert d.messages[0].sender == "recommender"
    # the seeker liked every movie of this dialogue and brought up Babadook and It Follows themself
    assert set(d.liked_ids()) == set(d.movie_mentions) and d.disliked_ids() == ()
    assert set(d.suggested_ids()) == {"202190", "76012", "131178", "83192"}
    # the seeker's own form wins over the recommender's ("seen": 2 = did not say, there)
    assert d.recommender_answers["131178"].seen is None and d.answer("131178").seen is True


def test_dialogues_disliked_and_missing_names(
    dialogues: list[RedialDialogue], catalogue: RedialCatalogue
) -> None:
    assert sum(len(d.liked_ids()) for d in dialogues) == 4284
    assert sum(len(d.disliked_ids()) for d in dialogues) == 246
    d1382 = next(d for d in dialogues if d.dialog_id == "1382")
    assert d1382.movie_mentions["50"] == ""  # name missing in the file and id unknown to the catalogue
    mentioned = [i for d in dialogues for i in d.movie_mentions]
    assert sum(1 for i in mentioned if i in catalogue.movies) == 5266 and len(mentioned) == 5273


# --------------------------------------------------------------------------------------------------
# popularity baseline


def _turn(dialog_id: str, turn_id: int, rec: tuple[str, ...], entity: tuple[str, ...]) -> RedialTurn:
    return RedialTurn(dialog_id, turn_id, ("",), entity, rec, "", ())


def test_popularity_ranker_on_hand_made_turns() -> None:
    ids = {"A (2000)": "1", "B (2001)": "2", "C (2002)": "3", "D (2003)": "4"}
    turns = [
        _turn("d1", 1, ("A (2000)",), ("C (2002)",)),
        _turn("d1", 3, ("B (2001)",), ("C (2002)", "A (2000)", "comedy")),  # entity is cumulative
        _turn("d2", 1, ("A (2000)", "C (2002)"), ("C (2002)", "D (2003)", "Unknown (1900)")),
    ]
    ranker = PopularityRanker().fit(turns, ids)
    # rec counts: A 2, B 1, C 1; dialogues mentioning: C 2 (d1, d2, once each), A 1, D 1
    assert ranker.rec_counts == {"1": 2, "2": 1, "3": 1}
    assert ranker.mention_counts == {"3": 2, "1": 1, "4": 1}
    # A (2 recs) > C (1 rec, 2 mentions) > B (1 rec, 0 mentions) > D (only mentioned)
    assert ranker.ranking == ["1", "3", "2", "4"]
    assert ranker.rank(turns[0], 2) == ["1", "3"]
    assert ranker.rank(turns[0], 2, exclude={"1"}) == ["3", "2"]
    assert ranker.rank(turns[0], 10) == ["1", "3", "2", "4"]  # fewer than k items were counted


def test_popularity_ranker_requires_fit() -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        PopularityRanker().rank(_turn("d", 1, (), ()), 5)


def test_popularity_in_sample_on_dev_turns(turns: list[RedialTurn], catalogue: RedialCatalogue) -> None:
    """Fitted and scored on the same dev turns (optimistic); DESIGN.md measured .011/.066/.190."""
    ranker = PopularityRanker().fit(turns, catalogue.id_of_name)
    top50 = ranker.rank(turns[0], 50)
    per_item = [s for t in turns for s in redial_item_scores(top50, truth_for_turn(t, "all"))]
    assert len(per_item) == 3595
    scores = mean_item_scores(per_item)
    rounded = tuple(round(scores[m], 3) for m in ("R@1", "R@10", "R@50"))
    assert rounded == (0.011, 0.066, 0.190)
