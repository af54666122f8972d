"""Errors and validation issues raised while reading a catalogue.

Every problem found in a user's catalogue is reported with *where* it is: the file, the row (line
number for JSONL/CSV, 1-based position for JSON and Parquet, ``rowid`` for an SQLite table) and the
field. An :class:`Issue` is one such problem; a :class:`CatalogueError` carries one or more of them
(or just a message, for problems with a whole file or with the mapping file itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class IssueKind(StrEnum):
    """What is wrong with a record. Reports count issues per kind."""

    MISSING_ID = "missing_id"
    DUPLICATE_ID = "duplicate_id"
    WRONG_TYPE = "wrong_type"
    EMPTY_TITLE = "empty_title"
    EMPTY_TEXT = "empty_text"
    TEMPLATE_ERROR = "template_error"


@dataclass(frozen=True)
class Issue:
    """One invalid record: which file, which row, which field, and what is wrong with it.

    ``key`` is the dictionary key the record was found under (JSON documents iterated with
    ``records: "*"``), shown because it is often easier to search for than a position.
    """

    kind: IssueKind
    field: str
    message: str
    source: Path | None = None
    row: int | None = None
    key: str | None = None

    @property
    def where(self) -> str:
        """``file.csv, row 12`` (with the record key when there is one)."""
        parts = [self.source.name if self.source else "<unknown file>"]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.key is not None:
            parts.append(f"key {self.key!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.where}, field {self.field!r}: {self.message} [{self.kind}]"


class CatalogueError(ValueError):
    """A catalogue, a data file or a mapping file cannot be used as it is.

    ``source``, ``row`` and ``field`` locate the problem when it is known; ``issues`` holds the
    invalid records behind the error (one when loading stops at the first invalid record).
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
        issues: list[Issue] | None = None,
    ) -> None:
        super().__init__(message)
        self.source = Path(source) if source is not None else None
        self.row = row
        self.field = field
        self.issues = list(issues or [])

    @classmethod
    def from_issue(cls, issue: Issue) -> CatalogueError:
        return cls(str(issue), source=issue.source, row=issue.row, field=issue.field, issues=[issue])


class MappingError(CatalogueError):
    """The field-mapping file itself is invalid (unknown key, bad template, missing source...)."""
