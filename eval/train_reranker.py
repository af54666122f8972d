"""Train the learned reranker (:mod:`retrieval.rerank`) on ReDial turns, with dialogue-grouped CV.

    recbot train-reranker --turns ../shared/data/redial/valid_turns.jsonl \\
                          --catalogue ../shared/data/redial/id2info.json

Steps:

1. Every turn's context goes through the same path as the ``recbot`` system (deterministic
   understanding → session state → query), and the retriever's fused head (the 100 candidates a
   reranker receives, MMR off) is kept.
2. Dialogues are split into ``folds`` groups (by a hash of the dialogue id: stable across runs and
   machines). For each fold, the interaction counts (how often items were recommended, mentioned,
   and recommended after other items) come from the *other* folds only; the pool of each training
   turn is the head plus popular and co-recommended items, each candidate is featurised with its own
   dialogue's counts removed (leave-one-dialogue-out, so a turn never sees its answer), labelled 1 if
   it is a rec item not already mentioned (the new-only truth), and a model is fitted. The held-out
   fold is scored by that model: the out-of-fold (OOF) numbers printed at the end.
3. A final model is fitted the same way on every dialogue. The artifact (final model, fold models,
   dialogue -> fold map, counts) is saved under ``<data dir>/cache/rerankers/redial/``, named by the
   catalogue fingerprint and the feature version; ``recbot eval redial`` then scores the training
   dialogues with their fold's model, so its numbers stay out-of-fold.

``extra_path`` (``recbot train-reranker --extra``, by default the 813 train-split dialogues) adds raw
ReDial dialogues to every model's counts and rows; they have no fold and are never scored, so the
out-of-fold numbers stay those of the turns file (on the dev turns, new-only R@10 .172 -> .182 and
R@50 .346 -> .363 out-of-fold; R@1 .036 -> .031).

Only the training turns (and the extra dialogues) are read; nothing else (a held-out split) is looked at.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from bot import services
from bot.settings import Settings, get_settings
from eval.metrics import item_ranks, mean_item_scores, scores_from_rank
from eval.redial_catalogue import RedialCatalogue, load_catalogue
from eval.redial_scoring import K
from eval.redial_setup import INDEX_NAME, engine_states, open_redial_index, read_any_turns, save_repeats
from eval.redial_turns import RedialTurn, read_turns, truth_for_turn
from eval.repeats import train_repeats
from eval.systems import DialogueStates, eval_retrieval_config
from retrieval.embeddings import Embedder
from retrieval.index import IndexSnapshot
from retrieval.item_weights import ItemWeights, TableWeights
from retrieval.itemstore import ItemTable
from retrieval.rerank import (
    FEATURES,
    Contribution,
    ConversationTurn,
    InteractionStats,
    LearnedReranker,
    Minus,
    RerankConfig,
    RerankerArtifact,
    ScoringModel,
    StatsArrays,
    artifact_path,
    catalogue_fingerprint,
    contributions,
    expand_candidates,
    featurize,
    fit_model,
    wish_keys,
)
from retrieval.rerank_bagging import BaggedTrees
from retrieval.retriever import Retriever
from retrieval.schema import Candidate, Query

log = logging.getLogger(__name__)

HEAD = 100  # what the retriever hands a reranker: the fused head (RetrievalConfig.mmr_pool * 2)
INNER_FOLDS = 5  # item-weight models per training set, each without a fifth of its dialogues


@dataclass
class TurnData:
    """One training turn: its query, the retriever's head, the embedded query text."""

    turn: RedialTurn
    query: Query
    head: list[Candidate]
    qvec: np.ndarray | None
    truth: frozenset[str]  # new-only truth (canonical ids)
    exclude: frozenset[str]  # context items (canonical ids): never ranked, never labelled


@dataclass
class TrainReport:
    """What training did: where the artifact is, OOF metrics (new-only, over the reranker's pool)."""

    path: Path
    turns: int
    extra_turns: int
    dialogues: int
    folds: int
    rows: int
    positives: int
    oof: dict[str, float]
    oof_head_only: dict[str, float]
    pool_recall: float
    head_recall: float
    seconds: float
    feature_importance: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        def fmt(m: dict[str, float]) -> str:
            return "  ".join(f"{k} {m[k]:.3f}" for k in ("R@1", "R@10", "R@50", "NDCG@10", "MRR") if k in m)

        lines = [
            (f"reranker trained on {self.turns} turns / {self.dialogues} dialogues ({self.folds}-fold CV by "
             f"dialogue; plus {self.extra_turns} turns of extra dialogues in every fold, never scored), "
             f"final model on {self.rows} rows ({self.positives} positives) in {self.seconds / 60:.1f} min"),
            f"saved: {self.path}",
            (f"candidate pool holds {self.pool_recall:.1%} of new-only rec items (retriever head alone "
             f"{self.head_recall:.1%})"),
            f"out-of-fold, new-only view, pool reranked:  {fmt(self.oof)}",
            f"out-of-fold, new-only view, head reranked:  {fmt(self.oof_head_only)}",
            "(the full table, both views: recbot eval redial --systems recbot,recbot+rerank)",
        ]
        return "\n".join(lines)


