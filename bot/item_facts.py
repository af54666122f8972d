"""What is known about one catalogue item, read once and typed: people by role, numbers, a plot line.

Catalogue items keep every person in one ``people`` list (directors, writers, cast; or a recipe's
ingredients). Roles are read from the item's indexed text with the patterns of
``prompts/explain/facts.yaml`` ("Directed by …", "Cast: …", "Ingredients: …"), and a name is kept
only if ``people`` holds it. Explanations, cards and the claim checker all read :class:`ItemFacts`,
so what a card shows and what a sentence may claim come from the same place.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from prompts.phrases import facts_config
from retrieval.schema import Item

ROLE_ORDER = ("director", "writer", "cast", "ingredient")


@functools.lru_cache(maxsize=1)
def _role_phrases() -> dict[str, list[str]]:
    return {role: list(phrases) for role, phrases in (facts_config().get("roles") or {}).items()}


@dataclass(frozen=True)
class ItemFacts:
    id: str
    title: str
    label: str
    year: int | None
    genres: tuple[str, ...]
    people: tuple[str, ...]
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    numbers: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    plot: str | None = None

    @classmethod
    def of(cls, item: Item) -> ItemFacts:
        key = (item.id, item.title, item.year, item.text)
        found = _CACHE.get(key)
        if found is None:
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.clear()
            found = _CACHE[key] = _facts_of(item)
        return found

    def roles_of(self, name: str) -> set[str]:
        """The roles ``name`` has here ('director', 'cast'…); empty if the item has no such person."""
        folded = name.casefold()
        return {role for role, names in self.roles.items() if any(n.casefold() == folded for n in names)}

    def has_person(self, name: str) -> bool:
        folded = name.casefold()
        return any(p.casefold() == folded for p in self.people)

    def has_genre(self, genre: str) -> bool:
        folded = genre.casefold()
        return any(g.casefold() == folded for g in self.genres)

    @property
    def known_roles(self) -> bool:
        return bool(self.roles)


_CACHE: dict[tuple[Any, ...], ItemFacts] = {}
_CACHE_SIZE = 8192


def _names_after(text: str, start: int, people: list[str]) -> list[str]:
    """The item's people listed at ``text[start:]`` ("A, B, C."), longest names first."""
    found: list[str] = []
    pos = start
    folded = text.casefold()
    while True:
        hit = next((p for p in people if folded.startswith(p.casefold(), pos)
                    and not folded[pos + len(p):pos + len(p) + 1].isalnum()), None)
        if hit is None:
            break
        found.append(hit)
        pos += len(hit)
        if text.startswith(", ", pos):
            pos += 2
        elif text.startswith(" and ", pos):
            pos += 5
        else:
            break
    return found


def _facts_of(item: Item) -> ItemFacts:
    people = sorted(set(item.people), key=len, reverse=True)
    roles: dict[str, list[str]] = {}
    for role, phrases in _role_phrases().items():
        for phrase in phrases:
            for m in re.finditer(r"(?:^|(?<=[\s.]))" + re.escape(phrase), item.text):
                for name in _names_after(item.text, m.end(), people):
                    if name not in roles.setdefault(role, []):
                        roles[role].append(name)
    numbers = {k: float(v) for k, v in item.facts.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    plot = None
    for key in facts_config().get("plot_facts") or ():
        value = item.facts.get(key)
        if isinstance(value, str) and value.strip():
            plot = value.strip()
            break
    return ItemFacts(id=item.id, title=item.title, label=item.label, year=item.year, genres=tuple(item.genres),
                     people=tuple(item.people), roles={r: tuple(v) for r, v in roles.items() if v},
                     numbers=numbers, facts=dict(item.facts), plot=plot)


def first_sentence(text: str, limit: int = 160) -> str:
    """The first sentence of a plot text, whole (never cut mid-word; a long one ends at a word with …)."""
    text = " ".join(text.split())
    m = re.search(r"(?<=[.!?。！？])\s", text)
    sentence = text[: m.start()] if m else text
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit].rsplit(" ", 1)[0].rstrip(",;: ")
    return cut + "…"
