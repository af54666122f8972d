"""Phrase books for explanations and cards, one YAML file per language in ``prompts/explain/``.

``en.yaml``, ``zh.yaml`` and ``es.yaml`` hold the wording (Jinja2, rendered in a sandbox with
``StrictUndefined``); ``facts.yaml`` says how item facts are read and checked (roles, units, awards,
comparisons). A language file may leave keys out: they fall back to English. An unknown language
falls back to English as a whole.

    book = phrase_book("zh")
    book.render("reasons.genre_wish", genres="恐怖")   # -> "恐怖，正如你所要求的"
    book.genre("Horror")                              # -> "恐怖"
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from prompts.template import PromptError

EXPLAIN_DIR = Path(__file__).resolve().parent / "explain"
DEFAULT_LANGUAGE = "en"
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PromptError(path, f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise PromptError(path, "expected a mapping at the top level")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def languages(root: Path = EXPLAIN_DIR) -> list[str]:
    """The languages with a phrase book."""
    return sorted(p.stem for p in root.glob("*.yaml") if p.stem != "facts")


class PhraseBook:
    """The phrases of one language (with English underneath for anything it leaves out)."""

    def __init__(self, data: dict[str, Any], path: Path) -> None:
        self.data = data
        self.path = path
        self.language: str = data.get("language", DEFAULT_LANGUAGE)
        self._genres = {str(k).casefold(): str(v) for k, v in (data.get("genres") or {}).items()}

    def raw(self, key: str) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise PromptError(self.path, f"no phrase {key!r}")
            node = node[part]
        return node

    def has(self, key: str) -> bool:
        try:
            self.raw(key)
        except PromptError:
            return False
        return True

    def render(self, key: str, **values: Any) -> str:
        source = self.raw(key)
        if not isinstance(source, str):
            raise PromptError(self.path, f"phrase {key!r} is not text")
        try:
            return _ENV.from_string(source).render(**values).strip()
        except TemplateError as exc:
            raise PromptError(self.path, f"phrase {key!r}: {exc}") from exc

    def noun(self, noun: str, plural: bool = False) -> str:
        nouns = self.data.get("nouns") or {}
        key = noun + ("s" if plural else "")
        return str(nouns.get(key) or nouns.get(noun) or key)

    def genre(self, genre: str) -> str:
        """A catalogue genre in this language (the catalogue's own word, lower-cased, if unknown)."""
        return self._genres.get(genre.casefold(), genre.lower() if self.language == "en" else genre)

    def join(self, parts: list[str]) -> str:
        """"a, b and c" in this language."""
        parts = [p for p in parts if p]
        if len(parts) <= 1:
            return "".join(parts)
        return self.data["list_join"].join(parts[:-1]) + self.data["last_join"] + parts[-1]


@functools.lru_cache(maxsize=16)
def phrase_book(language: str | None = None, root: Path = EXPLAIN_DIR) -> PhraseBook:
    """The phrase book for ``language`` ("zh", "zh-CN", "es-ES", "en"…); English when there is none."""
    base_path = root / f"{DEFAULT_LANGUAGE}.yaml"
    base = _read(base_path)
    code = (language or DEFAULT_LANGUAGE).split("-")[0].split("_")[0].casefold()
    path = root / f"{code}.yaml"
    if code == DEFAULT_LANGUAGE or not path.is_file() or code == "facts":
        return PhraseBook(base, base_path)
    return PhraseBook(_merge(base, _read(path)), path)


@functools.lru_cache(maxsize=4)
def facts_config(root: Path = EXPLAIN_DIR) -> dict[str, Any]:
    """``facts.yaml``: roles, numeric units, awards, role claims, comparisons, repairs."""
    return _read(root / "facts.yaml")
