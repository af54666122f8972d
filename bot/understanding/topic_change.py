"""When a liked example starts a new topic: "I like Interstellar, anything similar?" after 90s comedies.

Genres and a year range asked for earlier hold until changed. A film named as liked in a request that
brings no genre, years or people of its own, and that none of those held constraints fit (its year is
outside the range, or it shares no wanted genre), points somewhere else: keeping the old constraints
would recommend 90s comedies "like Interstellar". Such a message drops the held genres and years, so
the liked film leads. A liked film that fits ("I like Groundhog Day" after 90s comedies) keeps them.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.understanding.preferences import Preferences, Understanding
from retrieval.schema import Item


def _fits(item: Item, held: Preferences) -> bool:
    if held.year is not None and item.year is not None and not held.year.contains(item.year):
        return False
    if held.genres:
        wanted = {g.casefold() for g in held.genres}
        if not wanted & {g.casefold() for g in item.genres}:
            return False
    return True


def starts_new_topic(held: Preferences, u: Understanding, items: Mapping[str, Item]) -> bool:
    """Whether ``u`` names liked films that the ``held`` genres and years do not fit, and nothing else."""
    if u.intent != "recommend" or not u.liked_ids or u.replace_genres:
        return False
    if u.genres or u.year is not None or u.people or u.facts:
        return False
    if not held.genres and held.year is None:
        return False
    liked = [items[i] for i in u.liked_ids if i in items and i not in held.liked_ids]
    return bool(liked) and not any(_fits(it, held) for it in liked)


__all__ = ["starts_new_topic"]
