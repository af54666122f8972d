"""Grounding: a reply may name only the items retrieval recommended, and claim only what is true of them.

The LLM writes freely, so its text is checked sentence by sentence as it streams. A sentence that
names a catalogue item outside the allowed set — found by the catalogue's :class:`TitleIndex` — or a
"Something (1999)"-style title that is not an allowed item, is dropped. With a
:class:`~bot.claims.ClaimChecker`, every factual claim (people and roles, years, numbers, awards,
genres, exclusions, comparisons) is checked against the facts of the items the sentence is about:
a false one drops the sentence; "the person" is repaired to "you". A tail the model left unfinished
(ending in "of the", or a comma) is dropped, never shown cut. After the reply, every allowed item the
model failed to name gets a plain line built from checked reasons, so the person always sees each
recommendation with a grounded "why".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bot.claims import ClaimChecker
from bot.titles import TitleIndex
from bot.understanding.lexicon import is_cjk
from prompts.phrases import facts_config

log = logging.getLogger(__name__)

# "Title (1999)" written by the model: the title must be an allowed item
_YEAR = re.compile(r"\((1[89]\d\d|20\d\d)\)")
_CONNECTORS = frozenset(["of", "the", "a", "an", "and", "in", "on", "to", "for", "with", "at", "from", "de", "la", "le", "du"])


def _title_before(text: str, end: int) -> str:
    """The run of title-cased words (and short connectors) that ends at ``end``."""
    words = re.findall(r"[\w'’:&!?.-]+|[^\w\s]", re.sub(r"[\"“”*_]", "", text[:end]))
    run: list[str] = []
    for w in reversed(words):
        core = w.strip(":.!?")
        if core and (core[0].isupper() or core[0].isdigit()) or core.lower() in _CONNECTORS and run:
            run.append(w)
        else:
            break
        if w != core and len(run) > 1:  # "Alien," or "... fun." ends a run going backwards
            run.pop()
            break
    while run and run[-1].strip(":.!?").lower() in _CONNECTORS:
        run.pop()
    return " ".join(reversed(run)).strip(" :")
# a sentence ends at . ! ? or a line break, followed by whitespace
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_MAX_PENDING = 400  # characters held back at most before a check is forced
# a period after these does not end a sentence ("Monsters vs. Aliens", "Dr. Strangelove")
_ABBREVIATIONS = frozenset(["vs", "mr", "mrs", "ms", "dr", "st", "jr", "sr", "no", "vol", "ft", "mt", "dir", "feat",
                            "etc"])
_TERMINAL = tuple(".!?。！？…\"'”’)»")


@dataclass
class GroundingReport:
    dropped: list[str] = field(default_factory=list)  # sentences removed
    named: set[str] = field(default_factory=set)  # allowed ids the reply named
    false_claims: list[str] = field(default_factory=list)  # what the claim checker rejected
    repaired: int = 0  # sentences repaired (third person -> "you", an unfinished-looking end)


class GroundedStream:
    """Filters a stream of text pieces so that only grounded sentences come out."""

    def __init__(self, titles: TitleIndex, allowed_ids: Iterable[str], context_ids: Iterable[str] = (),
                 claims: ClaimChecker | None = None, stated: Iterable[float] = ()) -> None:
        """``allowed_ids``: the items this reply recommends or answers about. ``context_ids``: items the
        person brought up (liked, disliked, mentioned) — they may be referred to ("like Alien") but
        are not recommendations. ``claims``: check facts claimed about them too; ``stated``: numbers the
        person gave (limits, years), which a sentence may repeat."""
        self.titles = titles
        self.allowed_order = list(dict.fromkeys(allowed_ids))
        self.allowed = set(self.allowed_order)
        self.context = list(dict.fromkeys(context_ids))
        self.claims = claims
        self.stated = [float(x) for x in stated]
        # the person's own items, and other items with the same title as an allowed one (remakes)
        self._tolerated = self.allowed | set(context_ids) | {
            a for i in self.allowed if i in titles for a in titles.alternatives(i)
        }
        self.report = GroundingReport()
        self._pending = ""

    def _violations(self, sentence: str) -> list[str]:
        bad: list[str] = []
        people = self.claims.names_in(sentence) if self.claims is not None else []
        # "Carlos" in "Carlos Saldanha" is a person, not the film Carlos (2010); so is "有Francis" in
        # "有Francis Ford Coppola" (Chinese letters run into the name: the mention only overlaps it)
        mentions = [m for m in self.titles.find_mentions(sentence)
                    if not any(s <= m.span[0] and m.span[1] <= e or (s < m.span[1] <= e and m.span[0] < s
                                                                     and is_cjk(sentence[m.span[0]:s]))
                               for _, s, e in people)]
        mention_ends = [m.span[1] for m in mentions]
        mention_spans = [m.span for m in mentions]
        for m in mentions:
            if m.item_id in self.allowed:
                self.report.named.add(m.item_id)
            elif m.item_id not in self._tolerated:
                bad.append(self.titles.label(m.item_id))
        for m in _YEAR.finditer(sentence):
            if any(0 <= m.start() - span_end <= 2 for span_end in mention_ends) or any(
                    a <= m.start() < b for a, b in mention_spans):
                continue  # the title before it (or around it) was already checked
            words = _title_before(sentence, m.start()).split()
            year = int(m.group(1))
            if not words:
                continue
            # "Watch Alien (1979)": try "Watch Alien", then "Alien"
            matches = [self.titles.resolve(" ".join(words[i:]), year=year) for i in range(len(words))]
            ok = next((x for x in matches if x is not None and x.item_id in self._tolerated), None)
            if ok is None:
                bad.append(f"{' '.join(words)} ({year})")
            elif ok.item_id in self.allowed:
                self.report.named.add(ok.item_id)
        return bad

    def check(self, sentence: str) -> str:
        """The sentence if grounded (repaired where it can be), else '' (and the drop is recorded)."""
        if not sentence.strip():
            return sentence
        bad = self._violations(sentence)
        if bad:
            log.info("dropped an ungrounded sentence naming %s", bad)
            self.report.dropped.append(sentence.strip())
            return ""
        if self.claims is not None and self.allowed_order:
            result = self.claims.check(sentence, self.allowed_order, self.context, self.stated)
            if not result.ok:
                log.info("dropped a sentence with false claims: %s", result.problems)
                self.report.dropped.append(sentence.strip())
                self.report.false_claims += result.problems
                return ""
            if result.text != sentence:
                self.report.repaired += 1
            return result.text
        return sentence

    def finish(self, tail: str) -> str:
        """The last piece of a reply: kept if it ends like a sentence; an unfinished one is dropped."""
        body = tail.rstrip()
        if not body or body.endswith(_TERMINAL) or "\n" in tail[len(body):]:
            return tail
        last = body.split()[-1].casefold() if body.split() else ""
        if body.endswith((",", ";", ":", "-", "(", "–")) or last in _dangling() or len(body.split()) > 30:
            log.info("dropped an unfinished sentence")
            self.report.dropped.append(body)
            return ""
        self.report.repaired += 1
        return body + ("。" if body[-1] >= "\u3000" else ".")

    def _end(self, text: str) -> re.Match[str] | None:
        """Where the first sentence of ``text`` ends: not after "vs." / "Mr." / an initial ("M. Night"),
        nor after a list marker ("1. "), which belongs to the sentence it numbers."""
        for m in _SENTENCE_END.finditer(text):
            if m.group(0).startswith("\n"):
                return m
            word = text[: m.start()].rsplit(None, 1)[-1] if text[: m.start()].strip() else ""
            if word[:-1].casefold() in _ABBREVIATIONS or re.fullmatch(r"(?:[A-Z]\.)+|\d{1,2}[.)]", word) and (
                    word[0].isalpha() or not text[: m.start() - len(word)].strip()):
                continue
            return m
        return None

    def push(self, piece: str) -> str:
        """Feed a piece; returns the checked text that is complete so far."""
        self._pending += piece
        out = []
        while True:
            m = self._end(self._pending)
            if not m:
                break
            sentence, self._pending = self._pending[: m.end()], self._pending[m.end() :]
            out.append(self.check(sentence))
        if len(self._pending) > _MAX_PENDING:
            out.append(self.check(self._pending))
            self._pending = ""
        return "".join(out)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return self.check(self.finish(rest))

    def filter(self, pieces: Iterable[str]) -> Iterator[str]:
        """The checked text, piece by piece. Whitespace is held back until checked text follows it, so
        a list marker the caller puts before the first piece ("1. ") never stands alone when every
        sentence after it was dropped (the caller then shows its grounded fallback line instead)."""
        held = ""
        for piece in [*pieces, None]:
            text = self.flush() if piece is None else self.push(piece)
            if not text:
                continue
            if not text.strip():
                held += text
                continue
            yield held + text
            held = ""


def _dangling() -> frozenset[str]:
    return frozenset(str(w).casefold() for w in facts_config().get("dangling") or ())


def ground_text(titles: TitleIndex, allowed_ids: Iterable[str], text: str,
                context_ids: Iterable[str] = (), claims: ClaimChecker | None = None,
                stated: Iterable[float] = ()) -> tuple[str, GroundingReport]:
    """Check a whole text at once (for non-streamed replies and tests)."""
    g = GroundedStream(titles, allowed_ids, context_ids, claims, stated)
    return "".join(g.filter([text])), g.report
