"""The ReDial ranker's averaged trees: several classifiers, each fitted on a share of the conversations."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.rerank_bagging import BaggedTrees
from retrieval.rerank_features import FEATURES


def _rows(n_conversations: int = 60, per: int = 40, seed: int = 0):
    """Rows whose label depends on the first two features, grouped by conversation."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_conversations * per, len(FEATURES)))
    X[:, 5] = np.nan  # a feature absent in some rows stays allowed
    y = ((X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=len(X))) > 1.2).astype(np.int8)
    groups = np.repeat(np.arange(n_conversations), per)
    return X, y, groups


def test_members_are_fitted_on_shares_of_the_conversations_and_averaged():
    from sklearn.inspection import permutation_importance

    X, y, groups = _rows()
    bag = BaggedTrees(3, max_iter=30).fit(X, y, groups)
    assert len(bag.members_) == 3
    probs = [m.predict_proba(X)[:, 1] for m in bag.members_]
    assert not np.allclose(probs[0], probs[1])  # other conversations, other trees
    np.testing.assert_allclose(bag.predict_proba(X)[:, 1], np.mean(probs, axis=0))
    # the learned signal, not noise: the two informative features matter most
    res = permutation_importance(bag, X[:600], y[:600], scoring="neg_log_loss", n_repeats=2, random_state=0)
    assert set(np.argsort(-res.importances_mean)[:2]) == {0, 1}
    # deterministic for a seed
    again = BaggedTrees(3, max_iter=30).fit(X, y, groups)
    np.testing.assert_allclose(again.predict_proba(X), bag.predict_proba(X))


def test_bagging_needs_a_conversation_per_row():
    X, y, groups = _rows(10, 20)
    with pytest.raises(ValueError, match="conversation id per row"):
        BaggedTrees(2).fit(X, y)
    with pytest.raises(ValueError, match="conversation id per row"):
        BaggedTrees(2).fit(X, y, groups[:-1])
