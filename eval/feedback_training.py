"""``recbot train-reranker --from-feedback``: tune a catalogue's ranker on its users' own feedback logs.

The session store (SQLite or PostgreSQL, as configured) is the log. Each session of the catalogue is
replayed in time order: user messages through the engine's rule-based understanding (the LLM step is not
replayed), the recommendations each assistant message showed, the feedback buttons. Every ``like`` /
``dislike`` of an item becomes one example *(the conversation so far -> that item, label 1 / 0)*; the
conversation's query is what the chat would have sent to the retriever at that moment (the judged item
itself not excluded).

Each example is scored the way the chat scores it: the retriever runs the query with the packaged
transfer ranker and the pool it ranks is featurized (:func:`retrieval.transfer.featurize`); the judged
item's row gets the label; up to ``negatives`` other pool items are anchors (nobody in that session judged
them, so the packaged score stands for them). A boosted-tree regressor then learns one Newton step of logistic loss on
top of the packaged scorer's log-odds (:class:`retrieval.feedback_ranker.BlendedScorer`): judged items move
(a like up to +4 log-odds, a dislike about -1), anchors stay, and items and contexts that resemble the
judged ones move with them. The result is written to ``<cache>/rerankers/<catalogue>/feedback/``, where
``retrieval.rerank = "auto"`` picks it up for that catalogue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.sessions import SessionStore
from bot.state import SessionState
from bot.understanding import Understander, related_ids
from retrieval.feedback_ranker import BlendedScorer, feedback_ranker_dir
from retrieval.itemstore import ItemTable
from retrieval.retriever import Retriever
from retrieval.schema import Candidate, Query
from retrieval.transfer import FEATURES, TransferArtifact, TransferReranker, featurize

log = logging.getLogger(__name__)

LABELS = {"like": 1, "dislike": 0}
# what the correction learns from: the item and how it meets the conversation, not list positions or sizes
# (those depend on what else a session had shown, and a few sessions would teach it "5th in the list")
CORRECTION_SKIPS = frozenset({"rrf", "fused_rank", "in_neighbour", "tt_rank", "n_liked", "n_context", "text_words",
                              "n_genres"})
CORRECTION_COLUMNS = tuple(j for j, name in enumerate(FEATURES) if name not in CORRECTION_SKIPS)
MIN_EXAMPLES = 20  # like / dislike rows needed
MIN_LIKES = 5


class NotEnoughFeedback(ValueError):
    """Too little feedback to learn from; the message says how much there is and how much is needed."""


@dataclass
class FeedbackExample:
    session_id: str
    query: Query  # the conversation so far, as the retriever would have been asked
    item_id: str
    label: int  # 1 liked, 0 disliked


@dataclass
class FeedbackLog:
    """What the replay found."""

    examples: list[FeedbackExample] = field(default_factory=list)
    sessions: int = 0  # sessions of the catalogue
    rows: int = 0  # feedback rows of those sessions (any kind)
    unknown_items: int = 0  # likes / dislikes of items no longer in the catalogue


def replay_sessions(store: SessionStore, catalogue: str, table: ItemTable, understander: Understander,
                    k: int = 10, max_sessions: int = 100_000) -> FeedbackLog:
    """Every like / dislike in ``catalogue``'s sessions as a :class:`FeedbackExample` (oldest first)."""
    out = FeedbackLog()
    for sid in reversed(store.list_sessions(limit=max_sessions)):
        if store.get(sid).catalogue != catalogue:
            continue
        out.sessions += 1
        feedback = store.feedback(sid)
        out.rows += len(feedback)
        if not any(f.kind in LABELS for f in feedback):
            continue
        events: list[tuple[float, int, object]] = [(m.created, 0, m) for m in store.messages(sid)]
        events += [(f.created, 1, f) for f in feedback]
        events.sort(key=lambda e: (e[0], e[1]))
        state = SessionState()
        for _, is_feedback, ev in events:
            if not is_feedback:
                _apply_message(state, ev, understander)
                continue
            kind, target = ev.kind, ev.target  # type: ignore[attr-defined]
            if kind not in (*LABELS, "seen"):
                continue  # message ratings
            if target not in table.pos:
                out.unknown_items += kind in LABELS
                continue
            if kind in LABELS:
                out.examples.append(FeedbackExample(sid, _query_before(state, target, understander, k), target,
                                                    LABELS[kind]))
            state.apply_feedback(kind, target)
    return out


