"""Scoring items the conversation already mentioned, for the benchmark's **all** view.

In ReDial the human recommender sometimes suggests again a film that is already in the conversation
(7.7% of the (turn, rec item) pairs of the dev turns; most of them among the last three films
mentioned). The **all** view counts those pairs, and the published conversational recommenders it
compares with rank mentioned films like any other. The product never re-recommends an item the person
already named or was shown, so this model lives in ``eval/``: it estimates, for each item of a turn's
context, the probability that the recommender names it now, and :class:`eval.systems.RecbotSystem`
merges those items into its ranking by that probability in the all view only (the new-only view
excludes them by definition).

Features (:data:`REPEAT_FEATURES`) come from the context's mention order and the session state the
conversation led to: how recently the item came up, whether the seeker liked / saw / disliked it,
whether the recommender was the one who brought it up, and how many items the conversation holds.
The model is trained by ``recbot train-reranker`` with the same dialogue folds as the reranker, so the
training dialogues are scored out-of-fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.state import SessionState
from eval.redial_turns import RedialTurn
from retrieval.rerank import predict_positive

REPEAT_FEATURES: tuple[str, ...] = (
    "recency", "n_context", "liked", "seen", "disliked", "shown", "last_shown", "seeker_named",
)


def repeat_features(turn: RedialTurn, state: SessionState) -> tuple[list[str], np.ndarray]:
    """The context's distinct items (most recent first) and their feature rows."""
    ids = list(dict.fromkeys(reversed(turn.context_ids)))
    X = np.zeros((len(ids), len(REPEAT_FEATURES)), dtype=np.float64)
    liked, seen, disliked = set(state.liked_ids), set(state.seen_ids), set(state.disliked_ids)
    shown, last_shown = set(state.shown_ids), set(state.last_recommendations)
    for j, item in enumerate(ids):
        X[j] = (
            j, len(ids), item in liked, item in seen, item in disliked, item in shown, item in last_shown,
            item in liked or item in seen or item in disliked,
        )
    return ids, X


def _fit(X: np.ndarray, y: np.ndarray, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(learning_rate=0.1, max_iter=100, max_leaf_nodes=8,
                                           min_samples_leaf=20, l2_regularization=1.0, early_stopping=False,
                                           random_state=seed)
    model.fit(X, y)
    return model


@dataclass
class RepeatModel:
    """A final model plus per-fold models (``fold_of``: dialogue -> the fold whose model never saw it)."""

    final: Any
    folds: list[Any | None] = field(default_factory=list)
    fold_of: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    positives: int = 0

    def model_for(self, dialog_id: str) -> Any:
        """The fold model that never saw ``dialog_id`` (``None`` when that fold's training turns held no
        repeat), or the final model for a dialogue not trained on."""
        fold = self.fold_of.get(dialog_id)
        return self.final if fold is None else self.folds[fold]

    def scores(self, turn: RedialTurn, state: SessionState) -> dict[str, float]:
        """``P(recommended now)`` for each item the turn's context mentioned (none without a model)."""
        ids, X = repeat_features(turn, state)
        model = self.model_for(turn.dialog_id)
        if not ids or model is None:
            return {}
        p = predict_positive(model, X)
        return dict(zip(ids, (float(v) for v in p), strict=True))


def train_repeats(turns: Sequence[RedialTurn], states: Mapping[str, SessionState], fold_of: Mapping[str, int],
                  folds: int, seed: int = 0) -> RepeatModel | None:
    """Fit the repeat model on every turn with a context (``states``: turn key -> its state).

    Dialogues absent from ``fold_of`` (extra training dialogues) train every fold's model and are never
    scored out-of-fold. Returns ``None`` when the turns hold no repeat at all (nothing to learn).
    """
    rows: list[tuple[str, np.ndarray, np.ndarray]] = []
    for t in turns:
        ids, X = repeat_features(t, states[t.key])
        if ids:
            truth = set(t.rec_ids)
            rows.append((t.dialog_id, X, np.array([i in truth for i in ids], dtype=np.int8)))
    if not rows:
        return None
    X = np.vstack([r[1] for r in rows])
    y = np.concatenate([r[2] for r in rows])
    dialogue = np.array([fold_of.get(r[0], -1) for r in rows for _ in range(len(r[2]))])
    if y.sum() == 0 or y.sum() == len(y):
        return None
    fold_models = []
    for f in range(folds):
        train = dialogue != f
        ytr = y[train]
        fold_models.append(_fit(X[train], ytr, seed) if 0 < ytr.sum() < len(ytr) else None)
    return RepeatModel(final=_fit(X, y, seed), folds=fold_models, fold_of=dict(fold_of), rows=len(y),
                       positives=int(y.sum()))


def true_probability(p: float, negative_rate: float) -> float:
    """Undo negative subsampling: a model trained on a share ``negative_rate`` of the negatives
    overstates the odds by ``1 / negative_rate``."""
    if p >= 1.0:
        return 1.0
    odds = p / (1.0 - p) * negative_rate
    return odds / (1.0 + odds)


def merge_by_probability(new: Iterable[tuple[str, float]], mentioned: Mapping[str, float]) -> list[str]:
    """One ranking from (id, probability) of new items, best first, and of mentioned items.

    New items keep their order (their probabilities are made non-increasing first); each mentioned
    item goes before the first new item it beats.
    """
    out: list[str] = []
    rest = sorted(mentioned.items(), key=lambda kv: -kv[1])
    i = 0
    ceiling = float("inf")
    seen: set[str] = set()
    for item, p in new:
        ceiling = min(ceiling, p)
        while i < len(rest) and rest[i][1] > ceiling:
            if rest[i][0] not in seen:
                out.append(rest[i][0])
                seen.add(rest[i][0])
            i += 1
        if item not in seen:
            out.append(item)
            seen.add(item)
    for item, _ in rest[i:]:
        if item not in seen:
            out.append(item)
            seen.add(item)
    return out


__all__ = ["REPEAT_FEATURES", "RepeatModel", "merge_by_probability", "repeat_features", "train_repeats",
           "true_probability"]
