"""Load a whole catalogue: find the mapping and the data, read every record, validate, report.

:func:`load_catalogue` is the one entry point the ingest code calls; it returns every valid item
*before* anything is written to an index, so a bad catalogue never leaves a half-built index behind::

    cat = load_catalogue("movies")                               # a bundled catalogue
    cat = load_catalogue("my_shop.yaml")                         # a mapping file naming its data
    cat = load_catalogue("export.csv", mapping="my_shop.yaml")   # data + mapping file
    cat = load_catalogue("id2info.json", mapping="redial")       # data + bundled mapping
    cat = load_catalogue("dump.jsonl", mapping="m.yaml", skip_invalid=True)
    print(cat.report.summary())

By default the first invalid record raises :class:`~retrieval.errors.CatalogueError` naming the file,
row and field. With ``skip_invalid=True`` invalid records are skipped, counted per kind in the
:class:`LoadReport`, and the first few messages kept.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from tqdm.auto import tqdm

from retrieval.errors import CatalogueError, Issue, IssueKind, MappingError
from retrieval.loaders import Record, read_records, resolve_paths
from retrieval.mapping import NAME_RE, FieldMapping, SourceSpec
from retrieval.schema import Item

log = logging.getLogger(__name__)

MAPPING_SUFFIXES = (".yaml", ".yml")
PROGRESS_MIN_BYTES = 5_000_000  # show a progress bar (on a terminal) for inputs at least this big


@dataclass
class LoadReport:
    """What happened while loading: rows read, items made, and every skipped row counted by kind.

    ``issues`` counts invalid rows per :class:`~retrieval.errors.IssueKind` value; ``messages`` keeps
    the first few of them in full (file, row, field, problem). ``renamed`` counts duplicate ids given
    a ``~2``-style suffix (mapping ``duplicates: suffix``).
    """

    rows: int = 0
    items: int = 0
    skipped: int = 0
    renamed: int = 0
    issues: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        text = f"{self.items} items from {self.rows} rows in {self.seconds:.2f}s"
        if self.skipped:
            kinds = ", ".join(f"{k}: {n}" for k, n in sorted(self.issues.items()))
            text += f"; {self.skipped} skipped ({kinds})"
        if self.renamed:
            text += f"; {self.renamed} duplicate ids renamed"
        return text


@dataclass
class LoadedCatalogue:
    """A validated catalogue, ready to index.

    ``name`` names the index / collection (lowercase ``a-z0-9-``, 3+ characters). ``source_desc``
    says in words where the items came from (for logs and the UI).
    """

    name: str
    items: list[Item]
    report: LoadReport
    source_desc: str
    description: str = ""
    mapping: FieldMapping | None = None


# --- bundled mappings ---------------------------------------------------------------------------


def _bundled_dir() -> Path:
    return Path(str(resources.files("retrieval.catalogues")))


def bundled_mapping_path(name: str) -> Path | None:
    """The mapping file of a bundled catalogue, or ``None`` when there is no such catalogue."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        return None
    path = _bundled_dir() / f"{name}.yaml"
    return path if path.is_file() else None


def list_bundled() -> list[tuple[str, str]]:
    """``(name, description)`` of every catalogue shipped with recbot, sorted by name."""
    out = []
    for path in sorted(_bundled_dir().glob("*.yaml")):
        mapping = FieldMapping.load(path)
        out.append((mapping.name or path.stem, mapping.description.strip()))
    return out


def load_mapping(mapping: str | Path) -> FieldMapping:
    """A bundled mapping by name (``movies``) or a mapping file by path."""
    if isinstance(mapping, str) and (bundled := bundled_mapping_path(mapping)) is not None:
        return FieldMapping.load(bundled)
    path = Path(mapping)
    if not path.is_file():
        names = ", ".join(name for name, _ in list_bundled())
        raise MappingError(f"{mapping}: no such mapping file or bundled catalogue (bundled: {names})",
                           source=path)
    return FieldMapping.load(path)


# --- data location ------------------------------------------------------------------------------


def resolve_source(mapping: FieldMapping) -> tuple[list[Path], str]:
    """The data files a mapping's ``source`` names, and a description of them."""
    spec = mapping.source
    where = mapping.path or "<mapping>"
    if spec is None:
        raise MappingError(
            f"{where}: this mapping names no data (`source`); pass the data file, e.g. "
            f"load_catalogue('path/to/data', mapping={str(mapping.path or 'mapping.yaml')!r})",
            source=mapping.path,
        )
    if spec.package is None:
        base = mapping.path.parent if mapping.path is not None else Path.cwd()
        path = spec.path or ""
        pattern = path if Path(path).is_absolute() else str(base / path)
        return resolve_paths(pattern), pattern
    return _package_files(spec, where), spec.describe()


def _package_files(spec: SourceSpec, where: object) -> list[Path]:
    package = spec.package or ""
    try:
        if spec.attribute is not None:
            module = importlib.import_module(package)
            value = getattr(module, spec.attribute)
            value = value() if callable(value) else value
            return resolve_paths(Path(value))
        found = importlib.util.find_spec(package)
    except ModuleNotFoundError as e:
        raise MappingError(f"{where}: source package {package!r} is not installed ({e})") from e
    except AttributeError as e:
        raise MappingError(f"{where}: source package {package!r} has no {spec.attribute!r}") from e
    if found is None:
        raise MappingError(f"{where}: source package {package!r} is not installed")
    if found.submodule_search_locations:
        folder = Path(next(iter(found.submodule_search_locations)))
    else:
        folder = Path(found.origin or "").parent
    pattern = spec.glob if spec.glob is not None else spec.path
    return resolve_paths(str(folder / pattern))  # type: ignore[operator]


