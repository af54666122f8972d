"""Train the transfer ranker (:mod:`retrieval.transfer`) on ReDial conversations mapped onto a catalogue.

    recbot train-reranker --transfer            # the bundled `movies` catalogue, writes retrieval/models/transfer/

Data: the dev turns (``valid_turns.jsonl``) and the recommender turns of the 813 train-split dialogues
(``train_extra_dialogues_raw.jsonl``), their movie names mapped onto the catalogue's films by normalised
title + year (:mod:`eval.transfer_data`). Each turn goes through the product's path (deterministic
understanding -> session state -> query -> retriever head, MMR off), exactly as ``recbot`` ranks it.

Steps, all grouped by dialogue into ``folds`` (sha1 of the dialogue id):

1. the two-tower (:mod:`retrieval.transfer_model`) is fitted with torch on the other folds' turns: a
   softmax over every catalogue item (context items masked), the new-only rec items as positives;
2. every turn's pool (retriever head + the two-tower's best items) is featurised with the two-tower of the
   fold that did not see it, and the gradient-boosted scorer is cross-validated the same way: the dev
   turns' out-of-fold numbers are printed (new-only view, over mapped rec items);
3. final models are fitted on everything and saved (a few MB) to ``out`` (default: the packaged
   ``retrieval/models/transfer/``); the fold models go to ``<data dir>/cache/rerankers/transfer-folds/``
   so that ``recbot eval redial --catalogue movies`` keeps the dev turns out-of-fold.

No row, count or co-occurrence table of ReDial is written: only learned weights.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from bot import services
from bot.settings import Settings, get_settings
from eval.metrics import item_ranks, mean_item_scores, scores_from_rank
from eval.redial_scoring import K
from eval.redial_setup import engine_states
from eval.redial_turns import RedialTurn, read_turns, truth_for_turn
from eval.systems import eval_retrieval_config
from eval.train_reranker import HEAD, fold_of_dialogue
from eval.transfer_data import mapped_catalogue, mapped_share, raw_dialogue_turns
from eval.transfer_fit import fit_scorer, fit_two_tower
from retrieval.index import IndexSnapshot
from retrieval.retriever import Retriever
from retrieval.schema import Candidate, Query
from retrieval.transfer import (
    PACKAGED_DIR,
    TransferArtifact,
    TransferConfig,
    TransferReranker,
    build_pool,
    featurize,
)
from retrieval.transfer_model import QueryParts, dense_text

log = logging.getLogger(__name__)

FOLDS_DIR = "transfer-folds"


@dataclass
class TransferTurn:
    turn: RedialTurn
    source: str  # "dev" | "extra"
    query: Query
    head: list[Candidate]
    parts: QueryParts
    truth: frozenset[str]
    fold: int


def open_catalogue(settings: Settings, name: str) -> IndexSnapshot:
    from bot.catalogues import ensure_indexed

    ensure_indexed(settings, name)
    return services.catalogue_index(settings, name).open()


def folds_dir(settings: Settings, catalogue: str) -> Path:
    return Path(settings.cache_dir) / "rerankers" / FOLDS_DIR / catalogue


def turn_queries(turns: Sequence[tuple[str, RedialTurn]], snapshot: IndexSnapshot, settings: Settings
                 ) -> list[Query]:
    """What the chat's own understanding makes of each turn's context, as a query (seconds, not minutes)."""
    states = engine_states(settings, snapshot)
    return [states.state(turn).to_query(HEAD) for _, turn in turns]


def prepare(turns: Sequence[tuple[str, RedialTurn]], snapshot: IndexSnapshot, settings: Settings, folds: int,
            progress: bool, queries: Sequence[Query] | None = None) -> list[TransferTurn]:
    """Query (``queries``: :func:`turn_queries`, computed here when not given), retriever head and query
    parts of every turn with a new-only truth."""
    embedder = services.embedder(settings)
    retriever = Retriever(snapshot, embedder, eval_retrieval_config(services.retrieval_config(settings)))
    queries = turn_queries(turns, snapshot, settings) if queries is None else queries
    out = []
    for (source, turn), query in tqdm(zip(turns, queries, strict=True), total=len(turns),
                                      desc="retrieving candidates", unit="turn", disable=not progress):
        truth = truth_for_turn(turn, "new-only")
        if not truth:
            continue
        head = retriever.retrieve(query)
        text = dense_text(query)
        parts = QueryParts.build(query, snapshot.table, embedder.embed_query(text) if text else None)
        out.append(TransferTurn(turn, source, query, head, parts, frozenset(truth),
                                fold_of_dialogue(turn.dialog_id, folds)))
    return out


def _prepared(pairs, snapshot: IndexSnapshot, settings: Settings, folds: int, progress: bool,
              catalogue: str) -> list[TransferTurn]:
    """:func:`prepare`, kept in the cache for the next run with the same turns, the same reading of them by
    the understanding (its queries are part of the key: a change to the parser prepares again) and the same
    index generation (the retriever heads are the slow part: minutes on a busy 2-core machine)."""
    import hashlib

    queries = turn_queries(pairs, snapshot, settings)
    key = hashlib.sha1(repr([(s, t.key, t.rec_ids, t.context) for s, t in pairs]).encode("utf-8"))
    key.update("".join(q.model_dump_json() for q in queries).encode("utf-8"))
    key.update(f"{snapshot.manifest.generation}|{snapshot.manifest.embedder}|{folds}|{HEAD}".encode())
    path = Path(settings.cache_dir) / "rerankers" / FOLDS_DIR / f"{catalogue}-prepared-{key.hexdigest()[:16]}.pkl"
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)  # written below, by this function, into this user's cache
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError) as exc:
            log.warning("ignoring the prepared turns in %s (%s: %s); preparing them again", path,
                        type(exc).__name__, exc)  # written by an older version of this code
    data = prepare(pairs, snapshot, settings, folds, progress, queries)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".tmp"), "wb") as fh:
        pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
    path.with_suffix(".tmp").replace(path)
    return data


def _rows(t: TransferTurn, reranker: TransferReranker, snapshot: IndexSnapshot):
    table = snapshot.table
    tt = reranker.artifact.two_tower.scores(t.parts, table)
    tt["has_film"] = reranker.artifact.two_tower.table_cache(table).has_film.astype(np.float64)
    from retrieval.transfer import allowed_mask

    allowed = allowed_mask(t.query, table)
    pool = build_pool(t.query, t.head, table, tt["total"], allowed, reranker.artifact.config.extra)
    exclude = set(t.turn.context_ids)
    pool = [c for c in pool if c.item.id not in exclude]
    X = featurize(t.query, pool, table, t.parts, tt, allowed, reranker.artifact.config.profile_genres)
    ids = [c.item.id for c in pool]
    y = np.array([1 if i in t.truth else 0 for i in ids], dtype=np.int8)
    return ids, X, y


def train_transfer(
    *,
    catalogue: str = "movies",
    turns_path: str | Path = "../shared/data/redial/valid_turns.jsonl",
    extra_path: str | Path | None = "../shared/data/redial/train_extra_dialogues_raw.jsonl",
    out: str | Path | None = None,
    folds: int = 5,
    epochs: int = 6,
    seed: int = 0,
    settings: Settings | None = None,
    progress: bool = True,
    limit: int | None = None,
) -> dict:
    """Train, cross-validate and save; returns a summary (printed by the CLI)."""
    settings = settings or get_settings()
    t0 = time.perf_counter()
    snapshot = open_catalogue(settings, catalogue)
    table = snapshot.table
    names = mapped_catalogue(table)
    dev = read_turns(turns_path, names)
    extra = raw_dialogue_turns(extra_path, names, prefix="train:") if extra_path else []
    dev_share = mapped_share(dev)
    pairs = [("dev", t) for t in dev if t.rec_ids] + [("extra", t) for t in extra]
    if limit:
        pairs = pairs[:limit]
    data = _prepared(pairs, snapshot, settings, folds, progress, catalogue)
    log.info("%d training turns (%d dev, %d extra)", len(data), sum(t.source == "dev" for t in data),
             sum(t.source == "extra" for t in data))
    if len({t.fold for t in data}) < folds:
        raise ValueError(f"{len(data)} turns are too few for {folds} folds")
    config = TransferConfig()
    embedder = services.embedder(settings)

    fold_tt = []
    for f in tqdm(range(folds), desc="two-tower folds", disable=not progress):
        fold_tt.append(fit_two_tower([t for t in data if t.fold != f], table, epochs=epochs, seed=seed))
    rows = {}
    for t in data:
        rer = TransferReranker(TransferArtifact(fold_tt[t.fold], None, config), None)
        rows[id(t)] = _rows(t, rer, snapshot)

    oof_ranks: list[int | None] = []
    fold_scorers = []
    for f in tqdm(range(folds), desc="scorer folds", disable=not progress):
        train_rows = [rows[id(t)] for t in data if t.fold != f]
        scorer = fit_scorer(train_rows, seed=seed)
        fold_scorers.append(scorer)
        for t in data:
            if t.fold == f and t.source == "dev":
                ids, X, _ = rows[id(t)]
                s = scorer.predict_proba(X)[:, 1] if len(ids) else np.zeros(0)
                order = np.argsort(-s, kind="stable")
                ranked = [ids[j] for j in order][:K]
                oof_ranks.extend(item_ranks(ranked, sorted(t.truth)))
    oof = mean_item_scores(scores_from_rank(r) for r in oof_ranks)

    final_tt = fit_two_tower(data, table, epochs=epochs, seed=seed)
    final_scorer = fit_scorer([rows[id(t)] for t in data], seed=seed)  # stacked on out-of-fold two-tower scores
    import sklearn
    import torch

    meta = {
        "catalogue": catalogue, "trained": datetime.now(UTC).isoformat(timespec="seconds"),
        "turns": {"dev": sum(t.source == "dev" for t in data), "extra": sum(t.source == "extra" for t in data)},
        "dev_rec_names_mapped": round(dev_share, 4), "folds": folds, "epochs": epochs, "seed": seed,
        "oof_dev_new_only": {k: round(v, 4) for k, v in oof.items()},
        "embedder": embedder.name, "sklearn": sklearn.__version__, "torch": torch.__version__,
        "data": "ReDial (CC BY 4.0) via iEvaLM-CRS; only learned weights are stored",
    }
    out_dir = Path(out) if out else PACKAGED_DIR
    TransferArtifact(final_tt, final_scorer, config, meta).save(out_dir)
    fdir = folds_dir(settings, catalogue)
    for f in range(folds):
        TransferArtifact(fold_tt[f], fold_scorers[f], config, {**meta, "fold": f}).save(fdir / f"fold{f}")
    fold_of = {t.turn.dialog_id: t.fold for t in data}
    with open(fdir / "fold_of.pkl", "wb") as fh:
        pickle.dump({"folds": folds, "fold_of": fold_of}, fh)
    size = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    return {**meta, "out": str(out_dir), "bytes": size, "minutes": round((time.perf_counter() - t0) / 60, 2),
            "oof": oof}


def load_folds(settings: Settings, catalogue: str, embedder) -> tuple[list[TransferReranker], dict[str, int]]:
    """The cross-validation rerankers and dialogue -> fold map written by :func:`train_transfer` (or empty)."""
    fdir = folds_dir(settings, catalogue)
    if not (fdir / "fold_of.pkl").is_file():
        return [], {}
    with open(fdir / "fold_of.pkl", "rb") as fh:
        blob = pickle.load(fh)
    rerankers = [TransferReranker(TransferArtifact.load(fdir / f"fold{f}"), embedder) for f in range(blob["folds"])]
    return rerankers, dict(blob["fold_of"])


def summary(result: dict) -> str:
    oof = result["oof"]
    return "\n".join([
        (f"transfer ranker trained on {result['turns']['dev']} dev + {result['turns']['extra']} train-extra turns "
         f"({result['folds']}-fold CV by dialogue), catalogue {result['catalogue']!r}; "
         f"{result['dev_rec_names_mapped']:.1%} of dev rec names map to its films"),
        "out-of-fold, dev turns, new-only (mapped rec items): "
        + "  ".join(f"{k} {oof[k]:.3f}" for k in ("R@1", "R@10", "R@50", "NDCG@10", "MRR") if k in oof),
        f"saved {result['out']} ({result['bytes'] / 1e6:.1f} MB) in {result['minutes']:.1f} min",
    ])


__all__ = ["FOLDS_DIR", "load_folds", "summary", "train_transfer"]
