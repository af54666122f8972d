"""Deterministic understanding of one message against one catalogue's :class:`Vocabulary`.

:meth:`Understander.parse` turns "I loved the babadook but nothing too gory, maybe something from the
80s" into an :class:`Understanding`: catalogue titles with the sentiment of their clause, genres (the
catalogue's names plus synonyms in every lexicon language: "scary", "terror", "恐怖" -> Horror),
people ("诺兰" -> Christopher Nolan), years and decades, numeric constraints on catalogue facts, moods,
free-text wishes, feedback on the last recommendations, relative requests ("funnier", "older", "no
sequels"), questions about shown items ("who directed the first one?", "which is the shortest?"), the
message's language, and an intent (including off-topic and attempts to read the prompt).

Negation runs from a trigger ("no", "without", "sin", "不要"…) to the end of its clause or to a visible new
sentence ("I have not seen it I love Gene Wilder"). Negated genres and people become *unwanted*, negated
titles *disliked* ("I haven't seen Heat" only names it); negated words never reach the free-text wishes.
Ordinary phrases are masked before titles are looked up ("the first one" is not *First Blood*, "Hitchcock
fan" is the person). Only lookups and regular expressions: no model, a few milliseconds a message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.title_words import cites_year, ends_with_year
from bot.titles import COMMON_WORDS, FUNCTION_WORDS, fold_word, normalize, zipf
from bot.understanding.clauses import clause_of, negated_ranges, split_clauses
from bot.understanding.language import detect_language
from bot.understanding.lexicon import is_cjk, load_lexicon
from bot.understanding.modifiers import apply_fact_shifts, apply_modifiers, fact_shift_spans, find_modifiers
from bot.understanding.patterns import (
    DESIRE,
    HEARD_OF,
    INTENSITY,
    MILDER,
    NEG_EXCEPTIONS,
    NEG_TRIGGER,
    NEGATIVE,
    POSITIVE,
    QUESTION_START,
    REF_ORDINAL,
    REF_PRONOUN,
    REQUEST,
    SEEN,
    SIMILAR,
    SIMILAR_REFERENCE,
    WISH_CUE,
    WORDS,
    alternation,
    fold_chars,
)
from bot.understanding.preferences import Feedback, Understanding
from bot.understanding.references import (
    add,
    question_field,
    question_target,
    reference_feedback,
    superlative,
    superlative_target,
)
from bot.understanding.spans import Span, fact_spans, in_ranges, year_spans
from bot.understanding.topics import has_injection, is_off_topic, is_prompt_leak
from bot.understanding.vocabulary import Vocabulary
from retrieval.schema import Item

if TYPE_CHECKING:
    from bot.state import SessionState

log = logging.getLogger(__name__)
_LEX = load_lexicon()
_EVERYDAY_ZIPF = 4.8  # a name made only of words this common ("The Game") must be capitalised
_FILLER = (frozenset(normalize(w) for w in _LEX.filler_words | _LEX.sentiment_words) | FUNCTION_WORDS
           | {w.replace("'", "") for w in FUNCTION_WORDS})
# never titles: ordinary phrases, relative requests, question words, superlatives (all languages)
# (one-word relative requests only when comparative: "older", "funnier"; "fast" may be *Fast Five*)
_NEVER_TITLE = re.compile(alternation([
    *_LEX.never_titles, *_LEX.superlatives, *_LEX.diet_phrases,
    *(p for p in _LEX.modifier_phrases() if " " in p or p.endswith(("er", "est")) or not p.isascii()),
    *(p for ps in _LEX.question_fields.values() for p in ps if " " in p or not p.isascii())]), re.IGNORECASE)
_DIETS = re.compile(alternation(_LEX.diet_phrases), re.IGNORECASE)
_DIET_KEYS = {" ".join(fold_chars(k).casefold().split()): v for k, v in _LEX.diet_phrases.items()}
_SEQUEL_NUMBER = re.compile(r"\s+(?:part\s+)?(?P<n>[2-9]|ii|iii|iv|v)(?![\w'’.:])"
                            r"(?!\s*(?:times?|x|hours?|hrs?|minutes?|mins?|stars?|out of|of|/|%))", re.IGNORECASE)
# Chinese has no space before the number, and "阿凡达2次" (two times) is not a sequel
_SEQUEL_NUMBER_CJK = re.compile(r"\s*(?P<n>[2-9])(?![0-9a-z.:次遍部个集小分星岁年号点])", re.IGNORECASE)
_ROMAN = {"2": "II", "3": "III", "4": "IV", "5": "V", "ii": "2", "iii": "3", "iv": "4", "v": "5"}
_PERSON_CUE = re.compile(r"\s+(?:" + "|".join(re.escape(c) for c in _LEX.person_cues) + r")(?![\w'’])",
                         re.IGNORECASE)


def _milder(text: str, span: Span) -> bool:
    """The genre word at ``span`` says how intense ("too scary", "gory"): negated, it asks for milder."""
    return bool(MILDER.search(text, max(0, span.start - 4), span.end) or INTENSITY.search(text, span.start, span.end))


def _blank(text: str, spans: Sequence[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        chars[a:b] = " " * (b - a)
    return "".join(chars)


class Understander:
    """Parses messages against one catalogue's :class:`Vocabulary`. Cheap to call; build once."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab

    @classmethod
    def from_items(cls, items: Sequence[Item]) -> Understander:
        return cls(Vocabulary.from_items(items))

    # -------------------------------------------------------------------------- entity spotting
    def _plausible_person(self, text: str, window: list[tuple[int, int, str]]) -> bool:
        """Names made of everyday words ("The Game", "Big Boy", "Too Short") need capitals."""
        keys = [t[2] for t in window]
        if all(k in FUNCTION_WORDS for k in keys) or (len(keys) == 1 and len(keys[0]) < 3):
            return False
        if self.vocab.person_min_words < 2:  # ingredients and the like are ordinary words by nature
            return True
        everyday = all(k in FUNCTION_WORDS or k in COMMON_WORDS or zipf(k) >= _EVERYDAY_ZIPF for k in keys)
        return not everyday or all(text[a:a + 1].isupper() for a, _, _ in window)

    def _phrase_spans(self, text: str) -> list[Span]:
        """Genres, moods and people: word n-grams looked up in dicts, longest first, no overlaps; then
        Chinese phrases as substrings (Chinese has no spaces)."""
        tokens = [(m.start(), m.end(), fold_word(m.group(0))) for m in WORDS.finditer(text)]
        spans: list[Span] = []
        taken = [False] * len(tokens)
        for n in range(max(self.vocab.max_phrase_words, 4), 0, -1):
            for i in range(len(tokens) - n + 1):
                if any(taken[i:i + n]):
                    continue
                window = tokens[i:i + n]
                key = " ".join(t[2] for t in window)
                start, end = window[0][0], window[-1][1]
                span = None
                if key in self.vocab.genre_phrases:
                    span = Span(start, end, "genre", self.vocab.genre_phrases[key])
                elif (n >= self.vocab.person_min_words and key in self.vocab.people
                      and self._plausible_person(text, window)):
                    span = Span(start, end, "person", self.vocab.people[key])
                elif n == 1 and self.vocab.person_min_words >= 2 and _PERSON_CUE.match(text, end) and (
                        person := self.vocab.resolve_person(key)):
                    span = Span(start, end, "cued_person", person)  # "Hitchcock fan", "Nolan films"
                elif key in self.vocab.moods:
                    span = Span(start, end, "mood", self.vocab.moods[key])
                elif key in self.vocab.title_aliases:
                    span = Span(start, end, "title", (self.vocab.title_aliases[key], 100.0))
                if span:
                    spans.append(span)
                    for j in range(i, i + n):
                        taken[j] = True
        if self.vocab.cjk_phrases and any("\u3400" <= ch <= "\u9fff" for ch in text):
            for phrase in sorted(self.vocab.cjk_phrases, key=len, reverse=True):
                for m in re.finditer(re.escape(phrase), text):
                    if not any(s.start < m.end() and m.start() < s.end for s in spans):
                        kind, value = self.vocab.cjk_phrases[phrase]
                        spans.append(Span(m.start(), m.end(), kind, value))
        return spans

    # --------------------------------------------------------------------------------- parse
    def parse(self, text: str, state: SessionState | None = None) -> Understanding:
        """Understand ``text``; ``state`` (optional) resolves "the second one" / "it" to shown items,
        relative requests ("older") to the items shown, and keeps the conversation's language."""
        previous = state.language if state is not None else None
        u = Understanding(text=text, language=previous or "en")
        if not text or not text.strip():
            return u
        u.language = detect_language(text, previous)
        folded = fold_chars(text)
        if is_prompt_leak(folded):
            u.intent = "prompt_leak"
            return u
        clauses = split_clauses(folded)
        last = list(state.last_recommendations) if state is not None else []

        # ordinary phrases, references and relative requests are never titles
        never = [(m.start(), m.end()) for m in _NEVER_TITLE.finditer(folded)]
        never += [(m.start(), m.end()) for m in REF_ORDINAL.finditer(folded)]
        if never and cites_year(text):  # "50 First Dates (2004)", "The Last Jedi (2017)": cited titles win over their words
            cited = [m.span for m in self.vocab.titles.find_mentions(text, last) if ends_with_year(text[slice(*m.span)])]
            never = [(a, b) for a, b in never if not any(c <= a and b <= d for c, d in cited)]
        shifts = fact_shift_spans(folded, self.vocab)  # "more protein": a fact, not the ingredient Protein
        phrase_spans = [p for p in self._phrase_spans(text) if not any(a <= p.start < b for a, b in shifts)]
        cued = [(p.start, p.end) for p in phrase_spans if p.kind == "cued_person"]
        aliased = [p for p in phrase_spans if p.kind == "title"]  # "星际穿越", "el padrino"
        phrase_spans = [p for p in phrase_spans if p.kind != "title"]
        title_text = _blank(text, never + cued + [(p.start, p.end) for p in aliased])
        title_spans = aliased + [Span(s, e, "title", (item_id, score)) for (s, e), item_id, score
                                 in self.vocab.titles.find_mentions(title_text, expected_ids=last)]
        # a title containing a name wins, a one-word title inside a name loses ("Tom Cruise")
        people = [p for p in phrase_spans if p.kind == "person"]
        title_spans = [t for t in title_spans if not any(p.start <= t.start and t.end <= p.end for p in people)]
        # a genre or mood said exactly beats a title only spelled like it ("comedia" is not *Comedian*)
        said = [p for p in phrase_spans if p.kind in ("genre", "mood")]
        title_spans = [t for t in title_spans if t.value[1] >= 100.0 or not any(p.overlaps(t) for p in said)]
        phrase_spans = [p for p in phrase_spans if not any(p.overlaps(t) for t in title_spans)]
        masked_text = _blank(folded, [(t.start, t.end) for t in title_spans])  # "2012" the film is no year
        starts = {t.start for t in title_spans}
        # each title one neutral word: "When Harry Met Sally was great" asks nothing, "Not Another Teen Movie"
        # negates nothing
        as_words = "".join(ch if ch != " " or i not in starts else "T" for i, ch in enumerate(masked_text))
        negated = negated_ranges(as_words, clauses)
        ys, u.year = year_spans(self.vocab, masked_text, negated)
        fs, u.facts = fact_spans(self.vocab, masked_text)
        u.is_question = "?" in text or "？" in text or bool(QUESTION_START.search(as_words))
        u.asks_for_recommendation = bool(REQUEST.search(folded))

        wanted_anyway = {*(state.genres if state is not None else []), *(
            g for p in phrase_spans if p.kind == "genre" and not in_ranges(p.start, negated) for g in p.value)}
        for span in phrase_spans:
            # negated ("no horror") or judged right after it ("horror is not my thing")
            _, b = clause_of(span.start, clauses)
            after = NEG_EXCEPTIONS.sub(" ", masked_text[span.end:b].split(",")[0])  # "comedy like Bad Moms"
            neg = in_ranges(span.start, negated) or bool(NEGATIVE.search(after))
            if span.kind == "genre" and neg and wanted_anyway & set(span.value) and _milder(folded, span):
                continue  # "horror, but not too scary", "scary movies, but not gory": milder, not none of it
            if span.kind == "genre":
                add(u.unwanted_genres if neg else u.genres, span.value)
            elif span.kind in ("person", "cued_person"):
                add(u.unwanted_people if neg else u.people, [span.value])
            elif span.kind == "mood":
                add(u.unwanted_moods if neg else u.moods, [span.value])
        u.said_unwanted = list(u.unwanted_people)  # as named, before variants and diets are added
        if self.vocab.people_words:  # ingredients: "without mushrooms" rules out every mushroom
            said = [n for p in u.unwanted_people for n in self.vocab.names_with(p) if n not in u.unwanted_people]
            said += u.unwanted_people  # the names as said ("Mushrooms") last: the most recent wish
            u.unwanted_people = []
            for m in _DIETS.finditer(folded):  # "vegetarian": every meat and fish the catalogue has
                diet = _DIET_KEYS.get(" ".join(m.group(0).casefold().split()))
                if diet:
                    add(u.diets, [diet])
                    add(u.unwanted_people, self.vocab.diet_exclusions(diet))
            add(u.unwanted_people, said)  # what was said in words comes last (the most recent wish)
        u.genres = [g for g in u.genres if g not in u.unwanted_genres]
        u.people = [p for p in u.people if p not in u.unwanted_people]

        # titles: feedback on shown items, or taste statements, or a question about one
        unseen: list[str] = []  # "I haven't seen Heat": named, not liked
        for span in list(title_spans):
            item_id, _score = span.value
            missing = self._missing_sequel(text, span)
            if missing:  # "Avatar 2" when the catalogue has only Avatar: say so, never Avatar itself
                u.beyond_catalogue = f"missing_item:{missing}"
                continue
            alternatives = self.vocab.titles.alternatives(item_id)
            if alternatives and not ends_with_year(text[span.start:span.end]):  # "Heat (1995)" is not ambiguous
                u.ambiguous[item_id] = alternatives
            kind = self._title_sentiment(folded, span, clauses, negated, as_words)
            if item_id in last and kind in ("like", "dislike", "seen"):
                fb = Feedback(kind, item_id)  # type: ignore[arg-type]
                if fb not in u.feedback:
                    u.feedback.append(fb)
            target = {"like": u.liked_ids, "dislike": u.disliked_ids, "seen": u.seen_ids}.get(kind or "")
            if target is not None:
                add(target, [item_id])
            else:
                if kind == "unseen":
                    unseen.append(item_id)
                add(u.mentioned_ids, [item_id])

        if last:
            reference_feedback(folded, clauses, negated, last, u, bool(title_spans))

        # questions about shown items: "who directed the first one?", "which is the shortest?"
        sup = superlative(folded) if last else None
        fld = question_field(folded) or (sup[0] if sup else None)
        if fld is None and state is not None and state.last_action == "answer" and u.is_question:
            fld = state.last_question  # "and the second one?" after "who directed the first one?"
        target = (superlative_target(self.vocab, last, sup[0], sup[1]) if sup else None) or (
            u.mentioned_ids[0] if u.mentioned_ids else question_target(folded, last))
        if target is None and state is not None and state.last_action == "answer" and REF_PRONOUN.search(folded):
            target = state.last_about  # "how long is it?" right after an answer about one item
        if u.is_question and target and (fld or sup) and not u.asks_for_recommendation:
            u.feedback = [f for f in u.feedback if f.kind == "seen"]
            u.intent, u.about_id, u.question = "ask_about", target, fld
            return u

        # relative requests, relative to the titles named here or the items pointed at / shown last
        # a negated shift in time is no wish either way ("I don't watch newer movies" is not "newer")
        mods = [m for a, _, m in find_modifiers(masked_text) if not (m.year and in_ranges(a, negated))]
        if mods:
            refs = [*u.liked_ids, *[f.item_id for f in u.feedback if f.kind == "like"]]
            apply_modifiers(u, mods, self.vocab, refs, last, state.year if state is not None else None,
                            dict(state.facts) if state is not None else None, years_said=any(y.value != "relative" for y in ys))
        apply_fact_shifts(u, folded, self.vocab, [*u.liked_ids], last)

        # intent
        if u.feedback:
            u.intent = "feedback"
        elif u.is_question and not u.asks_for_recommendation and (u.mentioned_ids or question_target(folded, last)):
            u.intent = "ask_about"
            u.about_id = u.mentioned_ids[0] if u.mentioned_ids else question_target(folded, last)
            u.question = fld
        elif (bare := [i for i in u.mentioned_ids if i not in unseen]) and not u.is_question:
            # a bare title with no sentiment ("Heat", answering "a film you liked?") is a liked example
            add(u.liked_ids, bare)
            u.intent = "recommend"
        else:
            wants = u.asks_for_recommendation or u.has_preferences() or bool(DESIRE.search(folded))
            u.intent = "recommend" if wants else "chitchat"

        if u.intent != "ask_about":
            u.wishes = self._wishes(text, clauses, negated, [*title_spans, *phrase_spans, *ys, *fs],
                                    never)
        if u.wishes and u.intent == "chitchat":
            u.intent = "recommend"
        understood = bool(u.genres or u.people or u.moods or u.feedback or u.modifiers or u.year or u.facts
                          or u.asks_for_recommendation)
        if u.intent in ("chitchat", "recommend", "ask_about") and is_off_topic(folded, understood_something=understood):
            u.intent, u.about_id, u.wishes = "off_topic", None, []
            u.liked_ids, u.disliked_ids, u.seen_ids, u.mentioned_ids = [], [], [], []
        judged = {*u.liked_ids, *u.disliked_ids, *u.seen_ids}
        u.mentioned_ids = [i for i in u.mentioned_ids if i not in judged]
        yr = self.vocab.year_range
        if yr and u.year is not None and u.year.min is not None and u.year.min > yr[1]:
            u.beyond_catalogue = f"year_after:{yr[1]}"
        return u

    def _missing_sequel(self, text: str, span: Span) -> str | None:
        """"Avatar 2" / "Heat II" written after a title the catalogue has, when it lacks that sequel."""
        m = (_SEQUEL_NUMBER_CJK if is_cjk(text[span.start:span.end]) else _SEQUEL_NUMBER).match(text, span.end)
        if not m:
            return None
        title, n = text[span.start:span.end], m["n"]
        if is_cjk(title) and (item := self.vocab.items.get(span.value[0])) is not None:
            title = item.title  # "阿凡达2": look for "Avatar 2" under the catalogue's own title
        found = any(self.vocab.titles.resolve(f"{title} {x}", threshold=95.0)
                    for x in (n, _ROMAN.get(n.lower(), n)))
        return None if found else f"{title} {n}"

    def _title_sentiment(self, text: str, span: Span, clauses: list[tuple[int, int]],
                         negated: list[tuple[int, int]], masked: str) -> str | None:
        """like | dislike | seen | unseen | None for a title mention, from its clause read in ``masked`` (every
        title one neutral word "T": "I like Bad Moms" says nothing bad)."""
        a, b = clause_of(span.start, clauses)
        if in_ranges(span.start, negated):  # "I haven't seen Heat", "never heard of Heat": only named
            unseen = SEEN.search(masked, a, span.start) or HEARD_OF.search(masked, a, span.start)
            return "unseen" if unseen and not NEGATIVE.search(masked, a, b) else "dislike"
        clause = masked[a:b]
        before, after = masked[a:span.start], masked[span.end:b]
        if text[b:b + 1] in ("?", "？") or QUESTION_START.match(clause):
            # "Is Heat any good?" asks; "anything similar to Heat?", "I love Heat, any films like it?" like it
            if SIMILAR_REFERENCE.search(before):
                return "like"
            if (not QUESTION_START.match(clause) and POSITIVE.search(before)
                    and (REQUEST.search(after) or SIMILAR.search(after))):
                return "like"
            return None
        if NEGATIVE.search(after) or NEGATIVE.search(before):
            return "dislike"
        after_n = NEG_EXCEPTIONS.sub(" ", after)
        if (m := NEG_TRIGGER.search(after_n)) and POSITIVE.search(after_n, m.end()):
            return "dislike"  # "Heat wasn't good" (not "Heat was good I haven't seen the others")
        if SIMILAR.search(before) or POSITIVE.search(before) or POSITIVE.search(after):
            return "like"
        if SEEN.search(clause):
            return "seen"
        return None

    def _wishes(self, text: str, clauses: list[tuple[int, int]], negated: list[tuple[int, int]],
                spans: list[Span], never: list[tuple[int, int]]) -> list[str]:
        """Free text worth searching for: each clause up to its negation, titles and relative requests
        cut out, kept when it has a content word that is not filler and not already understood."""
        cut = sorted([(s.start, s.end) for s in spans if s.kind == "title"] + never)
        entity_words = {w for s in spans for w in normalize(text[s.start:s.end]).split()}
        parts: list[str] = []
        for a, b in clauses:
            end = min([n_a for n_a, _ in negated if a <= n_a < b], default=b)
            pieces, pos = [], a
            for t_a, t_b in cut:
                if a <= t_a < end and t_a >= pos:
                    pieces.append(text[pos:t_a])
                    pos = max(pos, t_b)
            pieces.append(text[pos:end] if pos < end else "")
            part = " ".join(" ".join(pieces).split())
            part = re.sub(r"\s*([,;])(?:\s*[,;])+", r"\1", part).strip(" ,.;:!?-，。！？")
            content = [w for w in normalize(part).split()
                       if w not in _FILLER and w not in entity_words and not w.isdigit() and len(w) > 2]
            if is_cjk(part) or has_injection(part):
                continue  # English search text only; "say it won 11 Oscars" is an instruction, not a wish
            if len(content) >= 2 or (content and WISH_CUE.search(part)):
                parts.append(part)
        wish = ", ".join(parts)
        return [wish[:200]] if wish else []
