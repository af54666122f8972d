"""ReDial conversations on another catalogue: names mapped to its films by normalised title + year.

- :class:`FilmNames` resolves a ReDial name ("Heat (1995)") to the id of the catalogue item with the same
  :func:`retrieval.titlekey.film_key`; :func:`mapped_catalogue` wraps it as a
  :class:`eval.redial_catalogue.RedialCatalogue`, so :func:`eval.redial_turns.read_turns` and every benchmark system work
  unchanged on the bundled ``movies`` catalogue (the transfer benchmark).
- :func:`raw_dialogue_turns` turns raw ReDial dialogues (``@id`` mentions, names in ``movieMentions``;
  e.g. ``train_extra_dialogues_raw.jsonl``) into recommender turns of the same shape as
  ``valid_turns.jsonl``: consecutive messages of one speaker are joined, and every recommender utterance
  that mentions a movie is a turn whose ``rec`` are those movies and whose ``context`` is everything said
  before it (names written out).

Nothing here is stored: turns are built in memory from ``../shared`` each time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from eval.redial_catalogue import RedialCatalogue
from eval.redial_dialogues import read_dialogues
from eval.redial_turns import RedialTurn, resolution_stats
from retrieval.itemstore import ItemTable
from retrieval.titlekey import film_key, label_key


class FilmNames(Mapping[str, str]):
    """ReDial name -> catalogue id by normalised title + year (names that do not map are absent)."""

    def __init__(self, table: ItemTable) -> None:
        self._by_key: dict[str, str] = {}
        for it in table.items:  # first item wins where a catalogue repeats a title + year
            key = film_key(it.title, it.year)
            if key is not None:
                self._by_key.setdefault(key, it.id)
        self._seen: dict[str, str | None] = {}

    def _lookup(self, name: str) -> str | None:
        if name not in self._seen:
            key = label_key(name)
            self._seen[name] = self._by_key.get(key) if key else None
        return self._seen[name]

    def __getitem__(self, name: str) -> str:
        hit = self._lookup(name)
        if hit is None:
            raise KeyError(name)
        return hit

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._lookup(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter([n for n, i in self._seen.items() if i is not None])

    def __len__(self) -> int:
        return sum(1 for i in self._seen.values() if i is not None)

    @property
    def films(self) -> int:
        return len(self._by_key)


def mapped_catalogue(table: ItemTable) -> RedialCatalogue:
    """A :class:`RedialCatalogue` whose names resolve to ``table``'s items by title + year."""
    return RedialCatalogue(movies={}, id_of_name=FilmNames(table), canonical_of={}, path=None)


def mapped_share(turns: Sequence[RedialTurn]) -> float:
    """Share of the turns' rec names that resolved (after :func:`eval.redial_turns.read_turns`)."""
    stats = resolution_stats(turns)
    return stats.resolved / stats.rec_items if stats.rec_items else 0.0


def raw_dialogue_turns(path: str | Path, catalogue: RedialCatalogue, *, prefix: str = "raw:") -> list[RedialTurn]:
    """Recommender turns (with at least one movie mentioned) of a raw ReDial dialogues file.

    ``dialog_id`` is ``prefix`` + the conversation id; rec names that ``catalogue`` cannot resolve are
    kept in ``unresolved_rec`` (as :func:`eval.redial_turns.read_turns` does). Turns are kept when some rec name
    resolved.
    """
    out: list[RedialTurn] = []
    for d in read_dialogues(path):
        merged: list[tuple[str, str, list[str]]] = []  # (sender, text, movie names in order)
        for msg in d.messages:
            names = [d.movie_mentions[i] for i in msg.movie_ids if d.movie_mentions.get(i)]
            text = d.render(msg)
            if merged and merged[-1][0] == msg.sender:
                merged[-1] = (msg.sender, f"{merged[-1][1]} {text}", merged[-1][2] + names)
            else:
                merged.append((msg.sender, text, names))
        mentioned: list[str] = []
        for j, (sender, text, names) in enumerate(merged):
            if sender == "recommender" and names and j > 0 and merged[j - 1][0] == "seeker":
                rec = tuple(dict.fromkeys(names))
                resolved = [catalogue.resolve(n) for n in rec]
                rec_ids = tuple(dict.fromkeys(i for i in resolved if i is not None))
                if rec_ids:
                    entity = tuple(dict.fromkeys(mentioned))
                    out.append(RedialTurn(
                        dialog_id=f"{prefix}{d.dialog_id}", turn_id=j,
                        context=tuple(t for _, t, _ in merged[:j]), entity=entity, rec=rec, resp=text,
                        template=(), rec_ids=rec_ids,
                        unresolved_rec=tuple(n for n, i in zip(rec, resolved, strict=True) if i is None),
                        context_ids=tuple(dict.fromkeys(i for i in map(catalogue.resolve, entity) if i)),
                    ))
            mentioned += names
    return out


__all__ = ["FilmNames", "mapped_catalogue", "mapped_share", "raw_dialogue_turns"]
