"""The vectorised per-query paths equal the per-item Python they replaced, on the bundled films.

- :func:`retrieval.overlap_matrices.fill_overlap_features` (the transfer ranker's overlap features) against
  the per-candidate set arithmetic it replaced (kept here as the reference);
- :meth:`retrieval.lexical.LexicalIndex.matched_terms_at` (the "mentions 'x'" reasons) against
  :func:`retrieval.lexical.matched_terms` re-tokenizing every item's text;
- :func:`retrieval.blas_threads.one_blas_thread` sets one BLAS thread inside and restores the count after;
- :func:`retrieval.vector_pass.vector_pass` (one pass over the item vectors for every product of a turn)
  against the plain products it replaced, bit for bit, and the retriever sharing that pass with the transfer
  ranker against the ranker making its own: the same ranking, the same scores;
- :meth:`retrieval.lexical.LexicalIndex.search` (its own top among positive scores) and
  :func:`retrieval.transfer.build_pool` (the top among allowed items only) against the whole-array selection
  they replaced: the same items and scores, equal scores in position order (the old order of exact ties was
  whatever ``argpartition`` left).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter

import numpy as np
import pytest

from retrieval.catalogue import load_catalogue
from retrieval.index import IndexSnapshot, Manifest
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


# -- one pass over the item vectors -------------------------------------------------------------------


def _old_blocked_matmul(m: np.ndarray, q: np.ndarray, rows: int = 256) -> np.ndarray:
    """The retriever's multi-vector product before :mod:`retrieval.vector_pass` (kept as the reference)."""
    out = np.empty((len(m), q.shape[1]), dtype=np.result_type(m, q))
    for start in range(0, len(m), rows):
        np.matmul(m[start : start + rows], q, out=out[start : start + rows])
    return out


