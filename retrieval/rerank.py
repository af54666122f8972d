"""A learned reranker: a gradient-boosted scorer over features of each candidate and the query.

No reranker model is packaged, so this one is trained here, on recorded conversations (for movies:
the ReDial dialogues, see ``recbot train-reranker``). It plugs into
:class:`retrieval.retriever.Retriever` through the ``Reranker`` protocol and does two things:

1. **adds candidates** the content lists cannot find: the items people recommended most often in the
   training conversations (ReDial's human recommenders favour well-known films, so popularity alone
   beats plain dense retrieval there), and items often recommended in conversations that mentioned
   the same items as this one ("co-recommended"). Added items obey the query exactly like retrieved
   ones: hard constraints (:func:`retrieval.filters.mask`) and exclusions (shown, seen, liked,
   disliked) always hold.
2. **scores every candidate** with :class:`~sklearn.ensemble.HistGradientBoostingClassifier` trees
   trained on (conversation turn, candidate) pairs labelled by whether the candidate was then
   recommended (``recbot train-reranker`` averages three, each fitted on 80% of the conversations:
   :class:`retrieval.rerank_bagging.BaggedTrees`).

The features (:data:`FEATURES`; :data:`FEATURE_VERSION` changes whenever their meaning does) mix
content and prior signals:

- retrieval: fused RRF score, raw dense and BM25 scores, whether a neighbour list found it, its
  position in the fused list;
- content: cosine of the query text to the item, max / mean cosine to the liked items and to every
  item mentioned so far, max cosine to disliked items, wanted genre / people match, genre overlap
  with the liked items, year distance to the liked items, the item's year;
- priors learned from the training conversations (:class:`InteractionStats`): how often the item was
  recommended and mentioned, and how often it was recommended after the items mentioned here
  (``P(recommended | seed mentioned)``, summed and maxed over seeds) or mentioned in the same
  conversations (co-mention, denser than co-recommendation), and how often it was recommended as a
  new film after the genres and people asked for here had been asked for (``P(recommended | wish)``,
  summed and maxed over the wishes: "horror" calls for the horror films people actually suggest, not
  every film tagged horror);
- learned item-to-item weights (:mod:`retrieval.item_weights`, EASE) from the items mentioned here:
  summed, largest, and the candidate's rank among every item by the summed weight;
- context: how many liked / mentioned items, words of free text and genres the query has.

Missing values are NaN (the boosted trees route them natively). A trained :class:`RerankerArtifact`
is cached under ``<cache>/rerankers/<catalogue>/`` and named by the catalogue fingerprint (every
item's content hash and the embedder) and the feature version, so a changed catalogue or feature set
never loads a stale model: :func:`load_reranker` simply finds nothing.
"""


from __future__ import annotations

import hashlib
import json
import logging
import pickle
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.item_weights import ItemWeights, TableWeights
from retrieval.itemstore import ItemTable
from retrieval.rerank_counts import (  # noqa: F401 - re-exported
    Contribution,
    ConversationTurn,
    InteractionStats,
    Minus,
    StatsArrays,
    contributions,
    title_words,
    wish_keys,
)
from retrieval.rerank_features import (
    FEATURE_VERSION,
    FEATURES,
    RerankConfig,
    _dense_text,
    expand_candidates,
    featurize,
)
from retrieval.rerank_fit import fit_model
from retrieval.schema import Candidate, Query

log = logging.getLogger(__name__)

ARTIFACT_DIR = "rerankers"


# --------------------------------------------------------------------------------------------------
# the model


_controller: Any = None


def predict_positive(model: Any, X: np.ndarray) -> np.ndarray:
    """``model.predict_proba(X)[:, 1]`` on one thread.

    A turn scores a few hundred rows: OpenMP's threads cost more than they save there, and on a busy
    2-core machine they wait on each other (35 ms a call instead of 2 ms, measured here).
    """
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="openmp"):
        return model.predict_proba(X)[:, 1]




