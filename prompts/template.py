"""One prompt template: its declared variables, its messages, its version, and rendering.

Content is rendered by a sandboxed Jinja2 environment with ``StrictUndefined``, so a typo in a
template fails loudly instead of rendering an empty string; at render time a declared variable that is
missing, or an undeclared one that is passed, is a :class:`PromptError` naming the file.
:meth:`PromptTemplate.render` returns plain ``{"role", "content"}`` dicts;
:meth:`PromptTemplate.to_langchain` gives the same template as a LangChain ``ChatPromptTemplate``
(jinja2 format, defaults applied as partials). Files are read by :mod:`prompts.template_file`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

if TYPE_CHECKING:
    from langchain_core.prompts import ChatPromptTemplate

BASE_SET = "default"
ROLES = ("system", "user", "assistant")
_SEMVER_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")

MISSING: Any = object()  # the default of a required variable


class PromptError(ValueError):
    """A template or set that cannot be used; the message starts with the offending file."""

    def __init__(self, path: Path | str | None, message: str) -> None:
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)


def _environment() -> SandboxedEnvironment:
    # Defaults match LangChain's jinja2 formatter (a plain SandboxedEnvironment), so render() and
    # to_langchain() produce the same text; StrictUndefined only changes what is an error.
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


TEMPLATES = _environment()


# ----------------------------------------------------------------------------------------- versions
def parse_version(value: Any, path: Path | str | None = None) -> tuple[int, int, int]:
    """``3`` -> (3, 0, 0); ``"1.2.0"`` -> (1, 2, 0). Anything else is a :class:`PromptError`."""
    if isinstance(value, bool):
        raise PromptError(path, f"field 'version': expected an int or 'X.Y.Z', got {value!r}")
    if isinstance(value, int) and value >= 0:
        return (value, 0, 0)
    if isinstance(value, str):
        if value.isdigit():
            return (int(value), 0, 0)
        m = _SEMVER_RE.match(value.strip())
        if m:
            return (int(m[1]), int(m[2]), int(m[3]))
    raise PromptError(path, f"field 'version': expected an int >= 0 or 'X.Y.Z', got {value!r}")


def next_version(current: int | str) -> int | str:
    """The version after ``current``, in the same style: 3 -> 4, "1.2.0" -> "1.3.0"."""
    if isinstance(current, int):
        return current + 1
    major, minor, _ = parse_version(current)
    return f"{major}.{minor + 1}.0"


# ---------------------------------------------------------------------------------------- templates
@dataclass(frozen=True)
class Variable:
    """A declared input variable. Without a default it is required at render time."""

    name: str
    description: str = ""
    default: Any = MISSING

    @property
    def required(self) -> bool:
        return self.default is MISSING


@dataclass(frozen=True)
class MessageTemplate:
    role: str
    content: str


@dataclass(frozen=True)
class PromptTemplate:
    """One validated template file. Immutable; reloading a changed file makes a new object."""

    name: str
    version: int | str
    description: str
    variables: dict[str, Variable]
    messages: tuple[MessageTemplate, ...]
    path: Path
    set_name: str
    _compiled: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    @property
    def version_key(self) -> tuple[int, int, int]:
        return parse_version(self.version, self.path)

    @property
    def input_variables(self) -> list[str]:
        return list(self.variables)

    @property
    def required_variables(self) -> list[str]:
        return [v.name for v in self.variables.values() if v.required]

    @property
    def defaults(self) -> dict[str, Any]:
        return {v.name: v.default for v in self.variables.values() if not v.required}

    def _context(self, values: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(values) - set(self.variables))
        if unknown:
            raise PromptError(
                self.path,
                f"template {self.name!r} does not declare variable(s) {unknown}; "
                f"declared: {sorted(self.variables)}",
            )
        missing = [n for n in self.required_variables if n not in values]
        if missing:
            raise PromptError(self.path, f"template {self.name!r} is missing required variable(s) {missing}")
        return {**self.defaults, **values}

    def render(self, **values: Any) -> list[dict[str, str]]:
        """Render to ``[{"role": ..., "content": ...}, ...]``; content is stripped of outer whitespace."""
        context = self._context(values)
        out: list[dict[str, str]] = []
        for i, (msg, compiled) in enumerate(zip(self.messages, self._compiled, strict=True)):
            try:
                text = compiled.render(**context)
            except (UndefinedError, SecurityError, TypeError, ValueError) as exc:
                raise PromptError(self.path, f"messages[{i}] ({msg.role}): render failed: {exc}") from exc
            out.append({"role": msg.role, "content": text.strip()})
        return out

    def to_langchain(self) -> ChatPromptTemplate:
        """The same template as a LangChain ``ChatPromptTemplate`` (jinja2 format, defaults as partials)."""
        from langchain_core.prompts import ChatPromptTemplate

        prompt = ChatPromptTemplate.from_messages(
            [(m.role, m.content) for m in self.messages], template_format="jinja2"
        )
        defaults = {k: v for k, v in self.defaults.items() if k in prompt.input_variables}
        return prompt.partial(**defaults) if defaults else prompt

    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")
