"""Averaged tree models for the ReDial-only learned reranker (training side of :mod:`retrieval.rerank`).

A module of its own because the class subclasses scikit-learn's estimator bases: importing it imports
scikit-learn, which :mod:`retrieval.rerank_fit` (imported at serving start-up) does only when fitting;
serving only unpickles it.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from retrieval.rerank_fit import fit_model


class BaggedTrees(ClassifierMixin, BaseEstimator):
    """Several boosted-tree classifiers (:func:`fit_model`), each fitted on the rows of a random ``share``
    of the training conversations, whose probabilities are averaged.

    On the ReDial dev turns (5-fold OOF, new-only) three members on 80% of the conversations each scored
    R@10 .215 / R@50 .416 where one model on all of them scored .206 / .412: the trees are small and the
    conversations few, so averaging removes much of their variance.
    """

    def __init__(self, n_members: int = 3, share: float = 0.8, seed: int = 0, max_iter: int = 150) -> None:
        self.n_members = n_members
        self.share = share
        self.seed = seed
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> BaggedTrees:
        """``groups``: a conversation id per row."""
        if groups is None or len(groups) != len(y):
            raise ValueError("bagging needs a conversation id per row (groups)")
        rng = np.random.default_rng(self.seed)
        ids = np.unique(groups)
        self.members_ = []
        for k in range(self.n_members):
            keep = np.isin(groups, rng.choice(ids, max(1, int(len(ids) * self.share)), replace=False))
            self.members_.append(fit_model(X[keep], y[keep], seed=self.seed + k, max_iter=self.max_iter))
        self.classes_ = self.members_[0].classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.mean([m.predict_proba(X) for m in self.members_], axis=0)


__all__ = ["BaggedTrees"]
