"""Putting catalogues into the index, for every face: ingest one, or make sure a bundled one is indexed.

No printing here: what a person should read (the first-use notice, the ingest summary) is logged, or
handed to the ``notice`` callback a face passes (the CLI prints it to stderr).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot import services
from bot.settings import Settings
from retrieval import seed_vectors
from retrieval.catalogue import list_bundled, load_catalogue
from retrieval.embeddings import MODEL_SLUG
from retrieval.index import IndexUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """What one ingest did: the catalogue's name, the rows dropped on load (``skipped``: a summary, or
    ``None``), the index's own summary, and where shipped vectors were written (``write_seed`` only)."""

    name: str
    skipped: str | None
    summary: str
    seed_path: Path | None = None


def bundled_names() -> set[str]:
    return {n for n, _ in list_bundled()}


def ingest_catalogue(settings: Settings, source: str, mapping: str | None = None, *, skip_invalid: bool = False,
                     limit: int | None = None, progress: bool = True, write_seed: bool = False) -> IngestResult:
    """Load + index. Raises CatalogueError on invalid input. A bundled catalogue takes the vectors shipped
    with it (:mod:`retrieval.seed_vectors`) for every unchanged text; ``write_seed`` embeds without them and
    writes the index's vectors as the new shipped ones."""
    loaded = load_catalogue(source, mapping, skip_invalid=skip_invalid, limit=limit, progress=progress)
    skipped = loaded.report.summary() if loaded.report.skipped else None
    index = services.catalogue_index(settings, loaded.name)
    embedder = services.embedder(settings)
    seed = seed_vectors.load(loaded.name, MODEL_SLUG, embedder.dim) if loaded.name in bundled_names() else None
    report = index.ingest(loaded.items, embedder, batch_size=settings.embedding.batch_size, progress=progress,
                          seed=None if write_seed else seed)
    seed_path = None
    if write_seed:
        table = index.open().table
        seed_path = seed_vectors.write(loaded.name, MODEL_SLUG, [it.text for it in table.items], table.vectors)
    return IngestResult(loaded.name, skipped, report.summary(), seed_path)


def ensure_indexed(settings: Settings, name: str, *, notice: Callable[[str], None] | None = None) -> None:
    """Ingest a bundled catalogue on first use, so the first command just works.

    ``notice`` receives the lines a person waiting should read (default: logged at INFO). Raises
    :class:`IndexUnavailable` for a catalogue that is neither indexed nor bundled.
    """
    if services.catalogue_index(settings, name).manifest() is not None:
        return
    if name not in bundled_names():
        raise IndexUnavailable(f"catalogue {name!r} is not indexed; run `recbot ingest` on it first")
    say = notice or log.info
    say(f"First use of the bundled catalogue {name!r}: indexing it once (later starts are instant).")
    result = ingest_catalogue(settings, name)
    say(result.summary)
