"""Grounding: a reply may name only the items retrieval recommended.

The LLM writes freely, so its text is checked sentence by sentence as it streams. A sentence that
names a catalogue item outside the allowed set — found by the catalogue's :class:`TitleIndex` — or a
"Something (1999)"-style title that is not an allowed item, is dropped. After the reply, every allowed
item the model failed to name gets a plain line built from retrieval's own reasons, so the person
always sees each recommendation with a grounded "why".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bot.titles import TitleIndex

log = logging.getLogger(__name__)

# "Title (1999)" written by the model: the title must be an allowed item
_YEAR = re.compile(r"\((1[89]\d\d|20\d\d)\)")
_CONNECTORS = frozenset("of the a an and in on to for with at from de la le du".split())


def _title_before(text: str, end: int) -> str:
    """The run of title-cased words (and short connectors) that ends at ``end``."""
    words = re.findall(r"[\w'’:&!?.-]+|[^\w\s]", re.sub(r"[\"“”*_]", "", text[:end]))
    run: list[str] = []
    for w in reversed(words):
        core = w.strip(":.!?")
        if core and (core[0].isupper() or core[0].isdigit()):
            run.append(w)
        elif core.lower() in _CONNECTORS and run:
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


@dataclass
class GroundingReport:
    dropped: list[str] = field(default_factory=list)  # sentences removed
    named: set[str] = field(default_factory=set)  # allowed ids the reply named


class GroundedStream:
    """Filters a stream of text pieces so that only grounded sentences come out."""

    def __init__(self, titles: TitleIndex, allowed_ids: Iterable[str], context_ids: Iterable[str] = ()) -> None:
        """``allowed_ids``: the items this reply recommends or answers about. ``context_ids``: items the
        person brought up (liked, disliked, mentioned) — they may be referred to ("like Alien") but
        are not recommendations."""
        self.titles = titles
        self.allowed = set(allowed_ids)
        # the person's own items, and other items with the same title as an allowed one (remakes)
        self._tolerated = self.allowed | set(context_ids) | {
            a for i in self.allowed if i in titles for a in titles.alternatives(i)
        }
        self.report = GroundingReport()
        self._pending = ""

    def _violations(self, sentence: str) -> list[str]:
        bad: list[str] = []
        mentions = self.titles.find_mentions(sentence)
        mention_ends = [m.span[1] for m in mentions]
        for m in mentions:
            if m.item_id in self.allowed:
                self.report.named.add(m.item_id)
            elif m.item_id not in self._tolerated:
                bad.append(self.titles.label(m.item_id))
        for m in _YEAR.finditer(sentence):
            if any(0 <= m.start() - span_end <= 2 for span_end in mention_ends):
                continue  # the title before it was already checked
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
        """The sentence if grounded, else '' (and the drop is recorded)."""
        if not sentence.strip():
            return sentence
        bad = self._violations(sentence)
        if bad:
            log.info("dropped an ungrounded sentence naming %s", bad)
            self.report.dropped.append(sentence.strip())
            return ""
        return sentence

    def push(self, piece: str) -> str:
        """Feed a piece; returns the checked text that is complete so far."""
        self._pending += piece
        out = []
        while True:
            m = _SENTENCE_END.search(self._pending)
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
        return self.check(rest)

    def filter(self, pieces: Iterable[str]) -> Iterator[str]:
        for piece in pieces:
            text = self.push(piece)
            if text:
                yield text
        tail = self.flush()
        if tail:
            yield tail


def ground_text(titles: TitleIndex, allowed_ids: Iterable[str], text: str,
                context_ids: Iterable[str] = ()) -> tuple[str, GroundingReport]:
    """Check a whole text at once (for non-streamed replies and tests)."""
    g = GroundedStream(titles, allowed_ids, context_ids)
    return "".join(g.filter([text])), g.report
