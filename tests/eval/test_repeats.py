"""The all view's repeat model: features, probability correction, merging, training on real turns."""

from __future__ import annotations

import numpy as np
import pytest

from bot.state import SessionState
from eval.redial_turns import RedialTurn
from eval.repeats import (
    REPEAT_FEATURES,
    merge_by_probability,
    repeat_features,
    train_repeats,
    true_probability,
)


def _turn(context_ids, rec_ids=(), dialog_id="d1", turn_id=1):
    return RedialTurn(dialog_id=dialog_id, turn_id=turn_id, context=("hi",), entity=(), rec=(), resp="",
                      template=(), rec_ids=tuple(rec_ids), context_ids=tuple(context_ids))


def test_features_put_the_most_recent_item_first_and_read_the_state():
    state = SessionState(liked_ids=["a"], seen_ids=["b"], shown_ids=["c"], last_recommendations=["c"])
    ids, X = repeat_features(_turn(["a", "b", "c"]), state)
    assert ids == ["c", "b", "a"]
    col = {n: j for j, n in enumerate(REPEAT_FEATURES)}
    assert list(X[:, col["recency"]]) == [0, 1, 2]
    assert list(X[:, col["liked"]]) == [0, 0, 1] and list(X[:, col["seen"]]) == [0, 1, 0]
    assert list(X[:, col["last_shown"]]) == [1, 0, 0] and list(X[:, col["seeker_named"]]) == [0, 1, 1]
    assert repeat_features(_turn([]), state)[0] == []


def test_true_probability_undoes_negative_subsampling():
    # odds 1:1 with 30% of negatives kept are true odds 0.3:1
    assert true_probability(0.5, 0.3) == pytest.approx(0.3 / 1.3)
    assert true_probability(0.2, 1.0) == pytest.approx(0.2)
    assert true_probability(1.0, 0.3) == 1.0


def test_merge_inserts_mentioned_items_where_their_probability_wins():
    new = [("x", 0.5), ("y", 0.2), ("z", 0.1)]
    assert merge_by_probability(new, {"m": 0.3, "n": 0.05}) == ["x", "m", "y", "z", "n"]
    assert merge_by_probability(new, {"m": 0.9}) == ["m", "x", "y", "z"]
    assert merge_by_probability(new, {}) == ["x", "y", "z"]
    # the new items' order is kept: y (0.4, ranked after x at 0.1) counts as 0.1, so m goes first
    assert merge_by_probability([("x", 0.1), ("y", 0.4)], {"m": 0.2}) == ["m", "x", "y"]
    assert merge_by_probability([("x", 0.1), ("y", 0.4)], {"m": 0.05}) == ["x", "y", "m"]
    # an id in both lists appears once, at its better place
    assert merge_by_probability([("x", 0.5), ("m", 0.1)], {"m": 0.6}) == ["m", "x"]


def test_trained_on_real_turns_it_scores_every_context_item_out_of_fold(small_redial):
    from eval.redial_catalogue import load_catalogue
    from eval.redial_setup import understander_for
    from eval.redial_turns import read_turns
    from eval.systems import DialogueStates
    from eval.train_reranker import fold_of_dialogue

    turns = read_turns(small_redial.turns_path, load_catalogue(small_redial.catalogue_path))
    states = DialogueStates(understander_for(small_redial.snapshot))
    by_key = {t.key: states.state(t) for t in turns}
    fold_of = {t.dialog_id: fold_of_dialogue(t.dialog_id, 2) for t in turns}
    model = train_repeats(turns, by_key, fold_of, folds=2)
    repeats = sum(r in set(t.context_ids) for t in turns for r in t.rec_ids)
    if repeats == 0:
        assert model is None
        return
    assert model is not None and model.positives == repeats
    turn = next(t for t in turns if t.context_ids and model.model_for(t.dialog_id) is not None)
    scores = model.scores(turn, by_key[turn.key])
    assert set(scores) == set(turn.context_ids)
    assert all(0.0 <= p <= 1.0 for p in scores.values())
    assert model.model_for(turn.dialog_id) is model.folds[fold_of[turn.dialog_id]]
    # a fold whose training turns held no repeat scores nothing rather than using the final model
    for t in turns:
        if model.folds[fold_of[t.dialog_id]] is None:
            assert model.scores(t, by_key[t.key]) == {}
    assert model.model_for("a dialogue never seen") is model.final
    assert np.isfinite(list(scores.values())).all()


def test_dialogues_without_a_fold_train_every_fold_model():
    # the scored dialogues d1 / d2 never repeat an item; the extra dialogue x (no fold) does, half the time
    scored = [_turn(["a", "b"], ["c"], dialog_id=d, turn_id=i) for d in ("d1", "d2") for i in range(5)]
    extra = [_turn(["a", "b"], ["a"] if i % 2 else ["c"], dialog_id="x", turn_id=i) for i in range(10)]
    turns = scored + extra
    states = {t.key: SessionState(liked_ids=["a"]) for t in turns}
    model = train_repeats(turns, states, {"d1": 0, "d2": 1}, folds=2)
    assert model is not None and model.positives == 5
    # without x no fold would hold a repeat (no model); with it, each fold model learned from x
    assert all(m is not None for m in model.folds)
    assert set(model.fold_of) == {"d1", "d2"}
    # 30 rows are too few to split on (20 a leaf): a fold model predicts the repeat rate of its training
    # rows, so each saw the other scored dialogue and x (5 repeats in 10 + 20 rows)
    for turn in (scored[0], scored[5]):
        assert model.scores(turn, states[turn.key])["a"] == pytest.approx(5 / 30)
