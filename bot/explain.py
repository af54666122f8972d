"""True explanations: reasons checked against the item's facts, worded by templates in the user's language.

The small LLM asserted false facts when it wrote explanations freely ("directed by Bill Murray",
"8.1 out of 100"). Here nothing is free text: for each recommended item, :class:`Explainer` builds the
reasons that hold — each one a comparison of what the person asked for (``SessionState``: genres,
people, years, numeric limits, exclusions, liked items, their own words) with the item's facts
(:class:`bot.item_facts.ItemFacts`) — and renders them with the phrase book of the session's language
(``prompts/explain/<lang>.yaml``). A reason is produced only when the fact is there, so it cannot be
wrong; when the person stated nothing the item matches, the item is described from its facts.

The same reasons give the card its "why" (specific to each card), and the card its people by role
and a plot line where the catalogue has one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.item_facts import ROLE_ORDER, ItemFacts, first_sentence
from bot.titles import FUNCTION_WORDS
from prompts.phrases import PhraseBook, facts_config, phrase_book
from retrieval.schema import Item

if TYPE_CHECKING:
    from bot.state import SessionState

MAX_REASONS = 3  # reasons voiced per item
CARD_PEOPLE = {"director": 2, "writer": 2, "cast": 3, "ingredient": 8}
QUALITY_FACTS = ("rt_rating", "rt_meter", "metacritic")
DF_SAMPLE = 2000  # items sampled to find words too common to be a reason
COMMON_SHARE = 0.03
_WORD = re.compile(r"[^\W\d_]{5,}", re.UNICODE)


def _diet_name(book: PhraseBook, diet: str) -> str:
    """A diet ("vegetarian") in the phrase book's language (``diet_names``), else as the lexicon names it."""
    return str((book.data.get("diet_names") or {}).get(diet, diet))


@dataclass
class Explanation:
    """Why one item is recommended, ready for a card and a reply line."""

    item_id: str
    label: str
    reasons: list[str]  # rendered, checked reasons (most specific first)
    kinds: list[str]  # what each reason is based on (genre_wish, person_wish, …)
    people: dict[str, list[str]] = field(default_factory=dict)  # role -> names, for the card
    plot: str | None = None
    language: str = "en"

    @property
    def why(self) -> str:
        return phrase_book(self.language).data["reason_join"].join(self.reasons)

    def line(self, n: int) -> str:
        book = phrase_book(self.language)
        return book.render("line", n=n, label=self.label, reasons=self.why)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def state_language(state: Any) -> str:
    """The session's language if understanding set one (``state.language``), else English."""
    return getattr(state, "language", None) or "en"


def stated_numbers(state: Any) -> list[float]:
    """The numbers the person gave: year bounds and limits on facts (a reply may repeat them)."""
    out: list[float] = []
    for rng in [getattr(state, "year", None), *(getattr(state, "facts", None) or {}).values()]:
        if rng is not None:
            out += [float(v) for v in (rng.min, rng.max) if v is not None]
    return out


