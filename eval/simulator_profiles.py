"""Who the simulated seeker is: a :class:`SeekerProfile` built from one raw ReDial dialogue
(:func:`build_profile`, :func:`select_profiles`), with :class:`Films` (one id per film) and
:class:`TargetGuard` (no fact may name a target). Part of the user simulator (:mod:`eval.simulator`).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.redial_catalogue import RedialCatalogue
from eval.redial_dialogues import RedialDialogue
from eval.redial_format import RedialFormatError, iter_jsonl
from eval.simulator_phrases import Phrases, _norm

if TYPE_CHECKING:
    from bot.titles import TitleIndex

# catalogue genres too vague to say as a preference
_VAGUE_GENRES = frozenset({"short", "news", "talk-show", "reality-tv", "game-show", "adult"})


def _phrase_in(phrase: str, text: str) -> bool:
    """Whether normalised ``phrase`` occurs in normalised ``text`` as whole words."""
    p = _norm(phrase)
    return bool(p) and f" {p} " in f" {_norm(text)} "


class Films:
    """One id per film. Starts from :meth:`RedialCatalogue.canonical_id` (entries with identical names)
    and also merges entries that share an IMDb id *and* the same title apart from the year: id2info.json
    has 112 such groups ("The Exorcist" and "The Exorcist (1973)", "Jurassic Park" and "Jurassic Park
    (1993)"), which a person sees as the same film. Entries sharing an IMDb id under different titles
    (74 groups, e.g. "Spider (2007)" and "Spider-Man 3 (2007)") are data errors and stay apart."""

    def __init__(self, catalogue: RedialCatalogue) -> None:
        from bot.titles import title_key

        first: dict[tuple[str, str], str] = {}
        self._of: dict[str, str] = {}
        for movie_id, movie in catalogue.movies.items():
            canonical = catalogue.canonical_id(movie_id)
            if movie.imdb_id and (key := title_key(movie.title)):
                self._of[movie_id] = first.setdefault((movie.imdb_id, key), canonical)
            else:
                self._of[movie_id] = canonical
        # every entry of a name group follows its canonical entry
        for movie_id in catalogue.movies:
            self._of[movie_id] = self._of[catalogue.canonical_id(movie_id)]

    def of(self, item_id: str) -> str:
        return self._of.get(item_id, item_id)

    def merged(self) -> int:
        """How many catalogue entries map to another entry's film id."""
        return sum(1 for k, v in self._of.items() if k != v)


class TargetGuard:
    """Says whether a text names one of the seeker's targets.

    A text names a target when it contains the target's "Title (Year)", or its title as whole words
    (titles of two or more words; one-word titles are left to the matcher, "It" being in most sentences),
    or when the catalogue's title matcher (:meth:`bot.titles.TitleIndex.find_mentions`, what the bot
    itself uses) finds a title there that is a target or has a target's title ("Jumanji (2017)" names
    "Jumanji" when "Jumanji (1995)" is a target).
    """

    def __init__(
        self,
        titles: TitleIndex,
        catalogue: RedialCatalogue,
        targets: Iterable[str],
        films: Films | None = None,
    ) -> None:
        self.titles = titles
        self.catalogue = catalogue
        self.films = films or Films(catalogue)
        self.targets = frozenset(targets)
        self._labels = [catalogue.movies[t].name for t in self.targets]
        self._titles = {_norm(catalogue.movies[t].title) for t in self.targets} - {""}
        self._multiword = [t for t in self._titles if len(t.split()) >= 2]

    def names_target(self, text: str) -> str | None:
        """The target label the text names, or ``None``."""
        if not self.targets or not text.strip():
            return None
        low = text.casefold()
        for label in self._labels:
            if label.casefold() in low:
                return label
        for title in self._multiword:
            if _phrase_in(title, text):
                return title
        for mention in self.titles.find_mentions(text):
            film = self.films.of(mention.item_id)
            item = self.titles.items.get(mention.item_id)
            if film in self.targets or (item is not None and _norm(item.title) in self._titles):
                return item.label if item is not None else mention.item_id
        return None


@dataclass(frozen=True)
class SeekerProfile:
    """What one simulated seeker knows and wants (ids are film ids, see :class:`Films`)."""

    dialog_id: str
    targets: tuple[str, ...]
    likes: tuple[str, ...]
    genres: tuple[str, ...]
    people: tuple[str, ...]
    era: str | None  # an era phrase, e.g. "movies from the 1990s"
    mood: str | None
    seen: frozenset[str] = frozenset()
    disliked: frozenset[str] = frozenset()
    dropped: tuple[str, ...] = ()  # facts left out because they would name a target

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seen"], d["disliked"] = sorted(self.seen), sorted(self.disliked)
        return d


def read_seeker_mentions(path: str | Path) -> dict[str, list[str]]:
    """Per dialogue id, the genre words and names the seeker used, from the raw file's ``entity`` field
    of each seeker message (added by iEvaLM-CRS; plain ReDial files have none: empty lists)."""
    path = Path(path)
    out: dict[str, list[str]] = {}
    for lineno, row in iter_jsonl(path):
        seeker = row.get("initiatorWorkerId")
        said: list[str] = []
        for msg in row.get("messages") or []:
            if isinstance(msg, dict) and msg.get("senderWorkerId") == seeker:
                entities = msg.get("entity") or []
                if not isinstance(entities, list):
                    raise RedialFormatError(f"{path} line {lineno}: field 'entity' must be a list")
                said += [e for e in entities if isinstance(e, str) and e.strip() and e not in said]
        out[str(row.get("conversationId"))] = said
    return out


def _people_of(catalogue: RedialCatalogue) -> set[str]:
    return {p for m in catalogue.movies.values() for p in (*m.stars, *m.directors, *m.writers)}


def _era(years: Sequence[int], eras: Mapping[str, str]) -> str | None:
    if not years:
        return None
    median = int(statistics.median(years))
    if median >= 2010:
        return eras["recent"]
    return eras["decade"].format(decade=median // 10 * 10)


def build_profile(
    dialogue: RedialDialogue,
    catalogue: RedialCatalogue,
    phrases: Phrases,
    guard_for: Callable[[Sequence[str]], TargetGuard],
    *,
    said: Sequence[str] = (),
    people: set[str] | None = None,
    films: Films | None = None,
) -> SeekerProfile:
    """The seeker of ``dialogue`` (see the module docs); ``said`` are its own genre words and names."""
    films = films or Films(catalogue)

    def canonical(ids: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(films.of(i) for i in ids if i in catalogue.movies))

    targets = canonical(i for i in dialogue.suggested_ids() if dialogue.answer(i).liked is True)  # type: ignore[union-attr]
    guard = guard_for(targets)
    dropped: list[str] = []

    def keep(fact: str) -> bool:
        if guard.names_target(fact):
            dropped.append(fact)
            return False
        return True

    liked_own = [i for i in canonical(dialogue.liked_ids()) if i not in targets]
    likes = [i for i in liked_own if keep(catalogue.movies[i].name)]
    people = people if people is not None else _people_of(catalogue)
    said_people = [s for s in said if s in people]
    said_genres = [s.lower() for s in said if s not in people]
    derived_genres = Counter(
        g.lower() for i in liked_own for g in catalogue.movies[i].genres if g.lower() not in _VAGUE_GENRES
    )
    genres = [
        g for g in dict.fromkeys([*said_genres, *(g for g, _ in derived_genres.most_common())]) if keep(g)
    ]
    stars = [catalogue.movies[i].stars[0] for i in likes if catalogue.movies[i].stars]
    people_facts = [p for p in dict.fromkeys([*said_people, *stars]) if keep(p)]
    years = [y for i in liked_own if (y := catalogue.movies[i].year) is not None]
    mood = next((phrases.moods[g] for g in genres if g in phrases.moods), None)
    return SeekerProfile(
        dialog_id=dialogue.dialog_id,
        targets=tuple(targets),
        likes=tuple(likes),
        genres=tuple(genres),
        people=tuple(people_facts),
        era=_era(years, phrases.eras),
        mood=mood,
        seen=frozenset(canonical(dialogue.seen_ids())),
        disliked=frozenset(canonical(dialogue.disliked_ids())),
        dropped=tuple(dropped),
    )


def select_profiles(
    dialogues: Sequence[RedialDialogue],
    catalogue: RedialCatalogue,
    phrases: Phrases,
    titles: TitleIndex,
    mentions: Mapping[str, Sequence[str]],
    limit: int | None,
) -> tuple[list[SeekerProfile], dict[str, int]]:
    """Profiles of the first ``limit`` dialogues that have at least one target in the catalogue."""
    people = _people_of(catalogue)
    films = Films(catalogue)
    profiles: list[SeekerProfile] = []
    skipped = Counter[str]()
    for d in dialogues:
        if limit is not None and len(profiles) >= limit:
            break
        p = build_profile(
            d,
            catalogue,
            phrases,
            lambda t: TargetGuard(titles, catalogue, t, films),
            said=mentions.get(d.dialog_id, ()),
            people=people,
            films=films,
        )
        if not p.targets:
            skipped["no target in the catalogue"] += 1
            continue
        profiles.append(p)
    return profiles, dict(skipped)
