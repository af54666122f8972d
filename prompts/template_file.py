"""Reading one prompt template file: YAML, validated key by key; every problem is a
:class:`~prompts.template.PromptError` naming the file.

A template file is YAML with exactly these keys::

    name: recommend               # must match the file name (``recommend.yaml`` / ``recommend.v2.yaml``)
    version: 1                    # an int, or a semver string "1.2.0"
    description: what it is for
    input_variables:              # every variable the messages use must be declared here
      items: {description: the recommended items, as dicts}
      known: {description: what we know, default: []}   # a default makes it optional
    messages:                     # role (system | user | assistant) + Jinja2 content
      - role: system
        content: |
          ...

``input_variables`` may also be a plain list of names (all required). Content is rendered by a
sandboxed Jinja2 environment with ``StrictUndefined``, so a typo in a template fails loudly instead of
rendering an empty string. Problems are :class:`PromptError` and always name the file: bad YAML,
unknown keys, a name that does not match the file, a Jinja syntax error, a variable used but not
declared (found at load time with ``jinja2.meta.find_undeclared_variables``), and at render time a
declared variable that is missing or an undeclared one that is passed.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError, meta

from prompts.template import (
    BASE_SET,
    MISSING,
    ROLES,
    TEMPLATES,
    MessageTemplate,
    PromptError,
    PromptTemplate,
    Variable,
    parse_version,
)

log = logging.getLogger(__name__)

_TEMPLATE_KEYS = {"name", "version", "description", "input_variables", "messages"}
_REQUIRED_KEYS = {"name", "version", "messages"}
_VARIABLE_KEYS = {"description", "default"}
_MESSAGE_KEYS = {"role", "content"}
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# name.yaml | name.v3.yaml | name.v1.2.0.yaml
FILE_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_-]*)(?:\.v(?P<version>\d+(?:\.\d+\.\d+)?))?\.ya?ml$")


def read_yaml_mapping(text: str, path: Path, expected: str, *, allow_empty: bool = False) -> dict[Any, Any]:
    """``text`` parsed as a YAML mapping (with ``allow_empty``, an empty text is ``{}``); anything else
    is a :class:`PromptError` naming ``path`` and saying what was ``expected``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PromptError(path, f"invalid YAML: {exc}") from exc
    if data is None and allow_empty:
        return {}
    if not isinstance(data, dict):
        raise PromptError(path, f"expected {expected}")
    return data


def _parse_variables(raw: Any, path: Path) -> dict[str, Variable]:
    if raw is None:
        return {}
    variables: dict[str, Variable] = {}
    if isinstance(raw, list):
        entries: list[tuple[str, Any]] = []
        for i, entry in enumerate(raw):
            if isinstance(entry, str):
                entries.append((entry, None))
            elif isinstance(entry, dict) and len(entry) == 1:
                entries.append(next(iter(entry.items())))
            else:
                raise PromptError(path, f"input_variables[{i}]: expected a name or {{name: {{...}}}}")
    elif isinstance(raw, dict):
        entries = list(raw.items())
    else:
        raise PromptError(path, "field 'input_variables': expected a mapping or a list of names")
    for name, spec in entries:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise PromptError(path, f"input_variables: invalid variable name {name!r}")
        if spec is None:
            variables[name] = Variable(name)
            continue
        if isinstance(spec, str):
            variables[name] = Variable(name, description=spec)
            continue
        if not isinstance(spec, dict):
            raise PromptError(path, f"input_variables.{name}: expected a mapping with description/default")
        unknown = sorted(set(spec) - _VARIABLE_KEYS)
        if unknown:
            raise PromptError(
                path, f"input_variables.{name}: unknown key(s) {unknown}; allowed: {sorted(_VARIABLE_KEYS)}"
            )
        variables[name] = Variable(
            name, description=str(spec.get("description") or ""), default=spec.get("default", MISSING)
        )
    return variables


def parse_template(text: str, path: Path, set_name: str = BASE_SET) -> PromptTemplate:
    """Validate template ``text`` as if read from ``path``; every error names ``path``."""
    path = Path(path)
    data = read_yaml_mapping(text, path, "a YAML mapping with keys name, version, messages")
    unknown = sorted(str(k) for k in set(data) - _TEMPLATE_KEYS)
    if unknown:
        raise PromptError(path, f"unknown key(s) {unknown}; allowed: {sorted(_TEMPLATE_KEYS)}")
    missing = sorted(_REQUIRED_KEYS - set(data))
    if missing:
        raise PromptError(path, f"missing required key(s) {missing}")

    name = data["name"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise PromptError(path, f"field 'name': invalid template name {name!r}")
    m = FILE_RE.match(path.name)
    if not m or m["name"] != name:
        raise PromptError(path, f"field 'name': {name!r} does not match the file name {path.name!r}")
    version = data["version"]
    parse_version(version, path)
    if m["version"] is not None and parse_version(m["version"], path) != parse_version(version, path):
        raise PromptError(path, f"field 'version': {version!r} does not match the file name {path.name!r}")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise PromptError(path, "field 'description': expected a string")

    variables = _parse_variables(data.get("input_variables"), path)

    raw_messages = data["messages"]
    if not isinstance(raw_messages, list) or not raw_messages:
        raise PromptError(path, "field 'messages': expected a non-empty list")
    messages: list[MessageTemplate] = []
    compiled: list[Any] = []
    used: set[str] = set()
    for i, msg in enumerate(raw_messages):
        if not isinstance(msg, dict):
            raise PromptError(path, f"messages[{i}]: expected a mapping with role and content")
        unknown = sorted(str(k) for k in set(msg) - _MESSAGE_KEYS)
        if unknown:
            raise PromptError(path, f"messages[{i}]: unknown key(s) {unknown}; allowed: role, content")
        role, content = msg.get("role"), msg.get("content")
        if role not in ROLES:
            raise PromptError(path, f"messages[{i}].role: expected one of {list(ROLES)}, got {role!r}")
        if not isinstance(content, str) or not content.strip():
            raise PromptError(path, f"messages[{i}].content: expected a non-empty string")
        content = content.strip()
        try:
            ast = TEMPLATES.parse(content)
            compiled.append(TEMPLATES.from_string(content))
        except TemplateSyntaxError as exc:
            raise PromptError(path, f"messages[{i}] ({role}): Jinja2 syntax error on line {exc.lineno}: "
                                    f"{exc.message}") from exc
        used |= meta.find_undeclared_variables(ast) - set(TEMPLATES.globals)
        messages.append(MessageTemplate(role=role, content=content))

    undeclared = sorted(used - set(variables))
    if undeclared:
        raise PromptError(
            path, f"variable(s) {undeclared} used in messages but not declared in input_variables"
        )
    unused = sorted(set(variables) - used)
    if unused:
        log.debug("%s: declared variable(s) %s are not used", path, unused)
    return PromptTemplate(
        name=name,
        version=version,
        description=description.strip(),
        variables=variables,
        messages=tuple(messages),
        path=path,
        set_name=set_name,
        _compiled=tuple(compiled),
    )


def load_template(path: Path | str, set_name: str | None = None) -> PromptTemplate:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptError(path, f"cannot read template: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise PromptError(path, f"not UTF-8 text: {exc}") from exc
    return parse_template(text, path, set_name or path.parent.name)
