"""Read raw records from catalogue files: JSON, JSONL, CSV, Parquet and SQLite.

:func:`read_records` yields :class:`Record` objects: the raw ``dict`` of one record plus where it came
from, so that every later problem can be reported as "file, row, field". Nothing here knows about
items; :mod:`retrieval.mapping` turns records into items.

Row numbers are 1-based and mean what a person would look for in the file:

========  ======================================================================
JSONL     the line number
CSV/TSV   the line number where the record starts (the header is line 1)
JSON      the record's position in the file (the array index + 1)
Parquet   the row's position in the file
SQLite    the table's ``rowid``; with ``query`` the position in the result
========  ======================================================================

Format options (``**options``):

- ``json``: ``records`` — where the records are inside the document, a dotted path whose ``*`` steps
  iterate over every value of an object (or element of an array). A list found at the end of the path
  is a list of records; an object is one record. The key matched by the last ``*`` is kept as
  :attr:`Record.key`: ``records: "*"`` reads ``{"<id>": {...}, ...}`` with the ids as keys, and
  ``{"breakfast": [{...}], "lunch": [...]}`` with the meal as key. Without ``records`` the document
  must be an array of objects. ``encoding`` (default ``utf-8-sig``).
- ``jsonl``: ``encoding``.
- ``csv``: ``delimiter`` (``,``; a ``.tsv`` file defaults to a tab), ``quotechar``, ``encoding``.
- ``parquet``: ``columns`` (read only these), ``batch_size``.
- ``sqlite``: ``table`` or ``query`` (any SQL ``SELECT``, so tables can be joined). Without either,
  a database holding exactly one table reads that table.
"""

from __future__ import annotations

import csv
import glob
import json
import logging
import sqlite3
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.errors import CatalogueError

log = logging.getLogger(__name__)

FORMATS = ("json", "jsonl", "csv", "parquet", "sqlite")

_SUFFIXES = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".db": "sqlite",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
}

FORMAT_OPTIONS = {  # the options each format accepts
    "json": {"records", "encoding"},
    "jsonl": {"encoding"},
    "csv": {"delimiter", "quotechar", "encoding"},
    "parquet": {"columns", "batch_size"},
    "sqlite": {"table", "query"},
}


@dataclass(frozen=True, slots=True)
class Record:
    """One raw record and where it was read from.

    ``row`` is 1-based (see the module docstring for what it counts in each format). ``key`` is the
    object key the record was found under when a JSON ``records`` path iterates an object.
    """

    source: Path
    row: int
    data: dict[str, Any]
    key: str | None = None

    @property
    def where(self) -> str:
        text = f"{self.source.name}, row {self.row}"
        return f"{text}, key {self.key!r}" if self.key is not None else text


def detect_format(path: str | Path) -> str:
    """The format implied by a file's suffix; raises :class:`CatalogueError` for unknown suffixes."""
    suffix = Path(path).suffix.lower()
    try:
        return _SUFFIXES[suffix]
    except KeyError:
        known = ", ".join(sorted(_SUFFIXES))
        raise CatalogueError(
            f"{path}: cannot tell the format from the suffix {suffix!r}; pass a format "
            f"({', '.join(FORMATS)}) or use one of: {known}",
            source=path,
        ) from None


def resolve_paths(path: str | Path | Sequence[str | Path]) -> list[Path]:
    """Expand one path, a glob (``data/*.jsonl``, ``**`` allowed) or a list of them into files.

    Raises :class:`CatalogueError` when a path does not exist, a glob matches nothing, or a path is
    a directory.
    """
    if isinstance(path, (str, Path)):
        path = [path]
    files: list[Path] = []
    for p in path:
        text = str(p)
        if Path(text).exists():
            matches = [Path(text)]
        elif any(ch in text for ch in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(text, recursive=True))]
            matches = [m for m in matches if m.is_file()]
            if not matches:
                raise CatalogueError(f"{text}: the pattern matches no files", source=text)
        else:
            raise CatalogueError(f"{text}: no such file", source=text)
        for m in matches:
            if m.is_dir():
                raise CatalogueError(f"{m}: is a directory; name the files or use a glob", source=m)
        files.extend(matches)
    return files


