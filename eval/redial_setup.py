"""What a ReDial benchmark run and the reranker training open: the catalogue's index (ingested if
needed), the name resolution, the turns, the engine whose understanding reads the dialogues, and the
trained reranker and repeat model cached for the catalogue."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

from bot import services
from bot.settings import Settings
from eval.redial_catalogue import RedialCatalogue, load_catalogue
from eval.redial_turns import RedialTurn, read_turns
from eval.repeats import RepeatModel
from retrieval.embeddings import Embedder
from retrieval.index import IndexSnapshot
from retrieval.rerank import RerankerArtifact, find_artifact
from retrieval.retriever import Retriever

log = logging.getLogger(__name__)

INDEX_NAME = "redial"


class RunnerError(RuntimeError):
    """A run cannot start (unknown system, no trained reranker...); the message says what to do."""


def open_redial_index(settings: Settings, catalogue_path: str | Path, *, progress: bool = True) -> IndexSnapshot:
    """Ingest ``id2info.json`` as the index ``redial`` (a no-op when unchanged) and open it."""
    from retrieval.catalogue import load_catalogue as load_items

    loaded = load_items(catalogue_path, mapping="redial", progress=progress)
    index = services.catalogue_index(settings, loaded.name)
    report = index.ingest(loaded.items, services.embedder(settings),
                          batch_size=settings.embedding.batch_size, progress=progress)
    log.info("%s", report.summary())
    return index.open()


def open_benchmark_catalogue(settings: Settings, catalogue: str | Path, *,
                             progress: bool = True) -> tuple[IndexSnapshot, RedialCatalogue, str]:
    """(snapshot, name resolution, index name) for ``catalogue``: a ReDial ``id2info.json`` path (the
    index ``redial``), or the name of a catalogue to transfer to (e.g. the bundled ``movies``; ingested if
    needed) whose films ReDial names map onto by normalised title + year."""
    if Path(catalogue).is_file():
        return open_redial_index(settings, catalogue, progress=progress), load_catalogue(catalogue), INDEX_NAME
    from bot.catalogues import ensure_indexed
    from eval.transfer_data import mapped_catalogue

    name = str(catalogue)
    ensure_indexed(settings, name)
    snapshot = services.catalogue_index(settings, name).open()
    return snapshot, mapped_catalogue(snapshot.table), name


def read_any_turns(path: str | Path, catalogue: RedialCatalogue) -> list[RedialTurn]:
    """A turns file (``*_turns.jsonl``) or raw ReDial dialogues (``*_dialogues_raw.jsonl``, cut into turns)."""
    from eval.redial_format import iter_jsonl
    from eval.transfer_data import raw_dialogue_turns

    first = next((row for _, row in iter_jsonl(Path(path))), {})
    if "messages" in first:
        return raw_dialogue_turns(path, catalogue, prefix="train:")
    return read_turns(path, catalogue)


def understander_for(snapshot: IndexSnapshot):
    from bot.understanding import Understander

    return Understander.from_items(snapshot.table.items)


def load_artifact(settings: Settings, snapshot: IndexSnapshot, embedder: Embedder) -> RerankerArtifact:
    path = find_artifact(settings.cache_dir, INDEX_NAME, snapshot.table, embedder.name)
    if path is None:
        raise RunnerError(
            "no trained reranker for this ReDial catalogue; train one first:\n"
            "  recbot train-reranker --turns ../shared/data/redial/valid_turns.jsonl "
            "--catalogue ../shared/data/redial/id2info.json"
        )
    try:
        return RerankerArtifact.load(path)
    except (ValueError, TypeError, EOFError, AttributeError, pickle.UnpicklingError) as exc:
        raise RunnerError(f"the cached reranker {path} cannot be used ({exc}); run `recbot train-reranker` again") from exc


def repeats_path(artifact_path: Path) -> Path:
    """Where the all view's repeat model (:mod:`eval.repeats`) sits beside a reranker artifact."""
    return artifact_path.with_name(artifact_path.stem + ".repeats.pkl")


def save_repeats(model: RepeatModel, artifact_path: Path) -> Path:
    path = repeats_path(artifact_path)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return path


def load_repeats(settings: Settings, snapshot: IndexSnapshot, embedder: Embedder) -> RepeatModel | None:
    """The repeat model trained with this catalogue's reranker, if any (a self-written local file)."""
    path = find_artifact(settings.cache_dir, INDEX_NAME, snapshot.table, embedder.name)
    if path is None or not repeats_path(path).is_file():
        return None
    try:
        with open(repeats_path(path), "rb") as fh:
            model = pickle.load(fh)  # written by `recbot train-reranker` in this cache
    except (EOFError, AttributeError, pickle.UnpicklingError) as exc:
        log.warning("ignoring %s: %s", repeats_path(path), exc)
        return None
    return model if isinstance(model, RepeatModel) else None


def engine_states(settings: Settings, snapshot: IndexSnapshot):
    """Dialogue states read the way the chat reads messages (its engine's ``understand``, rules only):
    what the rankers train on, so training sees the states the benchmark and the chat build."""
    from eval.systems import DialogueStates

    return DialogueStates.from_engine(benchmark_engine(settings, snapshot, understander_for(snapshot), llm=False))


def benchmark_engine(settings: Settings, snapshot: IndexSnapshot, understander, *, llm: bool):
    """The chat's :class:`~bot.engine.ConversationEngine` over ``snapshot`` whose ``understand`` the benchmark
    calls: rules only (no LLM loaded, ``llm_understanding="never"``) unless ``llm``."""
    from bot.engine import ConversationEngine, EngineConfig

    return ConversationEngine(
        Retriever(snapshot, services.embedder(settings), services.retrieval_config(settings)),
        services.llm(settings) if llm else None, services.prompt_library(),
        EngineConfig(llm_understanding="always" if llm else "never", prompt_set=settings.prompt_set),
        understander=understander,
    )
