"""The prompt library: template sets on disk, with versions, hot reload and saving edits.

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

One file is one template: see :mod:`prompts.template_file` for its keys and checks and
:mod:`prompts.template` for rendering.

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
``bot.understanding.llm_json_schema()``. :meth:`PromptTemplate.render` returns plain
``{"role", "content"}`` dicts; :meth:`PromptTemplate.to_langchain` gives the same template as a
LangChain ``ChatPromptTemplate`` (jinja2 format, defaults applied as partials).
"""

from __future__ import annotations

import builtins
import itertools
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prompts.template import BASE_SET, PromptError, PromptTemplate, next_version, parse_version
from prompts.template_file import FILE_RE, NAME_RE, load_template, parse_template, read_yaml_mapping

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path(__file__).resolve().parent / "templates"
SET_META_FILE = "_set.yaml"
_SET_KEYS = {"description", "extends"}
_VERSION_LINE_RE = re.compile(r"^version:[^\n]*$", re.MULTILINE)
_NAME_LINE_RE = re.compile(r"^name:[^\n]*$", re.MULTILINE)


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
            data = read_yaml_mapping(path.read_text(encoding="utf-8"), path,
                                     "a mapping with description / extends", allow_empty=True)
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
                if not FILE_RE.match(path.name):
                    raise PromptError(path, "template file names must be NAME.yaml or NAME.vVERSION.yaml")
                template = self._load_cached(path, set_name)
                by_name.setdefault(template.name, []).append(template)
        for name, versions in by_name.items():
            versions.sort(key=lambda t: t.version_key)
            for a, b in itertools.pairwise(versions):
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
        if not NAME_RE.match(name) or not NAME_RE.match(set_name):
            raise PromptError(None, f"invalid template or set name: {name!r} / {set_name!r}")
        target_dir = self.write_root / set_name
        data = read_yaml_mapping(text, target_dir / f"{name}.yaml", "a YAML mapping")
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
            version = next_version(latest.version)
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