@dataclass
class ScoringModel:
    """One trained scorer with the interaction counts it was trained with."""

    model: Any
    stats: InteractionStats
    trained_on: int  # training rows
    positives: int
    weights: ItemWeights | None = None  # learned item-to-item weights (the ``ease_*`` features)


@dataclass
class RerankerArtifact:
    """Everything ``recbot train-reranker`` saves for one catalogue.

    ``final`` was trained on every conversation; ``folds`` are the cross-validation models, and
    ``fold_of`` maps each training conversation to the fold whose model never saw it, so an
    evaluation on the training conversations can stay out-of-fold (see ``eval/systems.py``).
    """

    catalogue: str
    fingerprint: str
    final: ScoringModel
    folds: list[ScoringModel] = field(default_factory=list)
    fold_of: dict[str, int] = field(default_factory=dict)
    config: RerankConfig = field(default_factory=RerankConfig)
    meta: dict[str, Any] = field(default_factory=dict)
    feature_version: int = FEATURE_VERSION
    features: tuple[str, ...] = FEATURES

    def save(self, path: Path) -> Path:
        """Pickle the artifact atomically and write a readable ``.json`` summary beside it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        summary = {
            "catalogue": self.catalogue, "fingerprint": self.fingerprint,
            "feature_version": self.feature_version, "features": list(self.features),
            "folds": len(self.folds), "conversations": len(self.fold_of),
            "final_rows": self.final.trained_on, "final_positives": self.final.positives, **self.meta,
        }
        path.with_suffix(".json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> RerankerArtifact:
        # The artifact is written by `recbot train-reranker` into this user's own cache directory.
        with open(path, "rb") as fh:
            art = pickle.load(fh)
        if not isinstance(art, cls):
            raise TypeError(f"{path} does not hold a reranker artifact")
        if art.feature_version != FEATURE_VERSION or tuple(art.features) != FEATURES:
            raise ValueError(f"{path} was trained with feature version {art.feature_version}; "
                             f"this code uses {FEATURE_VERSION}: run `recbot train-reranker` again")
        return art


class LearnedReranker:
    """The :class:`~retrieval.retriever.Reranker` backed by one :class:`ScoringModel`.

    ``rerank`` expands the retriever's head with popular and co-recommended items, scores all of them
    and returns them best first; ``score`` is the model's probability that the item gets
    recommended, also kept as the ``rerank`` signal. Candidates the model ranks are never fewer than
    those given.
    """

    name = "learned"

    def __init__(self, scorer: ScoringModel, embedder: Embedder | None = None,
                 config: RerankConfig | None = None) -> None:
        self.scorer = scorer
        self.embedder = embedder
        self.config = config or RerankConfig()
        self._arrays: tuple[int, StatsArrays] | None = None
        self._weights: tuple[int, TableWeights | None] | None = None

    def arrays(self, table: ItemTable) -> StatsArrays:
        if self._arrays is None or self._arrays[0] != id(table):
            self._arrays = (id(table), StatsArrays(self.scorer.stats, table))
        return self._arrays[1]

    def weights(self, table: ItemTable) -> TableWeights | None:
        if self._weights is None or self._weights[0] != id(table):
            learned = self.scorer.weights
            self._weights = (id(table), TableWeights(learned, table) if learned is not None else None)
        return self._weights[1]

    def query_vector(self, query: Query) -> np.ndarray | None:
        text = _dense_text(query)
        return self.embedder.embed_query(text) if text and self.embedder is not None else None

    def pool(self, query: Query, candidates: Sequence[Candidate], table: ItemTable,
             minus: Minus | None = None) -> list[Candidate]:
        return expand_candidates(query, candidates, table, self.arrays(table), self.config, minus,
                                 self.weights(table))

    def rerank(self, query: Query, candidates: list[Candidate], table: ItemTable) -> list[Candidate]:
        pool = self.pool(query, candidates, table)
        if not pool:
            return pool
        X = featurize(query, pool, table, self.arrays(table), self.query_vector(query),
                      max_seeds=self.config.max_seeds, profile_genres=self.config.profile_genres,
                      weights=self.weights(table))
        scores = predict_positive(self.scorer.model, X)
        out = []
        for c, s in zip(pool, scores, strict=True):
            out.append(Candidate(item=c.item, score=float(s), signals={**c.signals, "rerank": float(s)},
                                 reasons=list(c.reasons)))
        out.sort(key=lambda c: -c.score)
        return out


# --------------------------------------------------------------------------------------------------
# where artifacts live


def catalogue_fingerprint(table: ItemTable, embedder_name: str) -> str:
    """A hash of every item's content and the embedder: a changed catalogue gets a new fingerprint."""
    h = hashlib.sha256(embedder_name.encode("utf-8"))
    for item in sorted(table.items, key=lambda it: it.id):
        h.update(item.id.encode("utf-8"))
        h.update(item.content_hash().encode("ascii"))
    return h.hexdigest()