def fold_of_dialogue(dialog_id: str, folds: int) -> int:
    """A stable fold for a dialogue id (sha1 of the id, modulo ``folds``)."""
    return int(hashlib.sha1(dialog_id.encode("utf-8")).hexdigest()[:8], 16) % folds


def conversation_turns(turns: Sequence[RedialTurn], queries: Mapping[str, Query] | None = None
                       ) -> list[ConversationTurn]:
    """ReDial turns as generic conversation turns: gold context mentions and rec items (canonical), and
    the genres and people the understanding read as wanted before the turn (``queries`` by turn key)."""
    queries = queries or {}
    out = []
    for t in turns:
        q = queries.get(t.key)
        wanted = wish_keys(q.genres, q.people) if q is not None else ()
        out.append(ConversationTurn(t.dialog_id, tuple(t.context_ids), tuple(t.rec_ids), wanted))
    return out


def prepare_turns(turns: Sequence[RedialTurn], snapshot: IndexSnapshot, embedder: Embedder,
                  catalogue: RedialCatalogue, settings: Settings, *, progress: bool = True,
                  states: DialogueStates | None = None) -> list[TurnData]:
    """Queries and retriever heads for every turn with a non-empty new-only truth."""
    states = states or engine_states(settings, snapshot)
    config = eval_retrieval_config(services.retrieval_config(settings))
    retriever = Retriever(snapshot, embedder, config)
    probe = LearnedReranker(ScoringModel(None, InteractionStats(), 0, 0), embedder)
    out: list[TurnData] = []
    for turn in tqdm(turns, desc="retrieving candidates", unit="turn", disable=not progress):
        truth = truth_for_turn(turn, "new-only")
        if not truth:
            continue
        query = states.state(turn).to_query(HEAD)
        head = retriever.retrieve(query)
        out.append(TurnData(turn, query, head, probe.query_vector(query), frozenset(truth),
                            frozenset(turn.context_ids)))
    return out


def _rows(data: TurnData, table: ItemTable, arrays: StatsArrays, config: RerankConfig, catalogue: RedialCatalogue,
          minus: Minus | None, weights: TableWeights | None = None,
          head_only: bool = False) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(canonical ids, features, labels) of one turn's pool, context items removed."""
    pool = list(data.head) if head_only else expand_candidates(data.query, data.head, table, arrays, config, minus,
                                                                weights)
    ids = [catalogue.canonical_id(c.item.id) for c in pool]
    keep = [j for j, i in enumerate(ids) if i not in data.exclude]
    pool = [pool[j] for j in keep]
    ids = [ids[j] for j in keep]
    X = featurize(data.query, pool, table, arrays, data.qvec, minus, config.max_seeds, config.profile_genres,
                  weights)
    y = np.array([1 if i in data.truth else 0 for i in ids], dtype=np.int8)
    return ids, X, y