# --- records -> items ---------------------------------------------------------------------------


def build_items(
    records: Iterable[Record],
    mapping: FieldMapping,
    *,
    skip_invalid: bool = False,
    limit: int | None = None,
    max_messages: int = 20,
) -> tuple[list[Item], LoadReport]:
    """Convert and validate records: every record becomes an item or an issue.

    Duplicate ids follow ``mapping.duplicates``: ``error`` (an issue), ``keep_first`` (later ones
    skipped and counted) or ``suffix`` (renamed ``id~2``, ``id~3``...). With ``skip_invalid`` false the
    first issue raises :class:`CatalogueError`; otherwise issues are counted in the report.
    """
    start = time.perf_counter()
    report = LoadReport()
    counts: Counter[str] = Counter()
    items: list[Item] = []
    seen: dict[str, str] = {}  # id -> where it was first seen

    def record_issue(issue: Issue) -> None:
        counts[issue.kind.value] += 1
        report.skipped += 1
        if len(report.messages) < max_messages:
            report.messages.append(str(issue))

    for record in records:
        if limit is not None and len(items) >= limit:
            break
        report.rows += 1
        try:
            item = mapping.to_item(record)
        except CatalogueError as e:
            if not skip_invalid or not e.issues:
                raise
            record_issue(e.issues[0])
            continue
        if item.id in seen:
            if mapping.duplicates == "suffix":
                n = 2
                while f"{item.id}~{n}" in seen:
                    n += 1
                log.debug("%s: duplicate id %r renamed %r", record.where, item.id, f"{item.id}~{n}")
                item = dataclasses.replace(item, id=f"{item.id}~{n}")
                report.renamed += 1
            else:
                issue = Issue(
                    IssueKind.DUPLICATE_ID, mapping.id.label,
                    f"duplicate id {item.id!r} (first at {seen[item.id]})", record.source, record.row,
                    record.key,
                )
                if mapping.duplicates == "error" and not skip_invalid:
                    raise CatalogueError.from_issue(issue)
                record_issue(issue)
                continue
        seen[item.id] = record.where
        items.append(item)

    report.items = len(items)
    report.issues = dict(counts)
    report.seconds = time.perf_counter() - start
    return items, report


def _progress(
    records: Iterator[Record], files: list[Path], name: str, progress: bool | None
) -> Iterator[Record]:
    if progress is False:
        return records
    if progress is None:
        size = sum(f.stat().st_size for f in files if f.is_file())
        if size < PROGRESS_MIN_BYTES:
            return records
        # disable=None: tqdm shows the bar only on a terminal
    return iter(tqdm(records, desc=f"loading {name}", unit=" rows", leave=False, mininterval=0.5,
                     disable=None if progress is None else False))


def load_catalogue(
    source: str | Path,
    mapping: str | Path | None = None,
    *,
    skip_invalid: bool = False,
    limit: int | None = None,
    progress: bool | None = None,
    max_messages: int = 20,
) -> LoadedCatalogue:
    """Load, convert and validate a catalogue.

    ``source`` is a bundled catalogue name (see :func:`list_bundled`), a mapping file (``.yaml``)
    whose ``source`` names the data, or a data file / glob; with a data file, ``mapping`` names a
    bundled mapping or a mapping file. ``limit`` stops after that many valid items. ``progress``:
    ``None`` shows a bar on a terminal for big inputs, ``True`` always, ``False`` never.
    """
    text = str(source)
    if mapping is None:
        if isinstance(source, str) and (bundled := bundled_mapping_path(source)) is not None:
            fm = FieldMapping.load(bundled)
            files, where = resolve_source(fm)
            desc = f"bundled catalogue {source!r}: {where}"
        elif Path(text).suffix.lower() in MAPPING_SUFFIXES:
            fm = load_mapping(Path(text))
            files, where = resolve_source(fm)
            desc = f"{where} (mapping {fm.path})"
        else:
            names = ", ".join(name for name, _ in list_bundled())
            raise CatalogueError(
                f"{text}: not a bundled catalogue ({names}) nor a mapping file (.yaml); to load a data "
                "file, pass mapping= (a bundled mapping name or a mapping file)",
                source=text,
            )
    else:
        fm = load_mapping(mapping)
        files = resolve_paths(source)
        label = f"bundled mapping {mapping!r}" if fm.path and fm.path.parent == _bundled_dir() else fm.path
        desc = f"{text} (mapping: {label})"

    name = fm.name or _slug(files[0].stem)
    if not NAME_RE.match(name):
        raise MappingError(f"{fm.path or text}: cannot name the catalogue from {files[0].name!r}; set `name`",
                           source=fm.path)

    start = time.perf_counter()
    records = read_records(files, fm.format, **fm.options)
    try:
        items, report = build_items(
            _progress(records, files, name, progress), fm, skip_invalid=skip_invalid, limit=limit,
            max_messages=max_messages,
        )
    finally:
        records.close()  # with `limit` or an error, release the open file / database now
    report.seconds = time.perf_counter() - start
    if not items:
        raise CatalogueError(f"{desc}: no valid items ({report.summary()})", source=files[0])
    log.info("catalogue %s: %s", name, report.summary())
    for message in report.messages[:5]:
        log.warning("catalogue %s: skipped %s", name, message)
    return LoadedCatalogue(
        name=name, items=items, report=report, source_desc=desc, description=fm.description.strip(),
        mapping=fm,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