def read_records(
    path: str | Path | Sequence[str | Path], fmt: str | None = None, **options: Any
) -> Generator[Record, None, None]:
    """Yield every record of one or several files (globs allowed), in file order.

    ``fmt`` is one of :data:`FORMATS`; by default each file's suffix decides. ``options`` are the
    format's options (see the module docstring); unknown ones are an error. Unreadable or malformed
    files raise :class:`CatalogueError` naming the file (and the line for JSONL/CSV).
    """
    if fmt is not None and fmt not in FORMATS:
        raise CatalogueError(f"unknown format {fmt!r}; expected one of: {', '.join(FORMATS)}")
    for file in resolve_paths(path):
        file_fmt = fmt or detect_format(file)
        unknown = set(options) - FORMAT_OPTIONS[file_fmt]
        if unknown:
            raise CatalogueError(
                f"{file}: unknown {file_fmt} option(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(FORMAT_OPTIONS[file_fmt])) or 'none'}",
                source=file,
            )
        log.debug("reading %s as %s", file, file_fmt)
        yield from _READERS[file_fmt](file, **options)


# --- JSON ---------------------------------------------------------------------------------------


def _read_json(path: Path, records: str | None = None, encoding: str = "utf-8-sig") -> Iterator[Record]:
    try:
        with path.open(encoding=encoding) as f:
            doc = json.load(f)
    except json.JSONDecodeError as e:
        raise CatalogueError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}",
                             source=path, row=e.lineno) from e
    except (OSError, UnicodeDecodeError) as e:
        raise CatalogueError(f"{path}: cannot read: {e}", source=path) from e

    if records is None:
        if not isinstance(doc, list):
            raise CatalogueError(
                f"{path}: the document is a JSON {_json_type(doc)}, not an array of records; set the "
                "`records` option (e.g. records: \"*\" for an object of records, records: items for "
                '{"items": [...]})',
                source=path,
            )
        found: Iterable[tuple[Any, str | None]] = ((r, None) for r in doc)
    else:
        steps = [s for s in str(records).split(".") if s]
        found = _walk(doc, steps, None, path, str(records))

    for row, (data, key) in enumerate(found, start=1):
        if not isinstance(data, dict):
            raise CatalogueError(
                f"{path}: record {row} is a JSON {_json_type(data)}, not an object", source=path, row=row
            )
        yield Record(path, row, data, key)


def _walk(
    node: Any, steps: list[str], key: str | None, path: Path, spec: str
) -> Iterator[tuple[Any, str | None]]:
    """Follow a ``records`` path; ``*`` iterates an object's values (keeping the key) or a list."""
    if not steps:
        if isinstance(node, list):
            for element in node:
                yield element, key
        else:
            yield node, key
        return
    step, rest = steps[0], steps[1:]
    if step == "*":
        if isinstance(node, dict):
            for k, value in node.items():
                yield from _walk(value, rest, str(k), path, spec)
        elif isinstance(node, list):
            for value in node:
                yield from _walk(value, rest, key, path, spec)
        else:
            raise CatalogueError(
                f"{path}: records path {spec!r}: '*' reached a JSON {_json_type(node)}", source=path
            )
    elif isinstance(node, dict) and step in node:
        yield from _walk(node[step], rest, key, path, spec)
    elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
        yield from _walk(node[int(step)], rest, key, path, spec)
    else:
        raise CatalogueError(f"{path}: records path {spec!r}: no {step!r} in the document", source=path)


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


# --- JSONL --------------------------------------------------------------------------------------


def read_jsonl(path: Path, encoding: str = "utf-8-sig") -> Iterator[Record]:
    """Each non-blank line of a JSON Lines file as a :class:`Record`; a line that is not a JSON object raises
    :class:`CatalogueError` naming the file and line."""
    try:
        with path.open(encoding=encoding) as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as e:
                    raise CatalogueError(
                        f"{path}, line {line_no}: invalid JSON at column {e.colno}: {e.msg}",
                        source=path, row=line_no,
                    ) from e
                if not isinstance(data, dict):
                    raise CatalogueError(
                        f"{path}, line {line_no}: a JSON {_json_type(data)}, not an object",
                        source=path, row=line_no,
                    )
                yield Record(path, line_no, data)
    except (OSError, UnicodeDecodeError) as e:
        raise CatalogueError(f"{path}: cannot read: {e}", source=path) from e


# --- CSV ----------------------------------------------------------------------------------------