def _apply_message(state: SessionState, message, understander: Understander) -> None:
    if message.role == "user":
        state.apply(understander.parse(message.text, state))
    elif message.role == "assistant":
        ids = [r.get("id") for r in (message.data or {}).get("recommendations", []) if isinstance(r, dict)]
        if ids := [i for i in ids if isinstance(i, str)]:
            state.record_recommendations(ids)


def _query_before(state: SessionState, target: str, understander: Understander, k: int) -> Query:
    """The chat's query at this point, with the judged item free to be ranked."""
    series = related_ids(understander.vocab.items, [*state.liked_ids, *state.shown_ids], state.no_series)
    q = state.to_query(k, also_exclude=series)
    q.exclude_ids = [i for i in q.exclude_ids if i != target]
    q.liked_ids = [i for i in q.liked_ids if i != target]
    q.disliked_ids = [i for i in q.disliked_ids if i != target]
    return q


class _PoolRecorder:
    """A reranker that ranks like the transfer ranker and keeps the pool and its feature matrix."""

    def __init__(self, ranker: TransferReranker) -> None:
        self.ranker = ranker
        self.name = ranker.name
        self.pool: list[Candidate] = []
        self.X: np.ndarray | None = None
        self.remember_text_vector = ranker.remember_text_vector

    def rerank(self, query: Query, candidates: list[Candidate], table: ItemTable) -> list[Candidate]:
        from retrieval.transfer import build_pool

        parts, tt, allowed = self.ranker.prepare(query, table)
        pool = build_pool(query, candidates, table, tt["total"], allowed, self.ranker.artifact.config.extra)
        self.pool, self.parts, self.tt, self.allowed = pool, parts, tt, allowed
        return candidates


