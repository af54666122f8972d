"""`recbot ingest` and `recbot search`: put a catalogue into the index and query it."""

from __future__ import annotations

import argparse
import json
import sys
import time

from bot import catalogues, services
from bot.settings import Settings, get_settings
from retrieval.catalogue import list_bundled
from retrieval.errors import CatalogueError
from retrieval.index import IndexUnavailable
from retrieval.schema import Query, Range

INGEST_HELP = """\
Load a catalogue, validate every record, embed the items with the packaged MiniLM and index them in
Chroma (dense vectors) and BM25 (words). Re-running it on an unchanged catalogue embeds nothing;
changed items are re-embedded and removed ones deleted. Nothing is written unless the whole file is
valid (or --skip-invalid drops the bad rows and reports them), and an interrupted ingest leaves the
previous index in use.

CATALOGUE is a bundled catalogue ({bundled}), a mapping file (YAML), or a data file (JSON, JSONL, CSV,
Parquet, SQLite) with --mapping naming a bundled mapping or a mapping file.

examples:
  recbot ingest movies
  recbot ingest ../shared/data/redial/id2info.json --mapping redial
  recbot ingest my_shop.csv --mapping my_shop.yaml --skip-invalid
"""

SEARCH_HELP = """\
Query an ingested catalogue the way the chat does, and print the ranked items with their scores and
the reasons they matched. Free text is matched by meaning (embeddings) and by words (BM25); the
options add hard constraints and preferences. Dislikes are filters, never query text.

examples:
  recbot search "funny space adventure" --genre comedy --years 1980-1989 --not-genre horror
  recbot search "" --like "Alien (1979)" --catalogue movies
  recbot search "quick vegetarian dinner" --catalogue recipes --fact calories=:500
"""


def _years(text: str) -> Range:
    lo, _, hi = text.partition("-") if "-" in text else (text, "", text)
    return Range(float(lo) if lo else None, float(hi) if hi else None)


def _fact(text: str) -> tuple[str, Range]:
    name, sep, rng = text.partition("=")
    lo, colon, hi = rng.partition(":")
    if not sep or not colon:
        raise argparse.ArgumentTypeError(f"--fact wants NAME=MIN:MAX (either side may be empty), got {text!r}")
    return name, Range(float(lo) if lo else None, float(hi) if hi else None)


def register(sub: argparse._SubParsersAction) -> None:
    bundled = ", ".join(name for name, _ in list_bundled())
    p = sub.add_parser("ingest", help="load, validate, embed and index a catalogue",
                       description=INGEST_HELP.format(bundled=bundled),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("catalogue", help="bundled name, mapping file, or data file (with --mapping)")
    p.add_argument("--mapping", help="bundled mapping name or mapping file for a data file")
    p.add_argument("--skip-invalid", action="store_true", help="drop invalid rows and report counts")
    p.add_argument("--limit", type=int, help="only the first N valid items (for trying things out)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--write-seed-vectors", action="store_true",
                   help="(maintainers) index a bundled catalogue without its shipped vectors, then write its "
                        "vectors as the shipped ones (they make the first ingest on a new machine fast)")
    p.set_defaults(func=cmd_ingest)

    s = sub.add_parser("search", help="query an ingested catalogue and show ranked items with reasons",
                       description=SEARCH_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("text", help="what you are looking for (may be empty with --like or --genre)")
    s.add_argument("--catalogue", "-c", help="catalogue name (default: settings.catalogue)")
    s.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    s.add_argument("--genre", action="append", default=[], help="wanted genre (repeatable)")
    s.add_argument("--person", action="append", default=[], help="wanted person (repeatable)")
    s.add_argument("--not-genre", action="append", default=[], help="unwanted genre: filtered out")
    s.add_argument("--not-person", action="append", default=[], help="unwanted person: filtered out")
    s.add_argument("--years", type=_years, help="year range, e.g. 1980-1989, 2000-, -1970")
    s.add_argument("--fact", type=_fact, action="append", default=[], help="numeric range NAME=MIN:MAX")
    s.add_argument("--like", action="append", default=[], help="liked item id or exact title (repeatable)")
    s.add_argument("--dislike", action="append", default=[], help="disliked item id or exact title")
    s.add_argument("--exclude", action="append", default=[], help="item id never to show")
    s.add_argument("--require-genre", action="store_true", help="make --genre a hard filter")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(func=cmd_search)


def ingest(settings: Settings, source: str, mapping: str | None = None, *, skip_invalid: bool = False,
           limit: int | None = None, progress: bool = True, write_seed: bool = False) -> str:
    """:func:`bot.catalogues.ingest_catalogue`, printing its reports; returns the catalogue name."""
    result = catalogues.ingest_catalogue(settings, source, mapping, skip_invalid=skip_invalid, limit=limit,
                                         progress=progress, write_seed=write_seed)
    if result.skipped:
        print(result.skipped, file=sys.stderr)
    print(result.summary)
    if result.seed_path is not None:
        size = result.seed_path.stat().st_size / 1e6
        print(f"wrote the shipped vectors of {result.name!r} to {result.seed_path} ({size:.1f} MB)")
    return result.name


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        bundled = args.catalogue in catalogues.bundled_names()
        if args.write_seed_vectors and (args.mapping or args.limit or not bundled):
            print("error: --write-seed-vectors is for a whole bundled catalogue (no --mapping, no --limit)",
                  file=sys.stderr)
            return 2
        ingest(settings, args.catalogue, args.mapping, skip_invalid=args.skip_invalid, limit=args.limit,
               progress=not args.quiet, write_seed=args.write_seed_vectors)
    except CatalogueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except IndexUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def ensure_indexed(settings: Settings, name: str) -> None:
    """:func:`bot.catalogues.ensure_indexed` for the CLI: the first-use notice goes to stderr."""
    catalogues.ensure_indexed(settings, name, notice=lambda line: print(line, file=sys.stderr))


def _resolve(retriever, refs: list[str]) -> list[str]:
    out = []
    by_label = {it.label.casefold(): it.id for it in retriever.table.items}
    for ref in refs:
        if ref in retriever.table.pos:
            out.append(ref)
        elif ref.casefold() in by_label:
            out.append(by_label[ref.casefold()])
        else:
            raise SystemExit(f"error: no item with id or title {ref!r} in the catalogue")
    return out


def cmd_search(args: argparse.Namespace) -> int:
    settings = get_settings()
    name = args.catalogue or settings.catalogue
    try:
        ensure_indexed(settings, name)
        retriever = services.retriever(settings, name)
    except (IndexUnavailable, CatalogueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    query = Query(
        text=args.text, genres=args.genre, people=args.person, unwanted_genres=args.not_genre,
        unwanted_people=args.not_person, year=args.years, facts=dict(args.fact),
        liked_ids=_resolve(retriever, args.like), disliked_ids=_resolve(retriever, args.dislike),
        exclude_ids=args.exclude, require=["genres"] if args.require_genre else [], k=args.k,
    )
    t0 = time.perf_counter()
    results = retriever.retrieve(query)
    ms = (time.perf_counter() - t0) * 1000
    if args.json:
        print(json.dumps([c.to_dict() for c in results], indent=2, ensure_ascii=False))
        return 0
    if not results:
        print("No items match these constraints.")
        return 0
    for rank, c in enumerate(results, 1):
        facts = ", ".join(c.item.genres[:3])
        print(f"{rank:>2}. {c.item.label}  [{c.score:.3f}]  {facts}")
        if c.reasons:
            print(f"    why: {'; '.join(c.reasons)}")
    print(f"({len(results)} of {len(retriever.table)} items, {ms:.0f} ms)")
    return 0
