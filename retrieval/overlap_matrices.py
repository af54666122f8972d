"""Per-catalogue 0/1 matrices of item genres, people and title words, for vectorised overlap features.

A ranker that scores a few hundred candidates per turn against the conversation's items (shared people,
title-word Jaccard, genre matches) would otherwise build thousands of Python sets and counters per turn;
with these matrices each feature is one sparse product over the candidate rows. Counts are exact
integers, so the features equal the set arithmetic they replace (``len(a & b) / len(b)`` and the like).

Built lazily once per :class:`~retrieval.itemstore.ItemTable` (a few tenths of a second per 100k items)
and cached for the few tables a process serves.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from retrieval.itemstore import ItemTable
from retrieval.rerank_counts import title_words


@dataclass(frozen=True)
class Incidence:
    """Items x vocabulary 0/1 matrix (CSR) and the vocabulary's column numbers."""

    matrix: sparse.csr_matrix
    column: dict[str, int]
    sizes: np.ndarray  # (n,) float64: how many distinct words each item has

    @classmethod
    def build(cls, sets: Iterable[Iterable[str]], n: int) -> Incidence:
        column: dict[str, int] = {}
        indptr = [0]
        indices: list[int] = []
        for words in sets:
            for w in words:
                indices.append(column.setdefault(w, len(column)))
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float64)
        m = sparse.csr_matrix((data, np.array(indices, dtype=np.int64), np.array(indptr, dtype=np.int64)),
                              shape=(n, max(1, len(column))))
        return cls(m, column, np.diff(m.indptr).astype(np.float64))

    def rows(self, positions: np.ndarray | Sequence[int]) -> sparse.csr_matrix:
        return self.matrix[np.asarray(positions, dtype=np.int64)]

    def counts(self, positions: np.ndarray | Sequence[int], words: Iterable[str]) -> np.ndarray:
        """How many of ``words`` each item at ``positions`` has (float64)."""
        cols = sorted({self.column[w] for w in words if w in self.column})
        if not cols:
            return np.zeros(len(positions), dtype=np.float64)
        return np.asarray(self.rows(positions)[:, cols].sum(axis=1), dtype=np.float64).ravel()

    def shared(self, positions: np.ndarray | Sequence[int], others: Sequence[int]) -> np.ndarray:
        """``(len(positions), len(others))`` counts of words shared by each pair (float64)."""
        return (self.rows(positions) @ self.rows(others).T).toarray()


@dataclass(frozen=True)
class OverlapMatrices:
    """Genres and people (lower case, as ``ItemTable.genre_sets`` / ``people_sets``) and title words."""

    genres: Incidence
    people: Incidence
    title_words: Incidence


_cache: dict[int, tuple[ItemTable, OverlapMatrices]] = {}
_lock = threading.Lock()


def overlap_matrices(table: ItemTable) -> OverlapMatrices:
    """The matrices of ``table`` (built on first use, then cached)."""
    hit = _cache.get(id(table))
    if hit is not None and hit[0] is table:
        return hit[1]
    with _lock:
        hit = _cache.get(id(table))
        if hit is not None and hit[0] is table:
            return hit[1]
        n = len(table)
        built = OverlapMatrices(
            genres=Incidence.build(table.genre_sets, n),
            people=Incidence.build(table.people_sets, n),
            title_words=Incidence.build((frozenset(title_words(it.title)) for it in table.items), n),
        )
        if len(_cache) >= 4:  # a few catalogues per process; an old generation is dropped
            _cache.pop(next(iter(_cache)))
        _cache[id(table)] = (table, built)
        return built


def fill_overlap_features(X: np.ndarray, col: dict[str, int], cand: np.ndarray, table: ItemTable,
                          seeds: Sequence[int], wanted_g: set[str], profile: set[str] | frozenset[str],
                          wanted_p: set[str], liked_genres: set[str]) -> None:
    """Write the overlap columns of the candidate rows ``cand`` into ``X`` (NaN where a feature does not
    apply), exactly as per-candidate set arithmetic would:

    - ``seed_people_overlap``: most people shared with one conversation item (with any such items);
    - ``seed_title_overlap``: highest title-word Jaccard with one conversation item;
    - ``genre_match`` / ``profile_match`` / ``people_match``: share of the wanted genres / genre profile /
      wanted people the candidate has (:func:`retrieval.rerank_features.fill_match_features`);
    - ``liked_genre_overlap``: share of the candidate's genres among the liked items' genres.
    """
    if len(cand) == 0:
        return
    mats = overlap_matrices(table)
    seeds = list(seeds)
    if seeds:
        X[:, col["seed_people_overlap"]] = mats.people.shared(cand, seeds).max(axis=1)
        tw = mats.title_words
        titled = [s for s in seeds if tw.sizes[s] > 0]
        if titled:
            common = tw.shared(cand, titled)
            union = tw.sizes[cand][:, None] + tw.sizes[titled][None, :] - common
            jaccard = np.divide(common, union, out=np.zeros_like(common), where=common > 0)
            has_words = tw.sizes[cand] > 0
            X[has_words, col["seed_title_overlap"]] = jaccard[has_words].max(axis=1)
    if wanted_g:
        X[:, col["genre_match"]] = mats.genres.counts(cand, wanted_g) / len(wanted_g)
    if profile:
        X[:, col["profile_match"]] = mats.genres.counts(cand, profile) / len(profile)
    if wanted_p:
        X[:, col["people_match"]] = mats.people.counts(cand, wanted_p) / len(wanted_p)
    if liked_genres:
        sizes = mats.genres.sizes[cand]
        has_genres = sizes > 0
        shared = mats.genres.counts(cand, liked_genres)
        X[has_genres, col["liked_genre_overlap"]] = shared[has_genres] / sizes[has_genres]


__all__ = ["Incidence", "OverlapMatrices", "fill_overlap_features", "overlap_matrices"]
