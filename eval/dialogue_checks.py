"""The checks of the conversational suite: each turn's cards, answers, claims and language.

Every check reads the catalogue's own facts (:class:`bot.item_facts.ItemFacts`) for the items the
reply returned, never the reply's description of them. A check returns ``(category, passed, note)``:

- ``cards``: action, card constraints (genres wanted and not, years, numeric facts, people by role,
  excluded people or ingredients), items given feedback or already shown never coming back;
- ``answers``: the reply states the true fact about a referenced card (director, cast, year, runtime…),
  or names what it must (a title resolved from another language);
- ``honesty``: an "I can't" for what the catalogue cannot answer, and no item pretending to be it;
- ``faithfulness``: every explanation sentence and card "why" checked against the items' facts
  (:class:`bot.claims.ClaimChecker`), labels carry the catalogue's year, no unfinished sentences,
  no "the person", no forbidden text (an injected "11 Oscars");
- ``language``: the reply is in the conversation's language (titles and names removed first).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.claims import ClaimChecker
from bot.item_facts import ItemFacts
from retrieval.schema import Item

Check = tuple[str, bool, str]
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-zÀ-ÿ]+")
# a sentence ends at . ! ? (not after an initial or "vs.": "Andrew V. McLaglen", "Dr. No") or a line break
_SENTENCES = re.compile(r"(?<=[.!?。！？])(?<!\s[A-Z]\.)(?<!\svs\.)(?<!\sDr\.)(?<!\sMr\.)(?<!\sSt\.)(?<!\sJr\.)"
                        r"(?<!\sMs\.)\s+|\n+")
_TERMINAL = tuple(".!?。！？…:：\"'”’)»*")


@dataclass
class TurnView:
    """What a check may look at: the reply, the cards' items and the conversation so far."""

    text: str
    action: str
    cards: list[dict[str, Any]]
    items: list[Item]  # the catalogue items of the cards, in order
    language: str
    previous_cards: list[list[Item]] = field(default_factory=list)  # earlier turns' items, oldest first
    shown: set[str] = field(default_factory=set)  # ids recommended in earlier turns
    feedback: set[str] = field(default_factory=set)  # ids given like / dislike / seen so far


def detect_language(text: str, strip: Sequence[str], words: dict[str, set[str]]) -> str:
    """zh when CJK characters dominate, else the language whose common words the text uses most."""
    for s in sorted(strip, key=len, reverse=True):
        if s:
            text = text.replace(s, " ")
    cjk = len(_CJK.findall(text))
    latin = _LATIN.findall(text.casefold())
    if cjk and cjk >= 0.5 * sum(len(w) for w in latin) / 4:
        return "zh"
    scores = {lang: sum(w in ws for w in latin) for lang, ws in words.items() if lang != "zh"}
    return max(scores, key=lambda k: scores[k]) if scores and max(scores.values()) > 0 else "unknown"


def _card_items(view: TurnView, ref: int | str, get: Callable[[str], Item | None]) -> Item | None:
    """Card ``ref`` (1-based) of the latest turn that had cards, or ``"shortest"`` / ``"oldest"``."""
    source = view.previous_cards[-1] if view.previous_cards else []
    if not source:
        return None
    if ref == "shortest":
        return min(source, key=lambda it: it.facts.get("runtime") or 1e9)
    if ref == "oldest":
        return min(source, key=lambda it: it.year or 9999)
    i = int(ref) - 1
    return source[i] if 0 <= i < len(source) else None


