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

# "Title (1999)" written by the model: must be an allowed item
_TITLE_WITH_YEAR = re.compile(r"([A-Z0-9][^\n()\"“”*]{0,80}?)\s*\((1[89]\d\d|20\d\d)\)")
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
        for m in self.titles.find_mentions(sentence):
            if m.item_id in self.allowed:
                self.report.named.add(m.item_id)
            elif m.item_id not in self._tolerated:
                bad.append(self.titles.label(m.item_id))
        for m in _TITLE_WITH_YEAR.finditer(sentence):
            title, year = m.group(1).strip(" -—:,'\""), int(m.group(2))
            match = self.titles.resolve(title, year=year)
            if match is None or match.item_id not in self._tolerated:
                bad.append(f"{title} ({year})")
            elif match.item_id in self.allowed:
                self.report.named.add(match.item_id)
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
