"""Reading ReDial files (as prepared by iEvaLM-CRS): the error that names file, line and field, and the
JSON-lines and field readers :mod:`eval.redial_catalogue`, :mod:`eval.redial_turns` and
:mod:`eval.redial_dialogues` share."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from retrieval.loaders import CatalogueError, read_jsonl


class RedialFormatError(ValueError):
    """A ReDial file does not have the expected shape; the message names file, line and field."""


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object raises
    :class:`RedialFormatError` naming the file and line."""
    try:
        for record in read_jsonl(path, encoding="utf-8"):
            yield record.row, record.data
    except CatalogueError as exc:
        raise RedialFormatError(str(exc)) from exc


def str_list(value: Any, where: str) -> tuple[str, ...]:
    """``value`` as a tuple of strings (``None``: empty); RedialFormatError naming ``where`` otherwise."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RedialFormatError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def require_field(row: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``row[name]``, which must be there and of type ``kind``; RedialFormatError naming ``where`` otherwise."""
    if name not in row:
        raise RedialFormatError(f"{where}: missing field {name!r}")
    value = row[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RedialFormatError(f"{where}: field {name!r} has type {type(value).__name__}, expected {kind}")
    return value
