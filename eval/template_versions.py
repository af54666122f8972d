"""Prompt-template versions for the A/B (:mod:`eval.templates_ab`): a set name or a directory,
copied when the run starts (:func:`resolve_version`), and which engine templates two versions differ in.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from prompts.loader import PromptError, PromptLibrary

ENGINE_TEMPLATES: tuple[str, ...] = (
    "system",
    "understand",
    "elicit",
    "recommend_item",
    "recommend",
    "answer",
    "chitchat",
)


Understanding = Literal["auto", "always", "never"]


_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


class TemplatesABError(ValueError):
    """The comparison cannot run (unknown set, bad directory, missing data); the message says what to do."""


@dataclass(frozen=True)
class TemplateVersion:
    """A prompt set the engine can use: ``library.get(name, set=set_name)``."""

    label: str  # as given (a set name or a directory path)
    set_name: str
    library: PromptLibrary
    kind: Literal["set", "directory"]

    def fingerprint(self) -> dict[str, str]:
        """For each template the engine uses: where it comes from, its version and a digest of its text."""
        out = {}
        for name in ENGINE_TEMPLATES:
            t = self.library.get(name, set=self.set_name)
            digest = hashlib.sha256(t.source().encode("utf-8")).hexdigest()[:12]
            origin = self.label if t.set_name == self.set_name and self.kind == "directory" else t.set_name
            out[name] = f"{origin}/{t.path.name} v{t.version} sha256:{digest}"
        return out


def resolve_version(spec: str, library: PromptLibrary, workdir: Path, slot: str) -> TemplateVersion:
    """A set name known to ``library``, or a directory of template files (copied into ``workdir``)."""
    path = Path(spec).expanduser()
    looks_like_path = "/" in spec or spec.startswith((".", "~"))
    if path.is_dir() and (looks_like_path or spec not in library.sets()):
        files = [
            p
            for p in path.iterdir()
            if p.is_file() and p.suffix in (".yaml", ".yml") and p.name != "_set.yaml"
        ]
        if not files:
            raise TemplatesABError(
                f"{path}: no template files (NAME.yaml) in this directory; a template version is "
                f"a prompt set name ({', '.join(library.sets())}) or a folder of templates"
            )
        set_name = f"ab-{slot}-{_SAFE.sub('-', path.resolve().name)}"
        root = workdir / f"root-{slot}"
        shutil.copytree(path, root / set_name)
        lib = PromptLibrary([*library.roots, root], write_root=workdir / f"unused-{slot}")
        version = TemplateVersion(spec, set_name, lib, "directory")
    elif spec in library.sets():
        version = TemplateVersion(spec, spec, library, "set")
    else:
        raise TemplatesABError(
            f"{spec!r} is neither a prompt set ({', '.join(library.sets())}) nor a directory "
            "of template files"
        )
    try:
        version.fingerprint()  # every template the engine needs loads and validates
    except PromptError as exc:
        raise TemplatesABError(f"template version {spec!r}: {exc}") from exc
    return version


def differing_templates(a: TemplateVersion, b: TemplateVersion) -> list[str]:
    fa, fb = a.fingerprint(), b.fingerprint()
    return [n for n in ENGINE_TEMPLATES if fa[n].split(" sha256:")[1] != fb[n].split(" sha256:")[1]]