def artifact_path(cache_dir: Path, catalogue: str, fingerprint: str) -> Path:
    """``<cache>/rerankers/<catalogue>/<fingerprint[:16]>-f<FEATURE_VERSION>.pkl``."""
    return Path(cache_dir) / ARTIFACT_DIR / catalogue / f"{fingerprint[:16]}-f{FEATURE_VERSION}.pkl"


def find_artifact(cache_dir: Path, catalogue: str, table: ItemTable, embedder_name: str) -> Path | None:
    """The artifact for this exact catalogue content, embedder and feature version, if trained.

    Hashing every item costs start-up time, so it is skipped when nothing was ever trained for
    ``catalogue`` (the usual case for the chat's own catalogues).
    """
    if not any(artifact_path(cache_dir, catalogue, "").parent.glob(f"*-f{FEATURE_VERSION}.pkl")):
        return None
    path = artifact_path(cache_dir, catalogue, catalogue_fingerprint(table, embedder_name))
    return path if path.is_file() else None


def load_reranker(cache_dir: Path, catalogue: str, table: ItemTable, embedder: Embedder) -> LearnedReranker | None:
    """The trained reranker for this catalogue (its final model), or ``None`` when none matches.

    What the retriever wiring calls: ``Retriever(snapshot, embedder, cfg, reranker=load_reranker(...))``.
    """
    t0 = time.perf_counter()
    path = find_artifact(cache_dir, catalogue, table, embedder.name)
    if path is None:
        log.info("no trained reranker for %r under %s", catalogue, Path(cache_dir) / ARTIFACT_DIR)
        return None
    try:
        art = RerankerArtifact.load(path)
    except (ValueError, TypeError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
        log.warning("ignoring reranker %s: %s", path, exc)
        return None
    log.info("loaded reranker %s in %.2f s", path, time.perf_counter() - t0)
    return LearnedReranker(art.final, embedder, art.config)


def cv_rerankers(art: RerankerArtifact, embedder: Embedder | None) -> tuple[LearnedReranker, list[LearnedReranker],
                                                                              Mapping[str, int]]:
    """(final, per-fold rerankers, conversation -> fold) of an artifact, for out-of-fold evaluation."""
    return (LearnedReranker(art.final, embedder, art.config),
            [LearnedReranker(f, embedder, art.config) for f in art.folds], art.fold_of)



__all__ = [
    "ARTIFACT_DIR",
    "FEATURES",
    "FEATURE_VERSION",
    "Contribution",
    "ConversationTurn",
    "InteractionStats",
    "LearnedReranker",
    "Minus",
    "RerankConfig",
    "RerankerArtifact",
    "ScoringModel",
    "StatsArrays",
    "artifact_path",
    "catalogue_fingerprint",
    "contributions",
    "cv_rerankers",
    "expand_candidates",
    "featurize",
    "find_artifact",
    "fit_model",
    "load_reranker",
    "predict_positive",
    "wish_keys",
]
