"""A catalogue's own ranker, tuned on its users' feedback: the transfer ranker with a learned correction.

``recbot train-reranker --from-feedback`` (:mod:`eval.feedback_training`) replays the session store's
conversations, turns every like / dislike into a (conversation so far -> item, label) example with the
transfer ranker's features (:mod:`retrieval.transfer`), and fits a small boosted-tree correction on top
of the packaged scorer. The result is a :class:`~retrieval.transfer.TransferArtifact` whose scorer is a
:class:`BlendedScorer`, written to ``<cache>/rerankers/<catalogue>/feedback/``; with
``retrieval.rerank = "auto"`` :func:`load_feedback_ranker` finds it for that catalogue (see
``bot.services.ranker_for``). Its features are catalogue-generic, so it stays valid when items change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.transfer import TransferReranker, load_transfer

log = logging.getLogger(__name__)

NAME = "transfer+feedback"
_EPS = 1e-6


def feedback_ranker_dir(cache_dir: Path, catalogue: str) -> Path:
    """``<cache>/rerankers/<catalogue>/feedback/``: where the feedback-tuned ranker of ``catalogue`` lives."""
    return Path(cache_dir) / "rerankers" / catalogue / "feedback"


@dataclass
class BlendedScorer:
    """``P(liked) = sigmoid(logit(base(X)) + strength * correction(X))``: the packaged scorer's log-odds
    moved by a regressor fitted to the feedback (one Newton step of logistic loss, learned by trees)."""

    base: Any  # the packaged transfer scorer (a fitted HistGradientBoostingClassifier)
    correction: Any  # a fitted HistGradientBoostingRegressor over the ``columns`` of the same features
    columns: tuple[int, ...]
    strength: float = 1.0

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p0 = np.clip(self.base.predict_proba(X)[:, 1], _EPS, 1 - _EPS)
        z = np.log(p0 / (1 - p0)) + self.strength * self.correction.predict(X[:, list(self.columns)])
        p = 1.0 / (1.0 + np.exp(-z))
        return np.stack([1 - p, p], axis=1)


def load_feedback_ranker(cache_dir: Path, catalogue: str, embedder: Embedder | None) -> TransferReranker | None:
    """The feedback-tuned ranker of ``catalogue`` (named ``transfer+feedback``), or ``None`` when none was
    trained (or it is stale: logged)."""
    directory = feedback_ranker_dir(cache_dir, catalogue)
    if not (directory / "scorer.pkl").is_file():
        return None
    ranker = load_transfer(embedder, directory)
    if ranker is not None:
        ranker.name = NAME
        log.info("using the feedback-tuned ranker of %r (%s)", catalogue, directory)
    return ranker


__all__ = ["NAME", "BlendedScorer", "feedback_ranker_dir", "load_feedback_ranker"]