def check_cards(view: TurnView, spec: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    items = [ItemFacts.of(it) for it in view.items]
    if not items:
        return [("cards", False, "no cards")]
    n = len(items)

    def each(pred: Callable[[ItemFacts], bool], what: str) -> None:
        bad = [f.label for f in items if not pred(f)]
        out.append(("cards", not bad, f"{what}: {len(items) - len(bad)}/{n}" + (f" (not: {bad[:2]})" if bad else "")))

    if "genres_any" in spec:
        wanted = [g.casefold() for g in spec["genres_any"]]
        each(lambda f: any(f.has_genre(g) for g in wanted), f"genre {wanted}")
    if "genres_all" in spec:
        each(lambda f: all(f.has_genre(g) for g in spec["genres_all"]), f"genres {spec['genres_all']}")
    if "genres_none" in spec:
        each(lambda f: not any(f.has_genre(g) for g in spec["genres_none"]), f"no genre {spec['genres_none']}")
    if "year" in spec:
        lo, hi = spec["year"]
        each(lambda f: f.year is not None and (lo is None or f.year >= lo) and (hi is None or f.year <= hi),
             f"year {lo}-{hi}")
    for fact, bounds in (spec.get("facts") or {}).items():
        lo, hi = bounds.get("min"), bounds.get("max")
        each(lambda f, fact=fact, lo=lo, hi=hi: fact in f.numbers and (lo is None or f.numbers[fact] >= lo)
             and (hi is None or f.numbers[fact] <= hi), f"{fact} {lo}-{hi}")
    role = spec.get("role")
    for person in spec.get("people_any") or []:
        each(lambda f, p=person: f.has_person(p) and (role is None or role in f.roles_of(p)),
             f"{role or 'with'} {person}")
    for word in spec.get("exclude_people") or []:
        folded = word.casefold()
        each(lambda f, w=folded: not any(w in p.casefold() for p in f.people), f"without {word}")
    if spec.get("not_shown_before", True):
        again = [f.label for f in items if f.id in view.shown]
        out.append(("cards", not again, f"new items ({again[:2]} again)" if again else "new items"))
    back = [f.label for f in items if f.id in view.feedback]
    out.append(("cards", not back, f"feedback items stay out ({back[:2]} back)" if back else "feedback items stay out"))
    if "count" in spec:
        out.append(("cards", n >= int(spec["count"]), f"{n} cards (want {spec['count']})"))
    return out


def check_answer(view: TurnView, spec: dict[str, Any], get: Callable[[str], Item | None],
                 cannot: dict[str, list[str]] | None = None) -> list[Check]:
    """``cannot``: the "I can't" phrases per language; when the item lacks the fact asked about, saying
    so plainly is the right answer."""
    out: list[Check] = []
    text = view.text.casefold()
    if "fact" in spec:
        item = _card_items(view, spec.get("card", 1), get)
        if item is None:
            return [("answers", False, "no card to ask about")]
        f = ItemFacts.of(item)
        fact = spec["fact"]
        if fact in ("director", "cast", "writer", "ingredient"):
            truth = list(f.roles.get(fact, ()))[:8]
        elif fact == "year":
            truth = [str(f.year)] if f.year else []
        elif fact == "title":
            truth = [f.title]
        else:
            v = f.numbers.get(fact)
            truth = [str(int(v)) if v is not None and float(v).is_integer() else str(v)] if v is not None else []
        if truth:
            ok = any(t.casefold() in text for t in truth)
            out.append(("answers", ok, f"{fact} of {f.label}: want one of {truth[:3]}"))
        else:  # the catalogue does not hold it: the answer must say so, not invent it
            phrases = [*(cannot or {}).get(view.language, []), *(cannot or {}).get("en", [])]
            ok = any(p.casefold() in text for p in phrases)
            out.append(("answers", ok, f"{fact} of {f.label}: not in the catalogue, must say so"))
    if "mentions" in spec:
        names = spec["mentions"]
        found = [m for m in names if m.casefold() in text or any(m.casefold() in c.get("label", "").casefold()
                                                                  for c in view.cards)]
        out.append(("answers", len(found) == len(names) if spec.get("all") else bool(found),
                    f"mentions {names}"))
    if "action" in spec:
        want = spec["action"] if isinstance(spec["action"], list) else [spec["action"]]
        out.append(("answers", view.action in want, f"action {view.action} (want {want})"))
    return out


def check_honesty(view: TurnView, spec: dict[str, Any], phrases: dict[str, list[str]]) -> list[Check]:
    said = view.text.casefold()
    ok = any(p.casefold() in said for p in phrases.get(view.language, []) + phrases.get("en", []))
    out: list[Check] = [("honesty", ok, "says plainly what it cannot do")]
    for title in spec.get("not_cards") or []:
        bad = [c.get("label") for c in view.cards if title.casefold() in str(c.get("title", "")).casefold()]
        out.append(("honesty", not bad, f"no card pretends to be {title}"))
    return out


@dataclass
class Faithfulness:
    sentences: int = 0  # explanation sentences checked (reply lines about cards, and card whys)
    false: int = 0
    examples: list[str] = field(default_factory=list)


def check_faithfulness(view: TurnView, claims: ClaimChecker, tally: Faithfulness,
                       forbid: Sequence[str] = (), stated: Sequence[float] = ()) -> list[Check]:
    """``stated``: numbers the person gave (limits, year bounds), which explanations may repeat."""
    ids = [it.id for it in view.items]
    context = sorted(view.shown | view.feedback | {it.id for prev in view.previous_cards for it in prev})
    problems: list[str] = []
    sentences = [s.strip() for s in _SENTENCES.split(view.text) if s and s.strip()]
    for s in sentences:
        if not s.endswith(_TERMINAL):
            problems.append(f"unfinished: {s[-40:]}")
        if re.search(r"\bthe (?:person|user)\b", s, re.IGNORECASE):
            problems.append(f"third person: {s[:40]}")
    explanation = [s for s in sentences if ids and any(it.label in s or it.title in s for it in view.items)]
    explanation += [f"{c.get('label', '')}: {c.get('why', '')}." for c in view.cards if c.get("why")]
    for s in explanation:
        tally.sentences += 1
        r = claims.check(s, ids, context, stated)
        if not r.ok:
            tally.false += 1
            tally.examples.append(f"{s[:90]} -> {r.problems[:2]}")
            problems += r.problems[:1]
    if view.action == "recommend" and view.items:  # a line per card, one list style ("1. 2. 3." then "- x: y")
        problems += [f"no line for {it.label}" for it in view.items if it.label not in view.text]
        if re.search(r"(?m)^\d+\.\s", view.text) and re.search(r"(?m)^- ", view.text):
            problems.append("numbered and bulleted lines mixed")
    for c, it in zip(view.cards, view.items, strict=False):
        if c.get("label") != it.label:
            problems.append(f"label {c.get('label')} is not {it.label}")
    for f in forbid:
        if f.casefold() in view.text.casefold():
            problems.append(f"repeats {f!r}")
    return [("faithfulness", not problems, "; ".join(problems[:3]) or "claims hold")]


def check_language(view: TurnView, words: dict[str, set[str]]) -> list[Check]:
    strip = [it.label for it in view.items] + [it.title for it in view.items]
    strip += [p for it in view.items for p in it.people]
    strip += [it.label for prev in view.previous_cards for it in prev] + [
        p for prev in view.previous_cards for it in prev for p in it.people]
    found = detect_language(view.text, strip, words)
    return [("language", found == view.language, f"reply in {found} (want {view.language})")]