def _fit(data: Sequence[TurnData], table: ItemTable, catalogue: RedialCatalogue, contribs: dict[str, Contribution],
         config: RerankConfig, seed: int, negative_rate: float, members: int = 1) -> ScoringModel:
    """Fit one scorer on ``data`` with counts and item weights from ``data``'s dialogues (``members`` > 1:
    that many trees averaged, each fitted on a share of the dialogues: :class:`BaggedTrees`).

    A turn never sees its own dialogue: its own counts are removed (:class:`Minus`), and its item
    weights come from one of ``INNER_FOLDS`` models each learned without a share of the dialogues
    (the weights cannot forget one dialogue). Every positive is kept and a seeded random
    ``negative_rate`` share of the negatives (a uniform subsample of negatives changes the odds by a
    constant factor, not the order of candidates).
    """
    rng = np.random.default_rng(seed)
    dialogues = sorted({t.turn.dialog_id for t in data})
    stats = InteractionStats.from_contributions(contribs[d] for d in dialogues)
    arrays = StatsArrays(stats, table)
    weights = ItemWeights.fit(contribs[d].mentioned for d in dialogues)
    inner = {d: fold_of_dialogue(d + "#inner", INNER_FOLDS) for d in dialogues}
    inner_weights = [TableWeights(ItemWeights.fit(contribs[d].mentioned for d in dialogues if inner[d] != k), table)
                     for k in range(INNER_FOLDS)]
    minus_of: dict[str, Minus] = {}
    number = {d: j for j, d in enumerate(dialogues)}
    Xs, ys, gs = [], [], []
    for t in data:
        d = t.turn.dialog_id
        if d not in minus_of:
            minus_of[d] = Minus.of(contribs[d], table)
        _, X, y = _rows(t, table, arrays, config, catalogue, minus_of[d], inner_weights[inner[d]])
        if negative_rate < 1.0:
            keep = (y == 1) | (rng.random(len(y)) < negative_rate)
            X, y = X[keep], y[keep]
        Xs.append(X)
        ys.append(y)
        gs.append(np.full(len(y), number[d]))
    X = np.vstack(Xs)
    y = np.concatenate(ys)
    groups = np.concatenate(gs)
    model = (BaggedTrees(members, seed=seed).fit(X, y, groups) if members > 1 else fit_model(X, y, seed=seed))
    return ScoringModel(model=model, stats=stats, trained_on=len(y), positives=int(y.sum()), weights=weights)


def _top(ids: Sequence[str], scores: np.ndarray, keep: np.ndarray | None = None) -> list[str]:
    """The top ``K`` distinct ids by score (only rows in ``keep`` when given)."""
    order = np.argsort(-scores, kind="stable")
    if keep is not None:
        order = order[keep[order]]
    return list(dict.fromkeys(ids[j] for j in order))[:K]


