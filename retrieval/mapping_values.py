"""Reading one record with the rules of a field mapping: dotted paths, templates and expressions,
``pattern`` / ``strip``, and typing; every failure raises :class:`~retrieval.errors.CatalogueError`
naming the file, row and field."""

from __future__ import annotations

import math
from typing import Any

from retrieval.errors import CatalogueError, Issue, IssueKind
from retrieval.loaders import Record
from retrieval.mapping_rules import FactRule, ListRule, ValueRule
from retrieval.schema import Scalar

_SPECIAL = ("_key", "_row", "_file")


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted path (``name.en``, ``genre.0``); ``None`` when any step is missing.

    A key that itself contains dots (``recipe.en`` as one key) is found too.
    """
    if isinstance(data, dict) and path in data:
        return data[path]
    node = data
    for step in path.split("."):
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, (list, tuple)) and step.lstrip("-").isdigit():
            index = int(step)
            node = node[index] if -len(node) <= index < len(node) else None
        else:
            return None
        if node is None:
            return None
    return node


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    return False


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class RecordValues:
    """Evaluates the rules of one mapping against one record; every failure names file/row/field."""

    __slots__ = ("_vars", "compiled", "record")

    def __init__(self, record: Record, compiled: dict[str, Any]) -> None:
        self.record = record
        self.compiled = compiled
        self._vars: dict[str, Any] | None = None

    # errors

    def fail(self, kind: IssueKind, field: str, message: str) -> None:
        r = self.record
        raise CatalogueError.from_issue(Issue(kind, field, message, r.source, r.row, r.key))

    # raw values

    @property
    def vars(self) -> dict[str, Any]:
        if self._vars is None:
            r = self.record
            self._vars = {**r.data, "record": r.data, "_key": r.key, "_row": r.row, "_file": r.source.name}
        return self._vars

    def get(self, path: str) -> Any:
        if path in _SPECIAL:
            r = self.record
            return {"_key": r.key, "_row": r.row, "_file": r.source.name}[path]
        return get_path(self.record.data, path)

    def render(self, field: str, template: Any) -> str:
        try:
            return template.render(self.vars)
        except Exception as e:  # any template failure is a record problem
            self.fail(IssueKind.TEMPLATE_ERROR, field, f"the template failed: {type(e).__name__}: {e}")
            raise AssertionError("unreachable") from e

    def raw(self, field: str, rule: ValueRule) -> Any:
        """The rule's value before typing: first non-blank field, rendered template, or expression."""
        if rule.field is not None:
            value = None
            for path in rule.fields:
                value = self.get(path)
                if not _is_blank(value):
                    break
        elif rule.template is not None:
            value = self.render(field, self.compiled[field])
        else:
            try:
                value = self.compiled[field](**self.vars)
            except Exception as e:  # noqa: BLE001
                self.fail(IssueKind.TEMPLATE_ERROR, field, f"the expression failed: {type(e).__name__}: {e}")
        if isinstance(value, str):
            strip = self.compiled.get(f"{field}:strip")
            if strip is not None:
                stripped = strip.sub("", value)
                value = stripped if stripped.strip() else value  # never strip a value away entirely
            pattern = self.compiled.get(f"{field}:pattern")
            if pattern is not None:
                m = pattern.search(value)
                value = (m.group(1) if m.groups() else m.group(0)) if m else None
            if value is not None:
                value = value.strip()
        return None if _is_blank(value) else value

    # typed values

    def id(self, rule: ValueRule) -> str:
        field = rule.label
        value = self.raw("id", rule)
        if value is None:
            self.fail(IssueKind.MISSING_ID, field, "no id (missing or empty)")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(IssueKind.WRONG_TYPE, field, f"an id must be a string or a number, got {_show(value)}")
        return str(value)

    def text_value(self, field: str, rule: ValueRule, empty: IssueKind) -> str:
        value = self.raw(field, rule)
        if isinstance(value, (dict, list)):
            self.fail(IssueKind.WRONG_TYPE, rule.label, f"expected text, got {_show(value)}")
        text = "" if value is None else " ".join(str(value).split())
        if not text:
            self.fail(empty, rule.label, f"empty {field}")
        return text

    def int_value(self, field: str, rule: ValueRule) -> int | None:
        return self._typed(field, rule, "int")  # type: ignore[return-value]

    def float_value(self, field: str, rule: ValueRule) -> float | None:
        return self._typed(field, rule, "float")  # type: ignore[return-value]

    def fact(self, field: str, rule: FactRule) -> Scalar | None:
        return self._typed(field, rule, rule.type, join=rule.join)

    def _typed(self, field: str, rule: ValueRule, type_: str, join: str = ", ") -> Scalar | None:
        value = self.raw(field, rule)
        if value is None:
            return None
        try:
            return _coerce(value, type_, join)
        except (TypeError, ValueError) as e:
            self.fail(IssueKind.WRONG_TYPE, rule.label if rule.field is not None else field, str(e))
            raise AssertionError("unreachable") from e

    def list_value(self, field: str, rule: ListRule, *, lower: bool) -> tuple[str, ...]:
        lower = rule.lower if rule.lower is not None else lower
        if rule.template is not None:
            values: list[Any] = [self.render(field, self.compiled[field])]
        else:
            values = []
            for path in rule.fields:
                value = self.get(path)
                values.extend(value if isinstance(value, (list, tuple)) else [value])
        out: list[str] = []
        seen: set[str] = set()
        for value in values:
            if rule.item is not None:
                value = get_path(value, rule.item)
            if _is_blank(value):
                continue
            if isinstance(value, (dict, list, tuple)):
                self.fail(IssueKind.WRONG_TYPE, rule.label,
                          f"expected strings, got {_show(value)} (set `item` to pick a key)")
            parts = str(value).split(rule.split) if rule.split else [str(value)]
            for part in parts:
                text = " ".join(part.split())
                if lower:
                    text = text.lower()
                if text and text.casefold() not in seen:
                    seen.add(text.casefold())
                    out.append(text)
        if rule.limit is not None:
            out = out[: rule.limit]
        return tuple(out)


_TRUE = {"true", "yes", "y", "t", "1"}
_FALSE = {"false", "no", "n", "f", "0"}


def _coerce(value: Any, type_: str, join: str = ", ") -> Scalar | None:
    """Type one non-blank value; raise ``ValueError`` with a readable message when it does not fit."""
    if type_ == "auto":
        if isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
            return join.join(str(v) for v in value if not _is_blank(v)) or None
        raise ValueError(f"expected a scalar (text, number or boolean), got {_show(value)}")
    if type_ == "str":
        if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
            return join.join(str(v) for v in value if not _is_blank(v)) or None
        if isinstance(value, (dict, list, tuple)):
            raise ValueError(f"expected text, got {_show(value)}")
        return str(value)
    if type_ == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"{_show(value)} is not a boolean")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{_show(value)} is not {'an integer' if type_ == 'int' else 'a number'}")  # noqa: TRY004
    number: float | int
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise ValueError(
                    f"{_show(value)} is not {'an integer' if type_ == 'int' else 'a number'}"
                ) from None
    else:
        number = value
    if isinstance(number, float) and not math.isfinite(number):
        if math.isnan(number):
            return None
        raise ValueError(f"{_show(value)} is not a finite number")
    if type_ == "int":
        if isinstance(number, float):
            if not number.is_integer():
                raise ValueError(f"{_show(value)} is not an integer")
            return int(number)
        return number
    return float(number)
