"""The learned reranker on the small film catalogue: counts, leave-one-out, candidate expansion, and a
model that is really trained, saved, found by fingerprint, loaded and used by the real retriever."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from retrieval.rerank import (
    FEATURES,
    ConversationTurn,
    InteractionStats,
    Minus,
    RerankConfig,
    RerankerArtifact,
    StatsArrays,
    artifact_path,
    catalogue_fingerprint,
    contributions,
    expand_candidates,
    featurize,
    find_artifact,
    load_reranker,
    title_words,
    wish_keys,
)
from retrieval.schema import Candidate, Query

# In these recorded conversations people who mention a film get an unexpected one recommended:
# content similarity alone would never pick these partners.
PARTNERS = {"m4": "m18", "m3": "m9", "m10": "m12", "m16": "m8", "m13": "m15", "m1": "m19"}


def _conversations(repeats: int = 10) -> list[ConversationTurn]:
    turns = []
    for r in range(repeats):
        for seed, partner in PARTNERS.items():
            wanted = ("genre:comedy",) if r % 2 == 0 else ()
            turns.append(ConversationTurn(f"{seed}-{r}", (seed,), (partner,), wanted))
    return turns


def test_counts_are_per_conversation():
    turns = [
        ConversationTurn("a", ("m1",), ("m2",)),
        ConversationTurn("a", ("m1", "m2"), ("m2", "m3")),  # m2 recommended twice in one conversation
        ConversationTurn("b", ("m4",), ("m2",)),
        ConversationTurn("c", ("m5",), ()),  # mentioned, nothing recommended: not a seed
    ]
    stats = InteractionStats.from_turns(turns)
    assert stats.conversations == 3
    assert stats.recommended["m2"] == 2 and stats.recommended["m3"] == 1
    assert stats.mentioned["m2"] == 2 and stats.mentioned["m5"] == 1
    assert stats.seeds["m1"] == 1 and stats.seeds["m5"] == 0
    assert stats.pairs[("m1", "m2")] == 1 and stats.pairs[("m1", "m3")] == 1 and stats.pairs[("m4", "m2")] == 1
    assert ("m2", "m2") not in stats.pairs  # an item is not its own seed


def test_wishes_count_new_items_recommended_after_them():
    turns = [
        ConversationTurn("a", ("m1",), ("m2", "m1"), ("genre:horror", "person:jim carrey")),
        ConversationTurn("a", ("m1", "m2"), ("m3",), ("genre:horror",)),
        ConversationTurn("b", (), ("m2",), ("genre:horror",)),
        ConversationTurn("c", (), ("m4",), ()),
    ]
    stats = InteractionStats.from_turns(turns)
    assert stats.wishes == {"genre:horror": 2, "person:jim carrey": 1}
    assert stats.wish_pairs[("genre:horror", "m2")] == 2 and stats.wish_pairs[("genre:horror", "m3")] == 1
    assert ("genre:horror", "m1") not in stats.wish_pairs  # m1 had been mentioned: not a new recommendation
    assert not [p for p in stats.wish_pairs if p[1] == "m4"]  # recommended with nothing asked for
    assert wish_keys(["Horror", "horror"], ["Jim Carrey"]) == ("genre:horror", "person:jim carrey")


def test_title_words_ignore_articles_and_numbers():
    assert title_words("Guardians of the Galaxy Vol. 2") == ["guardians", "galaxy"]
    assert title_words("The Dark Knight Rises") == ["dark", "knight", "rises"]


def _table(films, embedder):
    from retrieval.itemstore import ItemTable

    return ItemTable(items=list(films), vectors=embedder.embed([f.text for f in films]))


@pytest.fixture(scope="module")
def table(films, embedder):
    return _table(films, embedder)


@pytest.mark.slow
def test_leave_one_out_equals_counting_without_that_conversation(table):
    turns = _conversations(3)
    contribs = contributions(turns)
    everyone = StatsArrays(InteractionStats.from_contributions(contribs.values()), table)
    held = "m4-1"
    others = StatsArrays(InteractionStats.from_contributions(c for k, c in contribs.items() if k != held), table)
    minus = Minus.of(contribs[held], table)
    query = Query(liked_ids=["m4"], exclude_ids=["m3"], genres=["Comedy"])
    cands = [Candidate(item=it, score=0.0) for it in table.items if it.id not in {"m4", "m3"}]
    with_minus = featurize(query, cands, table, everyone, minus=minus)
    without = featurize(query, cands, table, others)
    np.testing.assert_allclose(with_minus, without, equal_nan=True)
    titanic = [c.item.id for c in cands].index("m18")
    assert with_minus[titanic, FEATURES.index("cooc_sum")] > 0  # the two other conversations still count
    # comedy was asked for before Titanic was recommended in m4-0 and m4-2 (held m4-1 asked for nothing)
    assert with_minus[titanic, FEATURES.index("wish_max")] > 0
    held_wish = Minus.of(contribs["m4-0"], table)
    others_wish = StatsArrays(InteractionStats.from_contributions(c for k, c in contribs.items() if k != "m4-0"),
                              table)
    np.testing.assert_allclose(featurize(query, cands, table, everyone, minus=held_wish),
                               featurize(query, cands, table, others_wish), equal_nan=True)
    pool = expand_candidates(query, [], table, everyone, RerankConfig(), minus)
    assert [c.item.id for c in pool] == [c.item.id for c in expand_candidates(query, [], table, others, RerankConfig())]


@pytest.mark.slow
def test_added_candidates_obey_constraints_and_exclusions(table):
    stats = StatsArrays(InteractionStats.from_turns(_conversations(2)), table)
    query = Query(liked_ids=["m4"], exclude_ids=["m15"], unwanted_genres=["Horror"])
    pool = expand_candidates(query, [], table, stats, RerankConfig(popular=50, co_recommended=50))
    ids = [c.item.id for c in pool]
    assert len(ids) == len(set(ids))
    assert "m4" not in ids and "m15" not in ids  # liked and excluded
    assert not [c.item.label for c in pool if "horror" in c.item.genres]
    assert "m18" in ids  # recommended after Spaceballs, and not horror
    titanic = pool[ids.index("m18")]
    assert titanic.reasons and titanic.signals["prior"] > 0
    assert all(c.reasons for c in pool)


@pytest.fixture(scope="module")
def trained(table, films, embedder, film_index):
    """A model fitted on the partner conversations, the way train_reranker does it (leave-one-out)."""
    from retrieval.rerank import ScoringModel, fit_model
    from retrieval.retriever import RetrievalConfig, Retriever

    turns = _conversations(10)
    contribs = contributions(turns)
    stats = InteractionStats.from_contributions(contribs.values())
    arrays = StatsArrays(stats, film_index.open().table)
    snap = film_index.open()
    base = Retriever(snap, embedder, RetrievalConfig(mmr_lambda=1.0))
    Xs, ys = [], []
    for t in turns:
        query = Query(liked_ids=list(t.mentioned), k=100)
        head = base.retrieve(query)
        minus = Minus.of(contribs[t.conversation], snap.table)
        pool = expand_candidates(query, head, snap.table, arrays, RerankConfig(), minus)
        Xs.append(featurize(query, pool, snap.table, arrays, minus=minus))
        ys.append(np.array([c.item.id in t.recommended for c in pool], dtype=np.int8))
    model = fit_model(np.vstack(Xs), np.concatenate(ys), max_iter=100)
    return ScoringModel(model=model, stats=stats, trained_on=sum(len(y) for y in ys),
                        positives=int(sum(y.sum() for y in ys)))


@pytest.mark.slow
def test_reranker_is_saved_found_by_fingerprint_loaded_and_reorders(trained, film_index, embedder, tmp_path):
    from retrieval.retriever import RetrievalConfig, Retriever

    snap = film_index.open()
    assert find_artifact(tmp_path, "films", snap.table, embedder.name) is None
    assert load_reranker(tmp_path, "films", snap.table, embedder) is None
    fingerprint = catalogue_fingerprint(snap.table, embedder.name)
    RerankerArtifact("films", fingerprint, trained).save(artifact_path(tmp_path, "films", fingerprint))
    reranker = load_reranker(tmp_path, "films", snap.table, embedder)
    assert reranker is not None

    cfg = RetrievalConfig(mmr_lambda=1.0)
    plain = Retriever(snap, embedder, cfg).retrieve(Query(liked_ids=["m4"], k=5))
    assert plain[0].item.id != "m18"  # content alone: Titanic is nothing like Spaceballs
    reranked = Retriever(snap, embedder, cfg, reranker=reranker).retrieve(Query(liked_ids=["m4"], k=5))
    assert reranked[0].item.id == "m18", [c.item.label for c in reranked]
    assert "rerank" in reranked[0].signals and reranked[0].reasons
    assert all(a.score >= b.score for a, b in zip(reranked, reranked[1:]))
    ids = [c.item.id for c in reranked]
    assert len(ids) == len(set(ids)) and "m4" not in ids
    # the learned pairing generalises across seeds, and exclusions still hold
    shining = Retriever(snap, embedder, cfg, reranker=reranker).retrieve(
        Query(liked_ids=["m3"], exclude_ids=["m9"], k=5))
    assert "m9" not in [c.item.id for c in shining]


@pytest.mark.slow
def test_changed_catalogue_or_feature_version_never_loads_a_stale_model(trained, films, film_index, embedder,
                                                                      tmp_path):

    snap = film_index.open()
    fingerprint = catalogue_fingerprint(snap.table, embedder.name)
    path = RerankerArtifact("films", fingerprint, trained).save(artifact_path(tmp_path, "films", fingerprint))
    changed = _table([dataclasses.replace(films[0], text=films[0].text + " Extended cut."), *films[1:]], embedder)
    assert catalogue_fingerprint(changed, embedder.name) != fingerprint
    assert find_artifact(tmp_path, "films", changed, embedder.name) is None

    stale = RerankerArtifact("films", fingerprint, trained, feature_version=0)
    stale.save(path)
    with pytest.raises(ValueError, match="feature version"):
        RerankerArtifact.load(path)
    assert load_reranker(tmp_path, "films", snap.table, embedder) is None
