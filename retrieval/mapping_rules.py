"""The rules of a field mapping (:mod:`retrieval.mapping`): how one value, fact or list is made from a
record, where the data is, and the sandboxed Jinja2 environment their templates and expressions use."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from jinja2 import ChainableUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

# --- Jinja2 -------------------------------------------------------------------------------------


def _split(value: Any, sep: str = ",") -> list[Any]:
    if value is None or isinstance(value, Undefined):
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [part.strip() for part in str(value).split(sep) if part.strip()]


def _take(value: Any, n: int) -> list[Any]:
    if value is None or isinstance(value, Undefined):
        return []
    return list(value)[: max(0, int(n))]


def _clip(value: Any, n: int) -> str:
    text = "" if value is None or isinstance(value, Undefined) else " ".join(str(value).split())
    if len(text) <= n:
        return text
    cut = text[:n].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return cut + "…"


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _make_env() -> ImmutableSandboxedEnvironment:
    """Templates may read the record, never change it or reach outside it."""
    env = ImmutableSandboxedEnvironment(
        undefined=ChainableUndefined,
        finalize=_finalize,
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters.update(split=_split, take=_take, clip=_clip)
    return env


TEMPLATES = _make_env()
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")


def clean_text(text: str) -> str:
    """Collapse whitespace so templates can be written over several lines."""
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))


# --- rules --------------------------------------------------------------------------------------


def _path_shorthand(value: Any) -> Any:
    """``title: name`` means ``title: {field: name}``; ``people: [a, b]`` means ``{field: [a, b]}``."""
    if isinstance(value, (str, list)):
        return {"field": value}
    return value


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str | list[str] | None = None
    template: str | None = None

    @property
    def fields(self) -> list[str]:
        if self.field is None:
            return []
        return [self.field] if isinstance(self.field, str) else list(self.field)

    @property
    def label(self) -> str:
        return self.fields[0] if self.fields else "template"


class ValueRule(Rule):
    """How one value is made: from a field (or the first non-empty of several), a template or an
    expression; then optionally ``pattern`` (keep regex group 1, or the whole match) and ``strip``
    (remove every match)."""

    expression: str | None = None
    pattern: str | None = None
    strip: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ValueRule:
        given = [k for k in ("field", "template", "expression") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `field`, `template` or `expression`")
        for key in ("pattern", "strip"):
            regex = getattr(self, key)
            if regex is not None:
                try:
                    re.compile(regex)
                except re.error as e:
                    raise ValueError(f"`{key}` is not a valid regular expression: {e}") from e
        return self


class FactRule(ValueRule):
    """A typed fact. ``auto`` keeps str/int/float/bool values as they are; lists become strings
    joined with ``join``."""

    type: Literal["auto", "int", "float", "str", "bool"] = "auto"
    join: str = ", "


class ListRule(Rule):
    """A list of display strings (genres, people) from one or several fields, or a template."""

    split: str | None = None
    item: str | None = None
    lower: bool | None = None  # default: True for genres, False for people
    limit: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> ListRule:
        if (self.field is None) == (self.template is None):
            raise ValueError("give exactly one of `field` or `template`")
        return self


ValueSpec = Annotated[ValueRule, BeforeValidator(_path_shorthand)]
FactSpec = Annotated[FactRule, BeforeValidator(_path_shorthand)]
ListSpec = Annotated[ListRule, BeforeValidator(_path_shorthand)]


class SourceSpec(BaseModel):
    """Where the data is: ``path`` (file or glob, relative to the mapping file), or a file inside an
    installed Python package: ``package`` with ``attribute`` (a module attribute holding a path, or a
    function returning one), ``glob`` or ``path`` (relative to the package folder)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str | None = None
    package: str | None = None
    attribute: str | None = None
    glob: str | None = None

    @model_validator(mode="after")
    def _check(self) -> SourceSpec:
        if self.package is None:
            if self.path is None:
                raise ValueError("give `path`, or `package` with `attribute`, `glob` or `path`")
            if self.attribute or self.glob:
                raise ValueError("`attribute` and `glob` need `package`")
        elif sum(x is not None for x in (self.attribute, self.glob, self.path)) != 1:
            raise ValueError("with `package`, give exactly one of `attribute`, `glob` or `path`")
        return self

    def describe(self) -> str:
        if self.package is None:
            return str(self.path)
        if self.attribute:
            return f"{self.package}.{self.attribute}"
        return f"{self.package}/{self.glob or self.path}"


def _source_shorthand(value: Any) -> Any:
    return {"path": value} if isinstance(value, str) else value


SourceField = Annotated[SourceSpec, BeforeValidator(_source_shorthand)]