def test_vector_pass_equals_the_plain_products_bit_for_bit():
    from retrieval.blas_threads import one_blas_thread
    from retrieval.vector_pass import vector_pass

    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((5000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    v = rng.standard_normal(384).astype(np.float32)
    q = rng.standard_normal((384, 3)).astype(np.float32)
    with one_blas_thread():
        for rows in (None, np.flatnonzero(rng.random(5000) < 0.2), np.array([7]), np.arange(0)):
            got_v, got_q = vector_pass(vectors, [v, q], rows)
            plain = vectors if rows is None else vectors[rows]
            np.testing.assert_array_equal(got_v, plain @ v)
            np.testing.assert_array_equal(got_q, _old_blocked_matmul(plain, q))
            assert got_v.dtype == np.float32 and got_q.shape == (len(plain), 3)


@pytest.fixture(scope="module")
def films_with_vectors() -> ItemTable:
    """The first 6,000 bundled films that have a shipped vector (real MiniLM geometry, nothing embedded)."""
    from retrieval import seed_vectors

    seeds = seed_vectors.load("movies", "minilm-l6-v2", 384)
    if seeds is None:
        pytest.skip("no shipped vectors for the bundled films")
    items = load_catalogue("movies").items[:6500]
    found = seeds.lookup([it.text for it in items])
    keep = sorted(found)[:6000]
    return ItemTable(items=[items[p] for p in keep], vectors=np.stack([found[p] for p in keep]).astype(np.float32))


class _OwnPass:
    """The transfer ranker without the shared pass: it scores the items itself (the reference path)."""

    name = "transfer"

    def __init__(self, ranker) -> None:
        self.ranker = ranker
        self.remember_text_vector = ranker.remember_text_vector

    def rerank(self, query, candidates, table):
        return self.ranker.rerank(query, candidates, table)


def _queries(table: ItemTable) -> list:
    from retrieval.schema import Query, Range

    rnd = random.Random(13)
    ids = [it.id for it in table.items]
    genres = sorted({g for it in table.items for g in it.genres})
    texts = ["funny 80s sci-fi", "a scary haunted house", "courtroom drama", "space adventure with aliens",
             "romantic comedy in paris", "war epic"]
    out = []
    for i in range(24):
        q = Query(text=rnd.choice(texts) if i % 3 != 2 else "", k=10, exclude_ids=rnd.sample(ids, 5))
        if i % 3 == 2 or i % 4 == 0:
            q.liked_ids = rnd.sample(ids, rnd.choice([1, 2, 3]))
        if i % 2 == 0:  # a decade: few allowed items, gathered
            start = rnd.choice(range(1950, 2010, 10))
            q.year = Range(start, start + 9)
        else:  # one unwanted genre: most items allowed, every row scored
            q.unwanted_genres = [rnd.choice(genres)]
        if i % 5 == 0:
            q.disliked_ids = rnd.sample(ids, 1)
        out.append(q)
    return out


def test_the_shared_pass_ranks_exactly_as_the_rankers_own_pass(films_with_vectors, embedder):
    from retrieval.retriever import RetrievalConfig, Retriever
    from retrieval.transfer import load_transfer

    ranker = load_transfer(embedder)
    if ranker is None:
        pytest.skip("no packaged transfer ranker")
    table = films_with_vectors
    snap = IndexSnapshot(
        manifest=Manifest(catalogue="movies", generation=1, collection="unused", embedder=embedder.name, dim=384,
                          count=len(table), created=0.0),
        table=table, lexical=LexicalIndex.build([it.text for it in table.items]), collection=None)
    config = RetrievalConfig(filter_mode="memory")  # exact in-memory search: the retriever makes a pass
    shared = Retriever(snap, embedder, config, reranker=ranker)
    own = Retriever(snap, embedder, config, reranker=_OwnPass(ranker))
    calls = []  # (content given?, two-tower scores, allowed mask) per prepare
    real_prepare = ranker.prepare

    def prepare(*args, **kwargs):
        parts, tt, allowed = real_prepare(*args, **kwargs)
        calls.append((kwargs.get("content") is not None, tt, allowed))
        return parts, tt, allowed

    ranker.prepare = prepare
    try:
        for q in _queries(table):
            got, ref = shared.retrieve(q), own.retrieve(q)
            assert [c.item.id for c in got] == [c.item.id for c in ref], q
            assert [c.score for c in got] == [c.score for c in ref]
            assert [c.signals for c in got] == [c.signals for c in ref]
            (used, tt, allowed), (used_ref, tt_ref, allowed_ref) = calls[-2:]
            assert used and not used_ref  # the shared pass, then the ranker's own
            np.testing.assert_array_equal(allowed, allowed_ref)
            for name in ("content", "film", "prior", "total"):  # bit for bit on every row ranking reads
                np.testing.assert_array_equal(tt[name][allowed], tt_ref[name][allowed])
    finally:
        del ranker.prepare


def test_two_tower_scores_equal_the_plain_products(films_with_vectors, embedder):
    from retrieval.schema import Query
    from retrieval.transfer import load_transfer
    from retrieval.transfer_model import QueryParts

    ranker = load_transfer(embedder)
    if ranker is None:
        pytest.skip("no packaged transfer ranker")
    tower, table = ranker.artifact.two_tower, films_with_vectors
    cache = tower.table_cache(table)
    with_film = [p for p in range(len(table)) if cache.has_film[p]]
    assert len(with_film) > 100  # the bundled films do have learned film vectors
    rnd = random.Random(17)
    for i in range(6):
        q = Query(text=["a scary film", "", "funny"][i % 3], liked_ids=[table.items[p].id for p in rnd.sample(
            with_film, 2)], exclude_ids=[table.items[p].id for p in rnd.sample(range(len(table)), 3)])
        parts = QueryParts.build(q, table, embedder.embed_query(q.text) if q.text else None)
        qv = tower.query_vector(parts)
        seed_film = cache.film_vecs[[s for s in parts.seeds if cache.has_film[s]]].mean(axis=0)
        rows = np.array(sorted(rnd.sample(range(len(table)), 900)), dtype=np.int64)
        for r in (None, rows):
            got = tower.scores(parts, table, r)
            plain = table.vectors if r is None else table.vectors[r]
            content = got["content"] if r is None else got["content"][r]
            np.testing.assert_array_equal(content, plain @ qv)
            film = tower.film_weight * (cache.film_vecs @ seed_film)
            # only the rows with a film vector are multiplied now: BLAS may round the last few rows of a
            # product differently (it did so before too, between its whole-table and allowed-rows paths)
            np.testing.assert_allclose(got["film"] if r is None else got["film"][r],
                                       film if r is None else film[r], rtol=1e-6, atol=1e-8)
            assert (got["film"] != 0).sum() == (film != 0).sum()
            if r is not None:
                assert np.isnan(np.delete(got["content"], r)).all()
        given = tower.scores(parts, table, rows, content=table.vectors[rows] @ qv)
        np.testing.assert_array_equal(given["total"][rows], tower.scores(parts, table, rows)["total"][rows])


# -- selections among the items that can win ----------------------------------------------------------


def _same_top(got: list[tuple[int, float]], ref: list[tuple[int, float]]) -> None:
    """Equal score sequences; the same items except among exact ties at the cut."""
    assert [s for _, s in got] == [s for _, s in ref]
    cut = ref[-1][1] if ref else None
    assert {p for p, s in got if s != cut} == {p for p, s in ref if s != cut}
    scores = [s for _, s in got]
    for (p, s), (p2, s2) in itertools.pairwise(got):
        assert s > s2 or (s == s2 and p < p2)  # best first, equal scores by position
    assert scores == sorted(scores, reverse=True)


def test_lexical_top_equals_bm25s_selection(movies):
    texts = [it.text for it in movies.items[:4000]]
    index = LexicalIndex.build(texts)
    rnd = random.Random(19)
    allowed = np.array([rnd.random() < 0.3 for _ in texts])
    ties = 0
    for q in ["comedy", "funny 80s sci-fi with aliens", "war", "drama romance", "Paris", "no-such-wordzz",
              "the", "space adventure", "crime thriller heist"]:
        for mask_ in (None, allowed):
            for n in (5, 100):
                got = index.search(q, n, mask_)
                tokens = tokenize(q)
                if not tokens:
                    assert got == []
                    continue
                weight = None if mask_ is None else mask_.astype(np.float32)
                docs, scores = index._bm25.retrieve([tokens], k=min(n, len(texts)), show_progress=False,
                                                    n_threads=0, weight_mask=weight)
                ref = [(int(d), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
                _same_top(got, ref)
                ties += len(got) - len({s for _, s in got})
                if mask_ is not None:
                    assert all(mask_[p] for p, _ in got)
    assert ties > 0  # equal BM25 scores do occur (one-word queries), and their order was checked


def test_build_pool_takes_the_same_best_allowed_items(films_with_vectors):
    from retrieval.schema import Candidate, Query
    from retrieval.transfer import build_pool

    table = films_with_vectors
    rng = np.random.default_rng(23)
    for case in range(12):
        total = rng.standard_normal(len(table)).astype(np.float32)
        total[rng.choice(len(table), 40)] = 1.5  # exact ties among the best
        allowed = rng.random(len(table)) < (0.1 if case % 2 else 0.9)
        if case == 3:
            total[~allowed] = np.nan  # rows nobody scored
        head_pos = rng.choice(np.flatnonzero(allowed), 30, replace=False)
        head = [Candidate(item=table.items[int(p)], score=1.0, signals={}) for p in head_pos]
        extra = [10, 150, 10_000][case % 3]
        got = build_pool(Query(text="x"), head, table, total, allowed, extra)[len(head):]
        # the old selection: -inf for the disallowed and the head, argpartition over the whole table
        scores = np.where(allowed, total, -np.inf)
        scores[head_pos] = -np.inf
        k = min(extra, int(np.isfinite(scores).sum()))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        _same_top([(table.pos[c.item.id], float(total[table.pos[c.item.id]])) for c in got],
                  [(int(p), float(total[p])) for p in top])
