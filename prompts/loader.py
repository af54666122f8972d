"""Prompt templates as files: load, validate, version, hot-reload and render them.

Layout
------
A *root* directory holds *sets*; a set is a folder of template files, one template per file::

    prompts/templates/            <- a root (the packaged one is ``DEFAULT_ROOT``)
        default/                  <- the base set every other set inherits from
            system.yaml
            recommend.yaml
            recommend.v2.yaml     <- a later version of the same template
        customer_service/
            _set.yaml             <- optional: ``description`` and ``extends`` (default: "default")
            system.yaml           <- overrides default/system.yaml; everything else is inherited

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

Versions
--------
Several versions of one template may sit side by side: ``recommend.yaml`` (any version) and
``recommend.v<version>.yaml`` (the version in the name must equal the one inside). ``get`` returns the
highest version unless ``version=`` pins one. :meth:`PromptLibrary.save_version` is how the prompt
editor stores an edit: it validates the text, gives it the next version when its own is not higher than
the current one, and writes ``<write_root>/<set>/<name>.v<version>.yaml`` — a new file, never an
overwrite, so every version stays on disk and the new one is live at the next ``get``.

Hot reload
----------
Every ``get`` rescans the set folders (a few ``stat`` calls) and re-reads files whose mtime or size
changed, so edits on disk take effect without a restart; unchanged files come from the cache.

How the engine uses the templates
---------------------------------
``system`` renders the persona (one system message). ``elicit``, ``recommend`` (or ``recommend_item``,
one call per item, which small models follow more faithfully), ``answer``, ``explain`` and ``chitchat``
render the task for the current turn as a user message that quotes the person's message, so the engine
sends ``system + recent history + task``. ``understand`` is self-contained (its own system message and
a worked example) and is sent without history; its ``json_schema`` variable takes
``bot.understand.llm_json_schema()``. :meth:`PromptTemplate.render` returns plain
``{"role", "content"}`` dicts; :meth:`PromptTemplate.to_langchain` gives the same template as a
LangChain ``ChatPromptTemplate`` (jinja2 format, defaults applied as partials).
"""

from __future__ import annotations

import builtins
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta
from jinja2.sandbox import SandboxedEnvironment, SecurityError

if TYPE_CHECKING:
    from langchain_core.prompts import ChatPromptTemplate

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path(__file__).resolve().parent / "templates"
BASE_SET = "default"
SET_META_FILE = "_set.yaml"

ROLES = ("system", "user", "assistant")
_TEMPLATE_KEYS = {"name", "version", "description", "input_variables", "messages"}
_REQUIRED_KEYS = {"name", "version", "messages"}
_VARIABLE_KEYS = {"description", "default"}
_MESSAGE_KEYS = {"role", "content"}
_SET_KEYS = {"description", "extends"}
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# name.yaml | name.v3.yaml | name.v1.2.0.yaml
_FILE_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_-]*)(?:\.v(?P<version>\d+(?:\.\d+\.\d+)?))?\.ya?ml$")
_SEMVER_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_VERSION_LINE_RE = re.compile(r"^version:[^\n]*$", re.MULTILINE)
_NAME_LINE_RE = re.compile(r"^name:[^\n]*$", re.MULTILINE)

_MISSING = object()


class PromptError(ValueError):
    """A template or set that cannot be used; the message starts with the offending file."""

    def __init__(self, path: Path | str | None, message: str) -> None:
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)


def _environment() -> SandboxedEnvironment:
    # Defaults match LangChain's jinja2 formatter (a plain SandboxedEnvironment), so render() and
    # to_langchain() produce the same text; StrictUndefined only changes what is an error.
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


_ENV = _environment()


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


def _next_version(current: int | str) -> int | str:
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
    default: Any = _MISSING

    @property
    def required(self) -> bool:
        return self.default is _MISSING


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
        if not isinstance(name, str) or not _NAME_RE.match(name):
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
            name, description=str(spec.get("description") or ""), default=spec.get("default", _MISSING)
        )
    return variables