def train(
    turns_path: str | Path,
    catalogue_path: str | Path,
    *,
    folds: int = 5,
    limit: int | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    seed: int = 0,
    config: RerankConfig | None = None,
    negative_rate: float = 0.3,
    extra_path: str | Path | None = None,
    members: int = 3,
) -> TrainReport:
    """Train, cross-validate and save the reranker for the ReDial catalogue; returns the report.

    ``extra_path``: more dialogues (a turns file or raw ReDial dialogues, e.g. the train-extra split)
    that every model trains on (counts and rows) but that are never scored, so the out-of-fold numbers
    stay those of ``turns_path``'s dialogues. ``members``: trees averaged per model (each fitted on 80%
    of the dialogues; 1 fits one on all of them).
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    if members < 1:
        raise ValueError(f"members must be at least 1, got {members}")
    settings = settings or get_settings()
    config = config or RerankConfig()
    t0 = time.perf_counter()
    catalogue = load_catalogue(catalogue_path)
    turns = read_turns(turns_path, catalogue)
    if limit:
        turns = turns[:limit]
    snapshot = open_redial_index(settings, catalogue_path, progress=progress)
    embedder = services.embedder(settings)
    table = snapshot.table
    extra_turns = read_any_turns(extra_path, catalogue) if extra_path else []
    if {t.dialog_id for t in extra_turns} & {t.dialog_id for t in turns}:
        raise ValueError(f"{extra_path}: shares dialogues with {turns_path}; pass another file as extra")
    states = engine_states(settings, snapshot)
    data = prepare_turns(turns, snapshot, embedder, catalogue, settings, progress=progress, states=states)
    extra = prepare_turns(extra_turns, snapshot, embedder, catalogue, settings, progress=progress, states=states)
    queries = {t.turn.key: t.query for t in [*data, *extra]}
    contribs = contributions(conversation_turns([*turns, *extra_turns], queries))
    dialogues = sorted({t.dialog_id for t in turns})
    fold_of = {d: fold_of_dialogue(d, folds) for d in dialogues}
    if len(set(fold_of.values())) < folds:
        raise ValueError(f"{len(dialogues)} dialogues are too few for {folds} folds")

    fold_models: list[ScoringModel] = []
    oof_ranks: list[int | None] = []
    head_ranks: list[int | None] = []
    in_pool = in_head = n_truth = 0
    bar = tqdm(total=folds + 1, desc="training", unit="model", disable=not progress)
    for f in range(folds):
        train_data = [t for t in data if fold_of[t.turn.dialog_id] != f] + extra
        test_data = [t for t in data if fold_of[t.turn.dialog_id] == f]
        scorer = _fit(train_data, table, catalogue, contribs, config, seed, negative_rate, members)
        arrays = StatsArrays(scorer.stats, table)
        weights = TableWeights(scorer.weights, table)
        rows = [_rows(t, table, arrays, config, catalogue, None, weights) for t in test_data]
        if rows:  # one prediction call per fold: the model's cost is per call and per tree
            scores = scorer.model.predict_proba(np.vstack([X for _, X, _ in rows]))[:, 1]
            bounds = np.cumsum([0, *(len(ids) for ids, _, _ in rows)])
        rank_col = FEATURES.index("fused_rank")
        for j, (t, (ids, X, _)) in enumerate(zip(test_data, rows, strict=True)):
            truth = sorted(t.truth)
            s = scores[bounds[j]:bounds[j + 1]]
            head_rows = ~np.isnan(X[:, rank_col])  # the retriever's own candidates
            oof_ranks.extend(item_ranks(_top(ids, s), truth))
            head_ranks.extend(item_ranks(_top(ids, s, head_rows), truth))
            pool_ids = set(ids)
            head_ids = {ids[i] for i in np.flatnonzero(head_rows)}
            in_pool += sum(1 for i in truth if i in pool_ids)
            in_head += sum(1 for i in truth if i in head_ids)
            n_truth += len(truth)
        fold_models.append(scorer)
        bar.update(1)
    final = _fit(data + extra, table, catalogue, contribs, config, seed, negative_rate, members)
    bar.update(1)
    bar.close()

    importance = _importance(final, data[:: max(1, len(data) // 100)], table, catalogue, config, seed)
    oof = mean_item_scores(scores_from_rank(r) for r in oof_ranks)
    oof_head = mean_item_scores(scores_from_rank(r) for r in head_ranks)
    fingerprint = catalogue_fingerprint(table, embedder.name)
    path = artifact_path(settings.cache_dir, INDEX_NAME, fingerprint)
    import sklearn

    artifact = RerankerArtifact(
        catalogue=INDEX_NAME, fingerprint=fingerprint, final=final, folds=fold_models, fold_of=fold_of,
        config=config,
        meta={
            "turns_file": str(turns_path), "turns_sha256": _sha256(Path(turns_path)), "turns": len(data),
            "extra_file": str(extra_path) if extra_path else None, "extra_turns": len(extra),
            "dialogues": len(dialogues), "cv": f"{folds}-fold, grouped by dialogue (sha1 of dialog_id)",
            "oof_new_only": oof, "oof_new_only_head_only": oof_head,
            "pool_recall": in_pool / n_truth if n_truth else 0.0,
            "trained": datetime.now(UTC).isoformat(timespec="seconds"),
            "sklearn": sklearn.__version__, "python": platform.python_version(), "seed": seed,
            "negative_rate": negative_rate, "members": members, "rerank_config": dict(vars(config)),
            "feature_importance": importance,
        },
    )
    artifact.save(path)
    repeats = train_repeats([*turns, *extra_turns], {t.key: states.state(t) for t in [*turns, *extra_turns]},
                            fold_of, folds, seed)
    if repeats is not None:
        save_repeats(repeats, path)
    return TrainReport(
        path=path, turns=len(data), extra_turns=len(extra), dialogues=len(dialogues), folds=folds, rows=final.trained_on,
        positives=final.positives, oof=oof, oof_head_only=oof_head,
        pool_recall=in_pool / n_truth if n_truth else 0.0, head_recall=in_head / n_truth if n_truth else 0.0,
        seconds=time.perf_counter() - t0, feature_importance=importance,
    )


def _importance(scorer: ScoringModel, sample: Sequence[TurnData], table: ItemTable, catalogue: RedialCatalogue,
                config: RerankConfig, seed: int) -> dict[str, float]:
    """Drop in mean log-likelihood when each feature is shuffled (permutation importance, in-sample:
    it explains the final model, it is not a result)."""
    from sklearn.inspection import permutation_importance

    arrays = StatsArrays(scorer.stats, table)
    weights = TableWeights(scorer.weights, table) if scorer.weights is not None else None
    parts = [_rows(t, table, arrays, config, catalogue, None, weights)[1:] for t in sample]
    if not parts:
        return {}
    X = np.vstack([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    if y.sum() == 0:
        return {}
    if len(y) > 20_000:  # subsample first: with max_samples the baseline would be scored on other rows
        keep = np.random.default_rng(seed).choice(len(y), 20_000, replace=False)
        X, y = X[keep], y[keep]
    res = permutation_importance(scorer.model, X, y, scoring="neg_log_loss", n_repeats=2, random_state=seed)
    return {name: round(float(v), 6) for name, v in sorted(zip(FEATURES, res.importances_mean, strict=True),
                                                             key=lambda kv: -kv[1])}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["HEAD", "TrainReport", "TurnData", "conversation_turns", "fold_of_dialogue", "prepare_turns", "train"]
