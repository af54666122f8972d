"""Ranking systems for the ReDial benchmark, all behind one small interface (:class:`System`).

``rank(turn, k, exclude)`` returns up to ``k`` catalogue ids, best first, none in ``exclude``; the
runner canonicalises them (see :meth:`eval.redial_catalogue.RedialCatalogue.canonicalise`) and scores them.

- ``popularity`` — :class:`eval.baselines.PopularityRanker`, fitted on the turns being scored
  (in-sample: an optimistic reference, not a result).
- ``bm25`` — BM25 over the item texts, the last two utterances as the query.
- ``dense`` — MiniLM cosine between the last two utterances and the item texts (exact search).
- ``retrieval`` — the product's understanding and retrieval without any learned ranker: every
  utterance of the context goes through the engine's own understanding
  (:meth:`bot.engine.ConversationEngine.understand`; rules only unless ``llm=True``) into a
  :class:`bot.state.SessionState` — seeker utterances are read in order; titles the recommender
  mentioned are recorded as shown, so "seen it" / "loved that one" resolve as they do in the chat —
  then ``state.to_query()`` and :meth:`retrieval.retriever.Retriever.retrieve` with MMR off (the
  benchmark scores accuracy, not diversity).
- ``recbot`` — exactly what the chat runs on that catalogue: the same path with the ranker
  ``bot.services.ranker_for`` loads (``retrieval.rerank="auto"``: the catalogue's own learned reranker
  if one was trained, else the packaged transfer ranker). Dialogues the ranker was trained on are scored
  by the cross-validation model that never saw them (out-of-fold).
- ``recbot+rerank`` — the ReDial-only learned reranker (:mod:`retrieval.rerank`, id-based priors) named
  explicitly, with its repeat model in the all view; out-of-fold likewise.

Per-turn states are built incrementally: a dialogue's later turns extend the state of its earlier
ones instead of re-reading the whole context, and a context already read is never read again (which
matters when every utterance costs an LLM call and two systems score the same turns).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from bot.state import SessionState
from bot.understanding import Understander, Understanding
from eval.baselines import PopularityRanker
from eval.redial_turns import RedialTurn
from eval.repeats import RepeatModel, merge_by_probability, true_probability
from retrieval.embeddings import Embedder
from retrieval.index import IndexSnapshot
from retrieval.rerank import RerankerArtifact, cv_rerankers
from retrieval.retriever import Reranker, RetrievalConfig, Retriever
from retrieval.schema import Query

if TYPE_CHECKING:
    from bot.engine import ConversationEngine

log = logging.getLogger(__name__)

SYSTEMS: tuple[str, ...] = ("popularity", "bm25", "dense", "retrieval", "recbot", "recbot+rerank")
DEFAULT_SYSTEMS: tuple[str, ...] = ("popularity", "bm25", "dense", "retrieval", "recbot")
_MARGIN = 5  # extra ids asked for, so that canonicalising duplicates still leaves k


class System(Protocol):
    """Anything that ranks catalogue ids for a ReDial turn."""

    name: str

    def rank(self, turn: RedialTurn, k: int, exclude: Collection[str] = ()) -> list[str]: ...


# --------------------------------------------------------------------------------------------------
# the dialogue context


def roles(context: Sequence[str]) -> list[str]:
    """``"seeker"`` / ``"recommender"`` for each utterance of a ReDial context.

    The context alternates speakers and always ends with the seeker (the recommender answers next),
    so the role follows from the distance to the end.
    """
    n = len(context)
    return ["seeker" if (n - 1 - i) % 2 == 0 else "recommender" for i in range(n)]


def last_utterances(turn: RedialTurn, n: int = 2) -> str:
    """The last ``n`` non-empty utterances joined: the query of the bm25 and dense baselines."""
    return " ".join(u for u in turn.context[-n:] if u.strip())


UnderstandFn = Callable[[SessionState, str], Understanding]


class DialogueStates:
    """Builds the :class:`SessionState` a turn's context leads to, reusing the dialogue's last state.

    ``understand(state, text)`` reads one seeker utterance (default: the deterministic
    :meth:`Understander.parse`); titles in recommender utterances are found with the understander's
    title index and recorded as shown.
    """

    def __init__(self, understander: Understander, understand: UnderstandFn | None = None) -> None:
        self.understander = understander
        self.titles = understander.vocab.titles
        self._understand = understand or (lambda state, text: understander.parse(text, state))
        self._last: dict[str, tuple[tuple[str, ...], SessionState]] = {}
        self._done: dict[tuple[str, tuple[str, ...]], SessionState] = {}  # every context read so far
        self.utterances_read = 0

    @classmethod
    def from_engine(cls, engine: ConversationEngine) -> DialogueStates:
        """Seeker utterances read by the engine's own :meth:`ConversationEngine.understand` (the chat's code:
        rules, plus the LLM as its ``llm_understanding`` setting says), titles found by its title index."""
        return cls(engine.understander, lambda state, text: engine.understand(state, text))

    def state(self, turn: RedialTurn) -> SessionState:
        """The state after the whole context of ``turn`` (a fresh copy: callers may change it)."""
        context = tuple(turn.context)
        done = self._done.get((turn.dialog_id, context))
        if done is not None:  # a second system scoring the same turn
            return done.model_copy(deep=True)
        start, state = 0, SessionState()
        cached = self._last.get(turn.dialog_id)
        if cached is not None:
            prev, prev_state = cached
            # same dialogue, longer context, same speaker parity: continue from there
            if len(prev) <= len(context) and context[: len(prev)] == prev and (len(context) - len(prev)) % 2 == 0:
                start, state = len(prev), prev_state.model_copy(deep=True)
        who = roles(context)
        for i in range(start, len(context)):
            text = context[i]
            if not text.strip():
                continue
            if who[i] == "seeker":
                state.apply(self._understand(state, text))
                self.utterances_read += 1
            else:
                shown = [item_id for _, item_id, _ in self.titles.find_mentions(text)]
                if shown:
                    state.record_recommendations(shown)
        self._last[turn.dialog_id] = (context, state)
        self._done[(turn.dialog_id, context)] = state
        return state.model_copy(deep=True)


# --------------------------------------------------------------------------------------------------
# systems


class PopularitySystem:
    """Most-recommended items first, whatever was said (fitted on the given turns)."""

    def __init__(self, turns: Iterable[RedialTurn], id_of_name: dict[str, str], name: str = "popularity") -> None:
        self.name = name
        self.ranker = PopularityRanker().fit(turns, id_of_name)

    def rank(self, turn: RedialTurn, k: int, exclude: Collection[str] = ()) -> list[str]:
        return self.ranker.rank(turn, k, exclude)


def _allowed(snapshot: IndexSnapshot, exclude: Collection[str]) -> np.ndarray:
    allowed = np.ones(len(snapshot.table), dtype=bool)
    pos = [snapshot.table.pos[i] for i in exclude if i in snapshot.table.pos]
    if pos:
        allowed[pos] = False
    return allowed


class LexicalSystem:
    """BM25 between the last two utterances and the item texts."""

    def __init__(self, snapshot: IndexSnapshot, name: str = "bm25") -> None:
        self.name = name
        self.snapshot = snapshot

    def rank(self, turn: RedialTurn, k: int, exclude: Collection[str] = ()) -> list[str]:
        text = last_utterances(turn)
        allowed = _allowed(self.snapshot, exclude) if exclude else None
        hits = self.snapshot.lexical.search(text, k, allowed)
        items = self.snapshot.table.items
        return [items[p].id for p, _ in hits]


class DenseSystem:
    """MiniLM cosine between the last two utterances and every item text (exact, in memory)."""

    def __init__(self, snapshot: IndexSnapshot, embedder: Embedder, name: str = "dense") -> None:
        self.name = name
        self.snapshot = snapshot
        self.embedder = embedder
        self._last: tuple[str, np.ndarray] | None = None

    def _query_vector(self, text: str) -> np.ndarray:
        if self._last is None or self._last[0] != text:  # both views ask with the same text
            self._last = (text, self.embedder.embed_query(text))
        return self._last[1]

    def rank(self, turn: RedialTurn, k: int, exclude: Collection[str] = ()) -> list[str]:
        text = last_utterances(turn)
        if not text:
            return []
        sims = self.snapshot.table.vectors @ self._query_vector(text)
        if exclude:
            sims[~_allowed(self.snapshot, exclude)] = -np.inf
        k = min(k, int(np.isfinite(sims).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        items = self.snapshot.table.items
        return [items[int(p)].id for p in top]


def eval_retrieval_config(base: RetrievalConfig | None = None) -> RetrievalConfig:
    """The product's retrieval settings with MMR off and exact in-memory dense search.

    Accuracy is what the benchmark measures (diversity would only cost recall), and exact search
    keeps runs deterministic; both are documented in the report notes.
    """
    return dataclasses.replace(base or RetrievalConfig(), mmr_lambda=1.0, filter_mode="memory")


@dataclass
class RecbotSystem:
    """Understanding → session state → query → retriever (optionally with a reranker).

    ``retrievers`` maps a dialogue id to the retriever that must score it (the out-of-fold model of
    a cross-validated reranker); dialogues not listed use ``retriever``.
    """

    states: DialogueStates
    retriever: Retriever
    name: str = "recbot"
    retrievers: dict[str, Retriever] = field(default_factory=dict)
    repeats: RepeatModel | None = None  # all view: mentioned items compete, scored by this model
    negative_rate: float = 1.0  # the reranker's negative subsampling (to read its scores as probabilities)
    out_of_fold_turns: int = 0
    final_model_turns: int = 0
    _cached: tuple[str, int, list[tuple[str, float]]] | None = field(default=None, repr=False)

    def query(self, turn: RedialTurn, k: int) -> Query:
        return self.states.state(turn).to_query(k)

    def rank(self, turn: RedialTurn, k: int, exclude: Collection[str] = ()) -> list[str]:
        # Exclusions are removed afterwards: the query holds only what the conversation says, so both
        # views see the same ranking (computed once per turn: with MMR off a longer list only extends
        # a shorter one).
        skip = set(exclude)
        depth = k + _MARGIN + max(len(skip), len(turn.context_ids))
        if self._cached is None or self._cached[0] != turn.key or self._cached[1] < depth:
            retriever = self.retrievers.get(turn.dialog_id)
            if retriever is None:
                retriever = self.retriever
                self.final_model_turns += 1
            else:
                self.out_of_fold_turns += 1
            ranked = [(c.item.id, true_probability(c.signals["rerank"], self.negative_rate)
                       if "rerank" in c.signals else 0.0) for c in retriever.retrieve(self.query(turn, depth))]
            self._cached = (turn.key, depth, ranked)
        ranked = self._cached[2]
        if not skip and self.repeats is not None and turn.context_ids:  # the all view
            out = merge_by_probability(ranked, self.repeats.scores(turn, self.states.state(turn)))
        else:
            out = [i for i, _ in ranked if i not in skip]
        return out[: k + _MARGIN]


def fold_system(states: DialogueStates, snapshot: IndexSnapshot, embedder: Embedder, config: RetrievalConfig,
                final: Reranker | None, folds: Sequence[Reranker], fold_of: dict[str, int], *, name: str = "recbot",
                repeats: RepeatModel | None = None, negative_rate: float = 1.0) -> RecbotSystem:
    """A system ranking with ``final``, except that dialogues in ``fold_of`` are ranked by the fold model that
    never saw them (out-of-fold numbers for a ranker's own training dialogues)."""
    fold_retrievers = [Retriever(snapshot, embedder, config, reranker=r) for r in folds]
    by_dialogue = {d: fold_retrievers[f] for d, f in fold_of.items() if f < len(fold_retrievers)}
    return RecbotSystem(states, Retriever(snapshot, embedder, config, reranker=final), name, by_dialogue,
                        repeats=repeats, negative_rate=negative_rate)


def reranked_system(states: DialogueStates, snapshot: IndexSnapshot, embedder: Embedder,
                    config: RetrievalConfig, artifact: RerankerArtifact,
                    name: str = "recbot+rerank", repeats: RepeatModel | None = None) -> RecbotSystem:
    """``recbot`` with the reranker of ``artifact``: fold models for the conversations it was trained
    on (out-of-fold), the final model for any other conversation; ``repeats`` scores mentioned items in
    the all view."""
    final, folds, fold_of = cv_rerankers(artifact, embedder)
    fold_retrievers = [Retriever(snapshot, embedder, config, reranker=r) for r in folds]
    by_dialogue = {d: fold_retrievers[f] for d, f in fold_of.items()}
    return RecbotSystem(states, Retriever(snapshot, embedder, config, reranker=final), name, by_dialogue,
                        repeats=repeats, negative_rate=float(artifact.meta.get("negative_rate", 1.0)))


__all__ = [
    "DEFAULT_SYSTEMS",
    "SYSTEMS",
    "DenseSystem",
    "DialogueStates",
    "LexicalSystem",
    "PopularitySystem",
    "RecbotSystem",
    "System",
    "eval_retrieval_config",
    "fold_system",
    "last_utterances",
    "reranked_system",
    "roles",
]
