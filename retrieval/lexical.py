"""BM25 over item texts (bm25s), aligned with the item table's positions.

Lexical matching catches what embeddings blur: names, rare words, exact titles. Results are fused
with dense ones by reciprocal rank fusion in the retriever.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_STOP = frozenset(
    """a an and are as at be but by for from has have he her his i if in into is it its me my no not of
    on or our she so than that the their them then there these they this to was we were what when which
    who will with you your about any some like want watch movie movies film films something really good
    great very just also more most one""".split()
)


def _fold(text: str) -> str:
    if text.isascii():  # nothing to decompose (the common case, and 40x cheaper)
        return text.casefold()
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def tokenize(text: str) -> list[str]:
    """Lower-cased, accent-folded words without stop words; hyphens joined; plural 's' stripped."""
    out = []
    for w in _WORD.findall(_fold(text)):
        w = w.replace("-", "")  # "sci-fi" and "scifi" are one word
        if w in _STOP or len(w) < 2:
            continue
        if len(w) > 4 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


class LexicalIndex:
    """A BM25 index whose document numbers are item-table positions."""

    def __init__(self, bm25: object, size: int) -> None:
        self._bm25 = bm25
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import
        bm25 = bm25s.BM25()
        # an empty document list still needs one token for bm25s' vocabulary
        bm25.index([tokenize(t) or [""] for t in texts], show_progress=False)
        return cls(bm25, len(texts))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(directory))

    @classmethod
    def load(cls, directory: Path, size: int) -> LexicalIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        return cls(bm25s.BM25.load(str(directory)), size)

    def search(self, text: str, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``n`` positions with a positive BM25 score, restricted to ``allowed`` when given; best first,
        equal scores in position order.

        The top is taken among the positive scores only: bm25s' own selection runs ``argpartition`` over
        every document, mostly zeros, and numpy's selection degrades on such ties (7 ms instead of 0.4 ms
        over 200k documents)."""
        tokens = tokenize(text)
        if not tokens or n <= 0 or self.size == 0:
            return []
        weight_mask = None if allowed is None else allowed.astype(np.float32)
        scores = self._bm25.get_scores(tokens, weight_mask=weight_mask)
        docs = np.flatnonzero(scores > 0)
        values = scores[docs]
        if docs.size > n:
            top = np.argpartition(-values, n - 1)[:n]
            docs, values = docs[top], values[top]
        order = np.lexsort((docs, -values))
        return [(int(docs[j]), float(values[j])) for j in order]

    def _postings_sorted(self) -> bool:
        """Whether every term's document list is in ascending order (bm25s builds them so; checked once)."""
        known = getattr(self, "_sorted", None)
        if known is None:
            indices, indptr = self._bm25.scores["indices"], self._bm25.scores["indptr"]
            rising = np.diff(indices) > 0
            starts = indptr[1:-1] - 1  # a new term's list may start lower than the previous list ended
            rising[starts[(starts >= 0) & (starts < rising.size)]] = True
            known = self._sorted = bool(rising.all())
        return known

    def matched_terms_at(self, text: str, positions: Sequence[int]) -> list[list[str]]:
        """For each item position, the words of ``text`` its item text holds (as :func:`matched_terms`
        gives them), read from the index's term lists instead of re-tokenizing every item's text."""
        out: list[list[str]] = [[] for _ in positions]
        words = list(dict.fromkeys(tokenize(text)))
        if not words or not len(positions):
            return out
        vocab = self._bm25.vocab_dict
        scores = self._bm25.scores
        indices, indptr = scores["indices"], scores["indptr"]
        pos = np.asarray(positions, dtype=np.int64)
        sorted_lists = self._postings_sorted()
        for w in words:
            t = vocab.get(w)
            if t is None:
                continue
            docs = indices[indptr[t] : indptr[t + 1]]
            if sorted_lists:  # a binary search per position, not a hash of a list that can hold most items
                at = np.minimum(np.searchsorted(docs, pos), max(docs.size - 1, 0))
                hit = np.flatnonzero(docs[at] == pos) if docs.size else ()
            else:
                hit = np.flatnonzero(np.isin(pos, docs))
            for j in hit:
                out[j].append(w)
        return out


def matched_terms(query_text: str, item_text: str) -> list[str]:
    """Query words that occur in an item's text, for explaining a lexical match."""
    item_tokens = set(tokenize(item_text))
    seen: list[str] = []
    for w in tokenize(query_text):
        if w in item_tokens and w not in seen:
            seen.append(w)
    return seen