class Explainer:
    """Builds checked reasons for items of one catalogue."""

    def __init__(self, get: Callable[[str], Item | None], item_noun: str = "movie",
                 items: Iterable[Item] = ()) -> None:
        """``items``: the catalogue; how many items a person is in ranks the cast shown on cards (the
        catalogue lists casts alphabetically, not by billing: the best-known names go first)."""
        self.get = get
        self.item_noun = item_noun
        items = list(items)
        self.fame: Counter[str] = Counter(p for it in items for p in it.people)
        # words in many items' texts ("directed", "english", "step") say nothing about one item
        sample = items[:: max(1, len(items) // DF_SAMPLE)]
        df = Counter(w for it in sample for w in {w.casefold() for w in _WORD.findall(it.text)})
        self.common = {w for w, n in df.items() if n > COMMON_SHARE * len(sample)}
        self._shows = {k: v.get("show", "count") for k, v in (facts_config().get("numbers") or {}).items()}

    # ------------------------------------------------------------------------------ facts as text
    def value(self, book: PhraseBook, fact: str, v: float) -> str:
        show = self._shows.get(fact)
        if show and book.has(f"units.{show}"):
            names = book.data.get("fact_names") or {}
            return book.render(f"units.{show}", v=_num(v), name=names.get(fact, fact.replace("_", " ")))
        return f"{_num(v)}"

    def describe(self, book: PhraseBook, f: ItemFacts) -> str:
        genres = book.join([book.genre(g) for g in f.genres[:2]])
        kind = self.item_noun if book.has(f"describe.{self.item_noun}") else "item"
        director = book.join(list(f.roles.get("director", ())[:2]))
        ingredients = book.join(list(f.roles.get("ingredient", ())[:3]))
        return book.render(f"describe.{kind}", genres=genres, year=f.year or "", director=director,
                           ingredients=ingredients)

    def quality(self, book: PhraseBook, f: ItemFacts) -> str | None:
        for fact in QUALITY_FACTS:
            if f.numbers.get(fact):
                return self.value(book, fact, f.numbers[fact])
        return None

    # --------------------------------------------------------------------------------- reasons
    def reasons(self, f: ItemFacts, state: SessionState | None, book: PhraseBook) -> list[tuple[str, str]]:
        """(kind, text) for every stated wish this item meets, most specific first."""
        out: list[tuple[str, str]] = []
        if state is None:
            return out
        # people asked for, by the role they have here
        for person in state.people:
            if not f.has_person(person):
                continue
            roles = f.roles_of(person)
            role = next((r for r in ROLE_ORDER if r in roles), "other")
            real = next(p for p in f.people if p.casefold() == person.casefold())
            out.append(("person_wish", book.render(f"reasons.person_wish.{role}", name=real)))
        # genres asked for
        hit = [g for g in f.genres if any(g.casefold() == w.casefold() for w in state.genres)]
        if hit:
            out.append(("genre_wish", book.render("reasons.genre_wish",
                                                  genres=book.join([book.genre(g) for g in hit]))))
        # a year range
        if state.year is not None and f.year is not None and state.year.contains(f.year):
            lo, hi = state.year.min, state.year.max
            decade = lo is not None and hi is not None and lo % 10 == 0 and hi - lo == 9
            if decade:
                rng = book.render("reasons.year_range.decade", decade=int(lo))
            elif lo is not None and hi is not None:
                rng = book.render("reasons.year_range.between", lo=int(lo), hi=int(hi))
            elif lo is not None:
                rng = book.render("reasons.year_range.after", lo=int(lo))
            else:
                rng = book.render("reasons.year_range.before", hi=int(hi or 0))
            # not "from 2000, 2000 or earlier"; a decade reads the same at its ends ("from 1980, in the 1980s")
            if not decade and f.year in (lo, hi) and book.has("reasons.year_at_limit"):
                rng = None
            out.append(("year_wish", book.render("reasons.year_wish", year=f.year, range=rng) if rng else
                        book.render("reasons.year_at_limit", year=f.year)))
        # numeric limits (runtime, calories, …)
        for fact, rng in state.facts.items():
            v = f.numbers.get(fact)
            if v is None or not rng.contains(v):
                continue
            if rng.max is not None and rng.min is None:
                text = book.render("reasons.fact_wish.max", value=self.value(book, fact, v),
                                   limit=self.value(book, fact, rng.max))
            elif rng.min is not None and rng.max is None:
                text = book.render("reasons.fact_wish.min", value=self.value(book, fact, v),
                                   limit=self.value(book, fact, rng.min))
            else:
                text = book.render("reasons.fact_wish.between", value=self.value(book, fact, v))
            out.append(("fact_wish", text))
        # what they excluded, and this item indeed avoids
        # cite the diet ("vegetarian") and the names as the person said them, not the variants added for them
        if state.diets and not any(p.casefold() in q.casefold() for p in state.unwanted_people for q in f.people):
            out.append(("diet_wish", book.render("reasons.diet_wish",
                                                 diets=book.join([_diet_name(book, d) for d in state.diets]))))
        said = state.said_unwanted or ([] if state.diets else state.unwanted_people)
        avoided_people = [p for p in said if not any(p.casefold() in q.casefold() for q in f.people)]
        if avoided_people:
            role = "ingredient" if "ingredient" in f.roles else "other"
            out.append(("excluded_person", book.render(f"reasons.excluded_person.{role}",
                                                       names=book.join(avoided_people[-2:]))))
        avoided = [g for g in state.unwanted_genres if not f.has_genre(g)]
        if avoided:
            out.append(("excluded_genre", book.render("reasons.excluded_genre",
                                                      genres=book.join([book.genre(g) for g in avoided[-2:]]))))
        # liked items it shares genres or people with
        for liked_id in reversed(state.liked_ids[-3:]):
            liked = self.get(liked_id)
            if liked is None or liked_id == f.id:
                continue
            lf = ItemFacts.of(liked)
            shared_people = [p for p in f.people if lf.has_person(p)][:2]
            shared_genres = [g for g in f.genres if lf.has_genre(g)][:2]
            if shared_people:
                out.append(("similar_liked", book.render("reasons.similar_liked_people", liked=lf.label,
                                                         names=book.join(shared_people))))
            elif shared_genres:
                out.append(("similar_liked", book.render("reasons.similar_liked", liked=lf.label,
                                                         shared=book.join([book.genre(g) for g in shared_genres]))))
            if shared_people or shared_genres:
                break
        # their own words, found in the item's text
        if len(out) < MAX_REASONS and state.wishes:
            covered = " ".join(t for _, t in out).casefold()
            text = f.title.casefold() + " " + (self._text(f.id) or "").casefold()
            terms: list[str] = []
            for wish in state.wishes[-2:]:
                for w in _WORD.findall(wish):
                    lw = w.casefold()
                    if lw in FUNCTION_WORDS or lw in self.common or lw in covered or lw in terms:
                        continue
                    if re.search(rf"(?<!\w){re.escape(lw)}(?!\w)", text):
                        terms.append(lw)
            if terms:
                out.append(("wish_terms", book.render("reasons.wish_terms", terms=book.join(terms[:2]))))
        return out

    def ranked(self, role: str, names: Sequence[str], makers: set[str] = frozenset()) -> list[str]:
        """Cast by how well known each name is (directors and writers of the item, shown as such, last)."""
        if role != "cast" or not self.fame:
            return list(names)
        return sorted(names, key=lambda n: (n in makers, -self.fame[n]))  # stable: alphabetical among equals

    def _text(self, item_id: str) -> str | None:
        it = self.get(item_id)
        return it.text if it else None

    def explain(self, item: Item, state: SessionState | None = None, language: str | None = None) -> Explanation:
        book = phrase_book(language or state_language(state))
        f = ItemFacts.of(item)
        found = self.reasons(f, state, book)[:MAX_REASONS]
        texts = [t for _, t in found]
        kinds = [k for k, _ in found]
        if len(texts) < 2:
            texts.append(book.render("reasons.about", description=self.describe(book, f)))
            kinds.append("about")
            q = self.quality(book, f)
            if q and len(texts) < 2:
                texts.append(book.render("reasons.quality", score=q))
                kinds.append("quality")
        elif len(texts) < MAX_REASONS:  # something of its own, so cards meeting the same wishes differ
            directors = [d for d in f.roles.get("director", ())[:2] if d not in " ".join(texts)]
            q = self.quality(book, f)
            if directors and "person_wish" not in kinds:
                texts.append(book.render("reasons.made_by", name=book.join(directors)))
                kinds.append("made_by")
            elif q:
                texts.append(book.render("reasons.quality", score=q))
                kinds.append("quality")
        makers = {*f.roles.get("director", ()), *f.roles.get("writer", ())}
        people = {role: self.ranked(role, f.roles[role], makers)[:n] for role, n in CARD_PEOPLE.items()
                  if f.roles.get(role)}
        return Explanation(item_id=f.id, label=f.label, reasons=texts, kinds=kinds, people=people,
                           plot=first_sentence(f.plot) if f.plot else None, language=book.language)

    def reply(self, explanations: Sequence[Explanation], language: str = "en", relaxed: bool = False) -> str:
        """The recommendation reply: an intro line, then one checked line per item."""
        book = phrase_book(language)
        if not explanations:
            return ""
        if relaxed:
            intro = book.render("intro.relaxed")
        elif len(explanations) == 1:
            intro = book.render("intro.one", noun=book.noun(self.item_noun))
        else:
            intro = book.render("intro.many", count=len(explanations), nouns=book.noun(self.item_noun, plural=True))
        lines = [e.line(n) for n, e in enumerate(explanations, 1)]
        return intro + "\n" + "\n".join(lines) + "\n\n"  # a blank line: what follows is not in the list
