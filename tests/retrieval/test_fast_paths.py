"""The vectorised per-query paths equal the per-item Python they replaced, on the bundled films.

- :func:`retrieval.overlap_matrices.fill_overlap_features` (the transfer ranker's overlap features) against
  the per-candidate set arithmetic it replaced (kept here as the reference);
- :meth:`retrieval.lexical.LexicalIndex.matched_terms_at` (the "mentions 'x'" reasons) against
  :func:`retrieval.lexical.matched_terms` re-tokenizing every item's text;
- :func:`retrieval.blas_threads.one_blas_thread` sets one BLAS thread inside and restores the count after.
"""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from retrieval.catalogue import load_catalogue
from retrieval.itemstore import ItemTable
from retrieval.lexical import LexicalIndex, matched_terms, tokenize
from retrieval.overlap_matrices import fill_overlap_features
from retrieval.rerank_counts import title_words
from retrieval.rerank_features import fill_match_features

COLUMNS = ("seed_people_overlap", "seed_title_overlap", "genre_match", "profile_match", "people_match",
           "liked_genre_overlap")


@pytest.fixture(scope="module")
def movies() -> ItemTable:
    items = load_catalogue("movies").items[:6000]
    return ItemTable(items=items, vectors=np.zeros((len(items), 4), dtype=np.float32))


def _reference(X, col, cand, table, seeds, wanted_g, profile, wanted_p, liked_genres) -> None:
    """The per-candidate loop of ``retrieval.transfer.featurize`` before it was vectorised."""
    seed_titles = [w for w in (frozenset(title_words(table.items[q].title)) for q in seeds) if w]
    people_of: dict[str, list[int]] = {}
    for s, q in enumerate(seeds):
        for person in table.people_sets[q]:
            people_of.setdefault(person, []).append(s)
    words_of: dict[str, list[int]] = {}
    for s, w in enumerate(seed_titles):
        for word in w:
            words_of.setdefault(word, []).append(s)
    for j, p in enumerate(cand):
        if seeds:
            shared = Counter(s for person in table.people_sets[p] for s in people_of.get(person, ()))
            X[j, col["seed_people_overlap"]] = max(shared.values(), default=0)
        if seed_titles:
            words = frozenset(title_words(table.items[p].title))
            if words:
                common = Counter(s for word in words for s in words_of.get(word, ()))
                X[j, col["seed_title_overlap"]] = max(
                    (c / (len(words) + len(seed_titles[s]) - c) for s, c in common.items()), default=0.0)
        fill_match_features(X[j], col, table.genre_sets[p], table.people_sets[p], wanted_g, profile, wanted_p,
                            liked_genres)


def test_overlap_features_equal_the_per_candidate_reference(movies):
    rnd = random.Random(3)
    n = len(movies)
    col = {name: j for j, name in enumerate(COLUMNS)}
    genres = sorted({g for s in movies.genre_sets for g in s})
    people = sorted({p for s in movies.people_sets[:500] for p in s})
    # a franchise's films share title words and people: make sure those cases are exercised
    sequels = [p for p, it in enumerate(movies.items) if it.title.endswith((" 2", " II", " Part 2"))]
    checked_nonzero = Counter()
    for case in range(60):
        seeds = rnd.sample(range(n), rnd.choice([0, 1, 3, 20])) + rnd.sample(sequels, min(2, len(sequels)))
        seeds = list(dict.fromkeys(seeds)) if case % 4 else []
        cand = np.array(rnd.sample(range(n), 300) + seeds[:3], dtype=np.int64)
        wanted_g = set(rnd.sample(genres, rnd.choice([0, 1, 2])))
        profile = frozenset(wanted_g or rnd.sample(genres, rnd.choice([0, 2])))
        wanted_p = set(rnd.sample(people, rnd.choice([0, 0, 1]))) | ({"no such person"} if case % 7 == 0 else set())
        liked_genres = set(rnd.sample(genres, rnd.choice([0, 3])))
        args = (col, cand, movies, seeds, wanted_g, profile, wanted_p, liked_genres)
        fast = np.full((len(cand), len(COLUMNS)), np.nan)
        ref = fast.copy()
        fill_overlap_features(fast, *args)
        _reference(ref, *args)
        np.testing.assert_array_equal(fast, ref)  # bit for bit, NaN where a feature does not apply
        checked_nonzero.update(name for name in COLUMNS if np.nanmax(np.nan_to_num(fast[:, col[name]])) > 0)
    assert set(checked_nonzero) == set(COLUMNS)  # every feature was exercised with real overlaps


def test_matched_terms_from_the_index_equal_retokenizing(movies):
    texts = [it.text for it in movies.items[:3000]]
    index = LexicalIndex.build(texts)
    rnd = random.Random(5)
    queries = ["funny 80s sci-fi with aliens", "a haunted house, très effrayant", "Crime-thriller heists in Paris",
               "war epics", "the the and", "Amélie", "space adventure"]
    for q in queries:
        hits = [p for p, _ in index.search(q, 100)] + rnd.sample(range(len(texts)), 50)
        assert index.matched_terms_at(q, hits) == [matched_terms(q, texts[p]) for p in hits]
    assert any(index.matched_terms_at("space adventure", range(len(texts))))
    assert tokenize("Amélie SCI-FI heists") == ["amelie", "scifi", "heist"]


def test_one_blas_thread_restores_the_thread_count():
    from threadpoolctl import threadpool_info

    from retrieval.blas_threads import one_blas_thread

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    if not before:
        pytest.skip("no BLAS library visible to threadpoolctl")
    with one_blas_thread(), one_blas_thread():  # nested (as concurrent requests would be)
        assert set(blas_threads()) == {1}
    assert blas_threads() == before