def parse_template(text: str, path: Path, set_name: str = BASE_SET) -> PromptTemplate:
    """Validate template ``text`` as if read from ``path``; every error names ``path``."""
    path = Path(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PromptError(path, f"invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PromptError(path, "expected a YAML mapping with keys name, version, messages")
    unknown = sorted(str(k) for k in set(data) - _TEMPLATE_KEYS)
    if unknown:
        raise PromptError(path, f"unknown key(s) {unknown}; allowed: {sorted(_TEMPLATE_KEYS)}")
    missing = sorted(_REQUIRED_KEYS - set(data))
    if missing:
        raise PromptError(path, f"missing required key(s) {missing}")

    name = data["name"]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise PromptError(path, f"field 'name': invalid template name {name!r}")
    m = _FILE_RE.match(path.name)
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
            ast = _ENV.parse(content)
            compiled.append(_ENV.from_string(content))
        except TemplateSyntaxError as exc:
            raise PromptError(path, f"messages[{i}] ({role}): Jinja2 syntax error on line {exc.lineno}: "
                                    f"{exc.message}") from exc
        used |= meta.find_undeclared_variables(ast) - set(_ENV.globals)
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


# ---------------------------------------------------------------------------------------- the library
@dataclass(frozen=True)
class TemplateInfo:
    """One row of :meth:`PromptLibrary.list`: where a set's template comes from."""

    set_name: str
    name: str
    version: int | str
    description: str
    path: Path
    inherited_from: str | None  # the set it comes from when not defined in ``set_name`` itself


class PromptLibrary:
    """Template sets found under one or more root folders, with hot reload and versioning.

    A set may be spread over several roots (for example the packaged templates plus a user folder
    that holds edited versions); its files are pooled. Two files giving the same template the same
    version is an error. Saved versions go to ``write_root`` (default: the last root).
    """

    def __init__(self, root_dirs: Path | str | list[Path | str] | None = None,
                 write_root: Path | str | None = None) -> None:
        if root_dirs is None:
            root_dirs = [DEFAULT_ROOT]
        elif isinstance(root_dirs, (str, Path)):
            root_dirs = [root_dirs]
        self.roots = [Path(r) for r in root_dirs]
        if not self.roots:
            raise PromptError(None, "PromptLibrary needs at least one root directory")
        for root in self.roots:
            if not root.is_dir():
                raise PromptError(root, "prompt root is not a directory")
        self.write_root = Path(write_root) if write_root is not None else self.roots[-1]
        self._cache: dict[Path, tuple[int, int, PromptTemplate]] = {}
        self._meta_cache: dict[Path, tuple[int, int, dict[str, Any]]] = {}

    # ---- discovery
    def sets(self) -> list[str]:
        found = {p.name for root in self.roots if root.is_dir() for p in root.iterdir()
                 if p.is_dir() and not p.name.startswith((".", "_"))}
        return sorted(found)

    def _set_dirs(self, set_name: str) -> list[Path]:
        return [root / set_name for root in self.roots if (root / set_name).is_dir()]

    def _set_meta(self, set_name: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for d in self._set_dirs(set_name):
            path = d / SET_META_FILE
            if not path.is_file():
                continue
            st = path.stat()
            cached = self._meta_cache.get(path)
            if cached and cached[:2] == (st.st_mtime_ns, st.st_size):
                merged.update(cached[2])
                continue
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise PromptError(path, f"invalid YAML: {exc}") from exc
            if not isinstance(data, dict):
                raise PromptError(path, "expected a mapping with description / extends")
            unknown = sorted(str(k) for k in set(data) - _SET_KEYS)
            if unknown:
                raise PromptError(path, f"unknown key(s) {unknown}; allowed: {sorted(_SET_KEYS)}")
            self._meta_cache[path] = (st.st_mtime_ns, st.st_size, data)
            merged.update(data)
        return merged

    def parent(self, set_name: str) -> str | None:
        """The set ``set_name`` inherits missing templates from (``None`` for the base set)."""
        if set_name == BASE_SET:
            return None
        extends = self._set_meta(set_name).get("extends", BASE_SET)
        if extends is not None and not isinstance(extends, str):
            raise PromptError(self._set_dirs(set_name)[0] / SET_META_FILE,
                              "field 'extends': expected a set name")
        return extends

    def _chain(self, set_name: str) -> list[str]:
        if not self._set_dirs(set_name):
            raise PromptError(None, f"unknown prompt set {set_name!r}; known sets: {self.sets()} "
                                    f"(roots: {[str(r) for r in self.roots]})")
        chain = [set_name]
        parent = self.parent(set_name)
        while parent is not None:
            if parent in chain:
                raise PromptError(None, f"prompt set inheritance cycle: {' -> '.join([*chain, parent])}")
            if not self._set_dirs(parent):
                raise PromptError(None, f"prompt set {chain[-1]!r} extends unknown set {parent!r}")
            chain.append(parent)
            parent = self.parent(parent)
        return chain

    def _load_cached(self, path: Path, set_name: str) -> PromptTemplate:
        st = path.stat()
        cached = self._cache.get(path)
        if cached and cached[:2] == (st.st_mtime_ns, st.st_size):
            return cached[2]
        if cached:
            log.info("reloading changed prompt template %s", path)
        template = load_template(path, set_name)
        self._cache[path] = (st.st_mtime_ns, st.st_size, template)
        return template

    def _own_versions(self, set_name: str) -> dict[str, list[PromptTemplate]]:
        """Templates defined in the set's own folders (not inherited), by name, sorted by version."""
        by_name: dict[str, list[PromptTemplate]] = {}
        for d in self._set_dirs(set_name):
            for path in sorted(d.iterdir()):
                if path.name == SET_META_FILE or path.name.startswith(".") or not path.is_file():
                    continue
                if path.suffix not in (".yaml", ".yml"):
                    continue
                if not _FILE_RE.match(path.name):
                    raise PromptError(path, "template file names must be NAME.yaml or NAME.vVERSION.yaml")
                template = self._load_cached(path, set_name)
                by_name.setdefault(template.name, []).append(template)
        for name, versions in by_name.items():
            versions.sort(key=lambda t: t.version_key)
            for a, b in zip(versions, versions[1:], strict=False):
                if a.version_key == b.version_key:
                    raise PromptError(b.path,
                                      f"template {name!r} version {b.version!r} is also defined in {a.path}")
        return by_name

    def versions(self, name: str, set: str = BASE_SET) -> list[PromptTemplate]:
        """All versions of ``name`` visible in ``set`` (from the first set in the chain defining it)."""
        for set_name in self._chain(set):
            found = self._own_versions(set_name).get(name)
            if found:
                return found
        raise PromptError(None, f"no template {name!r} in prompt set {set!r} (chain: {self._chain(set)}); "
                                f"available: {self.names(set)}")

    def get(self, name: str, set: str = BASE_SET, version: int | str | None = None) -> PromptTemplate:
        """The latest version of ``name`` in ``set`` (or its ancestors), or the pinned ``version``."""
        versions = self.versions(name, set)
        if version is None:
            return versions[-1]
        wanted = parse_version(version)
        for t in versions:
            if t.version_key == wanted:
                return t
        raise PromptError(None, f"template {name!r} in set {set!r} has no version {version!r}; "
                                f"available: {[t.version for t in versions]}")

    def names(self, set: str = BASE_SET) -> list[str]:
        found: builtins.set[str] = builtins.set()
        for set_name in self._chain(set):
            found |= builtins.set(self._own_versions(set_name))
        return sorted(found)

    def list(self, set: str | None = None) -> list[TemplateInfo]:
        """The active version of every template, for one set or all sets."""
        rows: list[TemplateInfo] = []
        for set_name in [set] if set else self.sets():
            for name in self.names(set_name):
                t = self.get(name, set_name)
                rows.append(TemplateInfo(set_name, name, t.version, t.description, t.path,
                                         None if t.set_name == set_name else t.set_name))
        return rows

    def validate_all(self) -> list[PromptTemplate]:
        """Load every file of every set; raises the first :class:`PromptError`."""
        loaded: list[PromptTemplate] = []
        for set_name in self.sets():
            self._chain(set_name)
            for versions in self._own_versions(set_name).values():
                loaded.extend(versions)
        return loaded

    # ---- writing
    def save_version(self, template: str | PromptTemplate, text: str, *,
                     set: str | None = None) -> PromptTemplate:
        """Validate ``text`` and store it as a new version of ``template`` in ``set``.

        The text is a whole template file. Its ``name`` must be the template's (it is filled in when
        absent). When its ``version`` is absent or not higher than the current latest, it becomes the
        next one (3 -> 4, "1.2.0" -> "1.3.0"). The file goes to
        ``<write_root>/<set>/<name>.v<version>.yaml``; nothing existing is overwritten. Saving into a
        set that does not exist yet creates it (it then inherits from ``default``).
        """
        name = template if isinstance(template, str) else template.name
        set_name = set or (template.set_name if isinstance(template, PromptTemplate) else BASE_SET)
        if not _NAME_RE.match(name) or not _NAME_RE.match(set_name):
            raise PromptError(None, f"invalid template or set name: {name!r} / {set_name!r}")
        target_dir = self.write_root / set_name
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PromptError(target_dir / f"{name}.yaml", f"invalid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise PromptError(target_dir / f"{name}.yaml", "expected a YAML mapping")
        if data.get("name", name) != name:
            raise PromptError(target_dir / f"{name}.yaml",
                              f"field 'name': {data.get('name')!r} but saving as {name!r}")
        if "name" not in data:
            text = f"name: {name}\n{text}"

        latest: PromptTemplate | None
        try:
            latest = self.get(name, set_name) if self._set_dirs(set_name) else self.get(name, BASE_SET)
        except PromptError:
            latest = None
        version = data.get("version")
        if latest is not None and (version is None or
                                   parse_version(version, target_dir / f"{name}.yaml") <= latest.version_key):
            version = _next_version(latest.version)
        elif version is None:
            version = 1
        if _VERSION_LINE_RE.search(text):
            text = _VERSION_LINE_RE.sub(f"version: {_yaml_scalar(version)}", text, count=1)
        else:
            line = f"version: {_yaml_scalar(version)}"
            text = _NAME_LINE_RE.sub(lambda m: f"{m.group(0)}\n{line}", text, count=1)

        path = target_dir / f"{name}.v{version}.yaml"
        if path.exists():
            raise PromptError(path, "refusing to overwrite an existing template version")
        parse_template(text, path, set_name)  # validate before anything touches disk
        target_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".tmp-", suffix=".yaml")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text if text.endswith("\n") else text + "\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.info("saved prompt template %s version %s to %s", name, version, path)
        if self.write_root not in self.roots:
            self.roots.append(self.write_root)
        return self._load_cached(path, set_name)


def _yaml_scalar(version: int | str) -> str:
    return str(version) if isinstance(version, int) else f'"{version}"'


_default_library: PromptLibrary | None = None


def default_library() -> PromptLibrary:
    """A shared library over the packaged templates (``DEFAULT_ROOT``)."""
    global _default_library
    if _default_library is None:
        _default_library = PromptLibrary([DEFAULT_ROOT])
    return _default_library
