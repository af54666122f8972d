"""ReDial names mapped onto another catalogue by title + year, raw dialogues cut into recommender turns, and
the per-turn report metrics (P@10, MAP@50)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.metrics import turn_scores
from eval.redial_turns import truth_for_turn
from eval.transfer_data import FilmNames, mapped_catalogue, mapped_share, raw_dialogue_turns
from retrieval.itemstore import ItemTable
from tests.film_catalogue import make_items


@pytest.fixture(scope="module")
def table() -> ItemTable:
    items = make_items()
    return ItemTable(items=items, vectors=np.zeros((len(items), 4), dtype=np.float32))


def test_names_map_by_normalised_title_and_year(table):
    names = FilmNames(table)
    assert names["Alien (1979)"] == "m1"
    assert names["Godfather, The  (1972)"] == "m11"
    assert "Alien (1986)" not in names  # right title, wrong year
    assert "Alien" not in names  # no year, no key
    with pytest.raises(KeyError):
        names["Not A Film (2001)"]
    assert mapped_catalogue(table).resolve("Heat (1995)") == "m10"


def _dialogue(conversation_id: str, messages: list[tuple[str, str]], mentions: dict[str, str]) -> dict:
    return {
        "conversationId": conversation_id, "initiatorWorkerId": 1, "respondentWorkerId": 2,
        "movieMentions": mentions, "initiatorQuestions": [], "respondentQuestions": [],
        "messages": [{"senderWorkerId": 1 if who == "S" else 2, "text": text, "messageId": i}
                     for i, (who, text) in enumerate(messages)],
    }


def test_raw_dialogues_become_recommender_turns(tmp_path, table):
    mentions = {"101": "Alien  (1979)", "102": "Aliens (1986)", "103": "Unknown Film (2010)", "104": "Heat (1995)"}
    d = _dialogue("7", [
        ("S", "hi"), ("S", "I love @101"),  # two seeker messages: one utterance
        ("R", "try @102 or @103"),
        ("S", "seen @102 already"),
        ("R", "ok"),  # no movie: not a turn
        ("S", "more?"),
        ("R", "@104 is great"),
    ], mentions)
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps(d) + "\n", encoding="utf-8")
    turns = raw_dialogue_turns(path, mapped_catalogue(table), prefix="x:")
    assert [t.turn_id for t in turns] == [1, 5]
    first, second = turns
    assert first.dialog_id == "x:7"
    assert first.context == ("hi I love Alien (1979)",)
    assert first.rec_ids == ("m2",) and first.unresolved_rec == ("Unknown Film (2010)",)
    assert first.context_ids == ("m1",)
    assert second.context_ids == ("m1", "m2")
    assert second.rec_ids == ("m10",)
    assert second.context[-1] == "more?" and len(second.context) == 5
    assert truth_for_turn(second, "new-only") == ("m10",)
    assert mapped_share(turns) == pytest.approx(2 / 3)


def test_turn_scores_precision_and_average_precision():
    ranked = ["a", "b", "c", "d"]
    s = turn_scores(ranked, {"b", "d", "z"}, k=2, ap_k=4)
    assert s["P@2"] == pytest.approx(0.5)
    assert s["MAP@4"] == pytest.approx((1 / 2 + 2 / 4) / 3)