def _read_csv(
    path: Path, delimiter: str | None = None, quotechar: str = '"', encoding: str = "utf-8-sig"
) -> Iterator[Record]:
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(encoding=encoding, newline="") as f:
            reader = csv.reader(f, delimiter=delimiter, quotechar=quotechar, strict=True)
            line_no = 1
            try:
                header = next(reader, None)
                if not header:
                    raise CatalogueError(f"{path}: empty file, no header line", source=path, row=1)
                header = [h.strip() for h in header]
                blank = [i + 1 for i, h in enumerate(header) if not h]
                if blank:
                    raise CatalogueError(f"{path}, line 1: header column(s) {blank} have no name",
                                         source=path, row=1)
                dupes = sorted({h for h in header if header.count(h) > 1})
                if dupes:
                    raise CatalogueError(f"{path}, line 1: repeated header name(s) {dupes}",
                                         source=path, row=1)
                while True:
                    line_no = reader.line_num + 1
                    values = next(reader, None)
                    if values is None:
                        break
                    if not values or (len(values) == 1 and not values[0].strip()):
                        continue
                    if len(values) != len(header):
                        raise CatalogueError(
                            f"{path}, line {line_no}: {len(values)} fields, but the header has "
                            f"{len(header)}",
                            source=path, row=line_no,
                        )
                    yield Record(path, line_no, dict(zip(header, values, strict=True)))
            except csv.Error as e:
                raise CatalogueError(f"{path}, line {reader.line_num}: malformed CSV: {e}",
                                     source=path, row=reader.line_num) from e
    except (OSError, UnicodeDecodeError) as e:
        raise CatalogueError(f"{path}: cannot read: {e}", source=path) from e


# --- Parquet ------------------------------------------------------------------------------------


def _read_parquet(path: Path, columns: list[str] | None = None, batch_size: int = 4096) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        if columns:
            missing = [c for c in columns if c not in pf.schema_arrow.names]
            if missing:
                raise CatalogueError(f"{path}: no column(s) {missing}; the file has "
                                     f"{pf.schema_arrow.names}", source=path)
        row = 0
        for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
            for data in batch.to_pylist():
                row += 1
                yield Record(path, row, data)
    except (pa.ArrowException, OSError) as e:
        raise CatalogueError(f"{path}: not a readable Parquet file: {e}", source=path) from e


# --- SQLite -------------------------------------------------------------------------------------


def _read_sqlite(path: Path, table: str | None = None, query: str | None = None) -> Iterator[Record]:
    if table and query:
        raise CatalogueError(f"{path}: give either `table` or `query`, not both", source=path)
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise CatalogueError(f"{path}: cannot open the SQLite database: {e}", source=path) from e
    try:
        try:
            tables = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
            )]
        except sqlite3.DatabaseError as e:
            raise CatalogueError(f"{path}: not a readable SQLite database: {e}", source=path) from e
        if query is None:
            if table is None:
                if len(tables) != 1:
                    raise CatalogueError(
                        f"{path}: the database has {len(tables)} tables ({', '.join(tables) or 'none'}); "
                        "set `table` or `query`",
                        source=path,
                    )
                table = tables[0]
            if table not in tables:
                raise CatalogueError(f"{path}: no table {table!r}; tables: {', '.join(tables)}", source=path)
            yield from _sqlite_table(con, path, table)
        else:
            try:
                cur = con.execute(query)
            except sqlite3.Error as e:
                raise CatalogueError(f"{path}: the query failed: {e}", source=path) from e
            names = [d[0] for d in cur.description or ()]
            for row, values in enumerate(cur, start=1):
                yield Record(path, row, dict(zip(names, values, strict=True)))
    finally:
        con.close()


def _sqlite_table(con: sqlite3.Connection, path: Path, table: str) -> Iterator[Record]:
    quoted = '"' + table.replace('"', '""') + '"'
    try:
        cur = con.execute(f"SELECT rowid AS __rowid__, * FROM {quoted}")
        with_rowid = True
    except sqlite3.OperationalError:  # a view or a WITHOUT ROWID table
        cur = con.execute(f"SELECT * FROM {quoted}")
        with_rowid = False
    names = [d[0] for d in cur.description]
    for position, values in enumerate(cur, start=1):
        if with_rowid:
            yield Record(path, values[0], dict(zip(names[1:], values[1:], strict=True)))
        else:
            yield Record(path, position, dict(zip(names, values, strict=True)))


_READERS = {
    "json": _read_json,
    "jsonl": read_jsonl,
    "csv": _read_csv,
    "parquet": _read_parquet,
    "sqlite": _read_sqlite,
}
