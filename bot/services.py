"""Wiring from settings to live components, shared by the CLI, the app and the API.

Expensive objects (the embedder, Chroma clients, opened indexes) are created once per process and
reused; everything here is thread-safe to call.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache

from bot.settings import Settings
from retrieval.embeddings import Embedder, create_embedder
from retrieval.index import CatalogueIndex, store_config_for
from retrieval.retriever import RetrievalConfig, Retriever
from retrieval.store import ChromaStore

log = logging.getLogger(__name__)
_lock = threading.Lock()


@lru_cache(maxsize=4)
def _embedder(backend: str, cache_dir: str) -> Embedder:
    from pathlib import Path

    return create_embedder(backend, cache_dir=Path(cache_dir))  # type: ignore[arg-type]


def embedder(settings: Settings) -> Embedder:
    with _lock:
        return _embedder(settings.embedding.backend, str(settings.cache_dir))


_stores: dict[tuple, ChromaStore] = {}


def store(settings: Settings) -> ChromaStore:
    cfg = store_config_for(settings.index_dir, settings.store.mode, settings.store.host, settings.store.port)
    key = (cfg.mode, str(cfg.path), cfg.host, cfg.port)
    with _lock:
        if key not in _stores:
            _stores[key] = ChromaStore(cfg)
        return _stores[key]


def catalogue_index(settings: Settings, name: str) -> CatalogueIndex:
    return CatalogueIndex(name, settings.index_dir, store(settings))


def retrieval_config(settings: Settings) -> RetrievalConfig:
    r = settings.retrieval
    return RetrievalConfig(candidates=r.candidates, rrf_k=r.rrf_k, mmr_lambda=r.mmr_lambda)


_transfer_rankers: dict[str, object] = {}


def transfer_ranker(settings: Settings):
    """The packaged transfer ranker (:mod:`retrieval.transfer`), loaded once per process; ``None`` if absent."""
    from retrieval.transfer import load_transfer

    emb = embedder(settings)
    with _lock:
        if emb.name not in _transfer_rankers:
            _transfer_rankers[emb.name] = load_transfer(emb)
        return _transfer_rankers[emb.name]


def ranker_for(settings: Settings, name: str, table):
    """The ranker ``retrieval.rerank="auto"`` picks for catalogue ``name``: the learned reranker trained for
    this exact catalogue content (``recbot train-reranker``) if there is one, else the transfer ranker tuned
    on this catalogue's feedback logs (``recbot train-reranker --from-feedback``) if there is one, else the
    packaged transfer ranker (any catalogue); ``None`` with ``rerank="off"``."""
    if settings.retrieval.rerank != "auto":
        return None
    from retrieval.feedback_ranker import load_feedback_ranker
    from retrieval.rerank import load_reranker

    return (load_reranker(settings.cache_dir, name, table, embedder(settings))
            or load_feedback_ranker(settings.cache_dir, name, embedder(settings)) or transfer_ranker(settings))


def retriever(settings: Settings, name: str) -> Retriever:
    """A retriever over the active generation of catalogue ``name`` (it must be ingested).

    ``retriever.ranker_name`` says which ranker orders its results ("learned", "transfer" or "none").
    """
    snapshot = catalogue_index(settings, name).open()
    emb = embedder(settings)
    reranker = ranker_for(settings, name, snapshot.table)
    return Retriever(snapshot, emb, retrieval_config(settings), reranker=reranker)


# what the catalogue's items are called in prompts; catalogues not listed are about movies
_NOUNS = {"recipes": ("recipes", "recipe")}
_llms: dict[tuple, object] = {}


def create_llm(settings: Settings):
    """A new LLM as ``settings.llm`` describes it (its backend's options; model files under the cache dir)."""
    from bot.llm.factory import create_llm as create

    cfg = settings.llm
    opts: dict[str, object]
    if cfg.backend == "llamacpp":
        opts = {"cache_dir": settings.cache_dir, "n_threads": cfg.n_threads, "parallel": cfg.parallel,
                "timeout_s": cfg.timeout_s}
    elif cfg.backend == "transformers":
        opts = {"cache_dir": settings.cache_dir}
    else:
        opts = {"base_url": cfg.base_url, "api_key": cfg.api_key, "timeout_s": cfg.timeout_s}
    return create(cfg.backend, cfg.model, **opts)


def llm(settings: Settings):
    """The configured LLM, loaded once per process."""
    key = (settings.llm.backend, settings.llm.model, settings.llm.base_url)
    with _lock:
        if key not in _llms:
            _llms[key] = create_llm(settings)
        return _llms[key]


_prompt_libraries: dict[str, object] = {}


def prompt_library(settings: Settings | None = None):
    """Packaged templates plus the user's own versions under ``data_dir/prompts`` (where new ones are saved)."""
    from bot.settings import get_settings
    from prompts.loader import DEFAULT_ROOT, PromptLibrary

    user = (settings or get_settings()).data_dir / "prompts"
    user.mkdir(parents=True, exist_ok=True)
    with _lock:
        if str(user) not in _prompt_libraries:
            _prompt_libraries[str(user)] = PromptLibrary([DEFAULT_ROOT, user], write_root=user)
        return _prompt_libraries[str(user)]


def engine(settings: Settings, name: str | None = None, *, prompt_set: str | None = None, k: int | None = None,
           prompts=None):
    """A conversation engine over catalogue ``name`` (default: settings.catalogue); ``prompts``: the
    prompt library (default :func:`prompt_library`)."""
    from bot.engine import ConversationEngine, EngineConfig

    name = name or settings.catalogue
    domain, noun = _NOUNS.get(name, ("movies", "movie"))
    config = EngineConfig(k=k or settings.recommendations, prompt_set=prompt_set or settings.prompt_set,
                          domain=domain, item_noun=noun, temperature=settings.llm.temperature,
                          max_tokens=settings.llm.max_tokens, explain=settings.explain)
    library = prompts or prompt_library(settings)
    return ConversationEngine(retriever(settings, name), llm(settings), library, config)


_session_stores: dict[tuple, object] = {}


def session_store(settings: Settings):
    """The configured session store: SQLite under the data dir, or PostgreSQL (one pool per process)."""
    from bot.sessions import open_session_store

    s = settings.sessions
    if s.backend == "sqlite":
        return open_session_store("sqlite", sqlite_path=settings.data_dir / "sessions.sqlite")
    key = (s.backend, s.dsn, s.pool_min, s.pool_max)
    with _lock:
        if key not in _session_stores:
            _session_stores[key] = open_session_store(s.backend, dsn=s.dsn, pool_min=s.pool_min,
                                                      pool_max=s.pool_max, timeout_s=s.timeout_s)
        return _session_stores[key]


def chat_service(settings: Settings, name: str | None = None, *, prompts=None, sessions=None,
                 prompt_set: str | None = None, k: int | None = None, keep_sessions: bool = True):
    """Engine + session store for catalogue ``name``: what the app and the API serve.

    ``prompts``: the prompt library of its engine (default :func:`prompt_library`); ``sessions``: a
    :class:`~bot.chat_service.SessionService` whose store and session locks to share (default: the
    configured :func:`session_store`); ``prompt_set`` and ``k`` as in :func:`engine`;
    ``keep_sessions=False``: no session store at all (the caller keeps the state: the terminal chat)."""
    from bot.chat_service import ChatService

    name = name or settings.catalogue
    built = engine(settings, name, prompts=prompts, prompt_set=prompt_set, k=k)
    if sessions is not None:
        return sessions.with_engine(built, name)
    return ChatService(built, session_store(settings) if keep_sessions else None, name)


def session_service(settings: Settings):
    """The configured sessions without an engine (nothing loads): what a face needs between turns."""
    from bot.chat_service import SessionService

    return SessionService(session_store(settings))