def example_rows(retriever: Retriever, ranker: TransferReranker, examples: Iterable[FeedbackExample],
                 negatives: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows ``X``, labels ``y`` (-1 for anchors: pool items nobody judged) and group numbers (one
    per example; its judged item's row first)."""
    rng = np.random.default_rng(seed)
    examples = list(examples)
    judged_in: dict[str, set[str]] = {}  # a session's judged items are never its anchors
    for ex in examples:
        judged_in.setdefault(ex.session_id, set()).add(ex.item_id)
    table = retriever.table
    recorder = _PoolRecorder(ranker)
    saved = retriever.reranker
    retriever.reranker = recorder
    Xs, ys, gs = [], [], []
    try:
        for g, ex in enumerate(examples):
            recorder.pool = []
            retriever.retrieve(ex.query)
            pool = [c for c in recorder.pool if c.item.id not in judged_in[ex.session_id]]
            judged = next((c for c in recorder.pool if c.item.id == ex.item_id),
                          Candidate(item=table.items[table.pos[ex.item_id]], score=0.0, signals={}))
            others = [pool[i] for i in sorted(rng.permutation(len(pool))[:negatives])] if pool else []
            rows = [judged, *others]
            if recorder.pool:
                X = featurize(ex.query, rows, table, recorder.parts, recorder.tt, recorder.allowed,
                              ranker.artifact.config.profile_genres)
            else:  # nothing retrieved: featurize the judged item alone
                parts, tt, allowed = ranker.prepare(ex.query, table)
                X = featurize(ex.query, rows, table, parts, tt, allowed, ranker.artifact.config.profile_genres)
            Xs.append(X)
            ys += [ex.label] + [-1] * len(others)
            gs += [g] * len(rows)
    finally:
        retriever.reranker = saved
    return np.vstack(Xs), np.array(ys, dtype=np.int64), np.array(gs, dtype=np.int64)


def fit_correction(base, X: np.ndarray, y: np.ndarray, seed: int = 0):
    """A regressor for one Newton step of logistic loss from the ``base`` scorer's log-odds on the judged
    rows (``y`` 1 / 0); anchor rows (``y`` -1) keep the base score (target 0)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    p0 = np.clip(base.predict_proba(X)[:, 1], 1e-6, 1 - 1e-6)
    h = np.maximum(p0 * (1 - p0), 1e-4)
    judged = y >= 0
    target = np.where(judged, np.clip((np.maximum(y, 0) - p0) / h, -4.0, 4.0), 0.0)
    weight = h / h.mean()  # Newton weights, on a scale the trees' regularisation and split limits suit
    model = HistGradientBoostingRegressor(
        learning_rate=0.1, max_iter=60, max_leaf_nodes=6, min_samples_leaf=max(3, len(y) // 50),
        l2_regularization=1.0, early_stopping=False, random_state=seed,
    )
    X = X[:, list(CORRECTION_COLUMNS)]  # a copy
    X[:, np.isnan(X).all(axis=0)] = 0.0  # features the feedback never has (no text, no reviews) cannot bin
    model.fit(X, target, sample_weight=weight)
    return model


@dataclass
class FeedbackTrainingReport:
    catalogue: str
    sessions: int
    rows: int
    examples: int
    likes: int
    training_rows: int
    seconds: float
    out: Path
    log_loss_before: float
    log_loss_after: float

    def summary(self) -> str:
        return (
            f"feedback ranker for {self.catalogue!r}: {self.examples} like/dislike examples "
            f"({self.likes} likes) from {self.sessions} sessions ({self.rows} feedback rows); "
            f"{self.training_rows} training rows (judged items + unjudged pool items as anchors); log loss on "
            f"the judged rows {self.log_loss_before:.3f} (packaged) -> {self.log_loss_after:.3f} (tuned); "
            f"{self.seconds:.1f} s\n"
            f"written to {self.out}; `retrieval.rerank = \"auto\"` uses it for {self.catalogue!r}"
        )


def train_from_feedback(store: SessionStore, catalogue: str, retriever: Retriever, base: TransferReranker,
                        cache_dir: Path, *, out: Path | None = None, negatives: int = 10, seed: int = 0,
                        min_examples: int = MIN_EXAMPLES, min_likes: int = MIN_LIKES) -> FeedbackTrainingReport:
    """Replay ``catalogue``'s sessions in ``store``, fit the correction on top of ``base`` (the packaged
    transfer ranker) and save the tuned ranker. Raises :class:`NotEnoughFeedback`."""
    t0 = time.perf_counter()
    table = retriever.table
    found = replay_sessions(store, catalogue, table, Understander.from_items(table.items))
    likes = sum(ex.label for ex in found.examples)
    if len(found.examples) < min_examples or likes < min_likes:
        raise NotEnoughFeedback(
            f"catalogue {catalogue!r}: {len(found.examples)} like/dislike rows ({likes} likes) in "
            f"{found.sessions} sessions of the session store"
            + (f", {found.unknown_items} more about items no longer in the catalogue" if found.unknown_items else "")
            + f"; at least {min_examples} rows with {min_likes} likes are needed to train on feedback")
    X, y, _ = example_rows(retriever, base, found.examples, negatives=negatives, seed=seed)
    art = base.artifact
    correction = fit_correction(art.scorer, X, y, seed=seed)
    scorer = BlendedScorer(art.scorer, correction, CORRECTION_COLUMNS)
    judged = y >= 0
    before = _log_loss(y[judged], art.scorer.predict_proba(X[judged])[:, 1])
    after = _log_loss(y[judged], scorer.predict_proba(X[judged])[:, 1])
    directory = Path(out) if out is not None else feedback_ranker_dir(cache_dir, catalogue)
    meta = {**art.meta, "feedback": {"catalogue": catalogue, "sessions": found.sessions, "examples": len(found.examples),
                                     "likes": likes, "training_rows": len(y), "trained": time.time(),
                                     "log_loss_judged": {"packaged": before, "tuned": after}}}
    TransferArtifact(art.two_tower, scorer, art.config, meta).save(directory)
    return FeedbackTrainingReport(catalogue, found.sessions, found.rows, len(found.examples), likes, len(y),
                                  time.perf_counter() - t0, directory, before, after)


def train_with_settings(catalogue: str | None = None, *, out: str | Path | None = None,
                        seed: int = 0) -> FeedbackTrainingReport:
    """``recbot train-reranker --from-feedback``: the configured session store, catalogue index and packaged
    transfer ranker (``catalogue``: default ``settings.catalogue``). Raises ValueError / RuntimeError
    subclasses with a message for the person (too little feedback, no index, unreachable store)."""
    from bot import services
    from bot.settings import get_settings

    settings = get_settings()
    name = catalogue or settings.catalogue
    base = services.transfer_ranker(settings)
    if base is None:
        raise RuntimeError("no packaged transfer ranker to start from (retrieval/models/transfer/); run "
                           "`recbot train-reranker --transfer`")
    plain = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"rerank": "off"})})
    retriever = services.retriever(plain, name)  # IndexUnavailable (a RuntimeError) when not ingested
    return train_from_feedback(services.session_store(settings), name, retriever, base, settings.cache_dir,
                               out=Path(out) if out else None, seed=seed)


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


__all__ = ["MIN_EXAMPLES", "MIN_LIKES", "FeedbackExample", "FeedbackLog", "FeedbackTrainingReport",
           "NotEnoughFeedback", "example_rows", "fit_correction", "replay_sessions", "train_from_feedback",
           "train_with_settings"]
