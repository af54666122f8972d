"""The benchmark's ranking systems on real ReDial turns, a real index and the real MiniLM."""

from __future__ import annotations

import pytest

from eval.redial_catalogue import load_catalogue
from eval.redial_turns import exclusions_for_turn, read_turns
from eval.systems import DialogueStates, last_utterances, roles


def test_roles_alternate_and_end_with_the_seeker():
    assert roles(["", "Hi, what do you like?", "horror please"]) == ["seeker", "recommender", "seeker"]
    assert roles(["Hello", "hi", "Hi!", "comedies?"]) == ["recommender", "seeker", "recommender", "seeker"]
    assert roles([]) == []


@pytest.fixture(scope="module")
def turns(small_redial):
    return read_turns(small_redial.turns_path, load_catalogue(small_redial.catalogue_path))


@pytest.fixture(scope="module")
def catalogue(small_redial):
    return load_catalogue(small_redial.catalogue_path)


@pytest.fixture(scope="module")
def understander(small_redial):
    from eval.redial_setup import understander_for

    return understander_for(small_redial.snapshot)


@pytest.fixture(scope="module")
def embedder(small_redial):
    from bot import services

    return services.embedder(small_redial.settings)


def _turn(turns, key):
    return next(t for t in turns if t.key == key)


def test_last_utterances_are_the_baselines_query(turns):
    t = _turn(turns, "16162:4")
    assert last_utterances(t) == " ".join(t.context[-2:])
    assert "It Follows (2014)" in last_utterances(t)


@pytest.mark.slow
def test_state_reads_seeker_titles_and_records_recommender_mentions(turns, catalogue, understander):
    states = DialogueStates(understander)
    first = states.state(_turn(turns, "16162:2"))
    babadook = catalogue.resolve("The Babadook (2014)")
    assert babadook in first.liked_ids, first  # "a good horroe movie like The Babadook (2014)"

    later = states.state(_turn(turns, "16162:4"))
    shining = catalogue.resolve("The Shining (1980)")
    assert shining in later.shown_ids  # the recommender named it in between
    assert babadook in later.liked_ids
    query = later.to_query(10)
    assert shining in query.exclude_ids and babadook in query.liked_ids


@pytest.mark.slow
def test_incremental_states_equal_states_read_from_scratch(turns, understander):
    incremental = DialogueStates(understander)
    dialogue = [t for t in turns if t.dialog_id == "15266"]
    assert len(dialogue) >= 3
    states = [incremental.state(t) for t in dialogue]
    for t, state in zip(dialogue, states, strict=True):
        fresh = DialogueStates(understander).state(t)
        assert fresh == state
    # later turns re-read only the new utterances
    assert incremental.utterances_read == sum(1 for u, r in zip(dialogue[-1].context, roles(dialogue[-1].context),
                                                                 strict=True) if r == "seeker" and u.strip())


@pytest.fixture(scope="module")
def systems(small_redial, turns, catalogue, understander, embedder):
    from eval.systems import (
        DenseSystem,
        LexicalSystem,
        PopularitySystem,
        RecbotSystem,
        eval_retrieval_config,
    )
    from retrieval.retriever import Retriever

    snap = small_redial.snapshot
    return {
        "popularity": PopularitySystem(turns, dict(catalogue.id_of_name)),
        "bm25": LexicalSystem(snap),
        "dense": DenseSystem(snap, embedder),
        "recbot": RecbotSystem(DialogueStates(understander), Retriever(snap, embedder, eval_retrieval_config())),
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", ["popularity", "bm25", "dense", "recbot"])
def test_systems_rank_catalogue_ids_and_never_context_items_in_new_only(name, systems, turns, small_redial):
    system = systems[name]
    table = small_redial.snapshot.table
    nonempty = 0
    for turn in turns:
        for view in ("all", "new-only"):
            exclude = exclusions_for_turn(turn, view)
            ranked = system.rank(turn, 50, exclude)
            assert len(ranked) == len(set(ranked)), (name, turn.key)
            assert all(i in table.pos for i in ranked)
            assert len(ranked) <= 50 + 5
            assert not set(ranked) & set(exclude), (name, turn.key, view)
            nonempty += bool(ranked)
    assert nonempty >= len(turns)  # every system answers most turns


@pytest.mark.slow
def test_dense_finds_a_movie_from_its_own_plot(systems, turns, catalogue):
    import dataclasses

    movie = catalogue.movies[catalogue.resolve("The Shining (1980)")]
    turn = dataclasses.replace(turns[0], context=("", "What do you like?", movie.plot))
    # MiniLM against "name. genres. plot. Directed by... Starring...": 6th of ~330 here
    assert movie.id in systems["dense"].rank(turn, 10)
    assert movie.id not in systems["dense"].rank(turn, 10, exclude=[movie.id])


@pytest.mark.slow
def test_recbot_ranks_like_the_retriever_on_the_state_query(systems, turns, small_redial, embedder):
    from eval.systems import eval_retrieval_config
    from retrieval.retriever import Retriever

    system = systems["recbot"]
    turn = _turn(turns, "15266:6")  # the seeker liked Jumanji (2017) and The Jungle Book (2016)
    query = system.query(turn, 50)
    assert query.liked_ids
    expected = [c.item.id for c in Retriever(small_redial.snapshot, embedder, eval_retrieval_config()).retrieve(query)]
    assert system.rank(turn, 50)[:50] == expected[:50]
    assert not set(query.liked_ids) & set(system.rank(turn, 50))  # liked items are not recommended back


@pytest.mark.slow
def test_engine_understanding_gives_the_states_the_chat_builds(small_redial, turns, understander):
    """The benchmark reads contexts with the chat engine's own ``understand`` (rules only: no LLM is loaded)."""
    from eval.redial_setup import benchmark_engine

    engine = benchmark_engine(small_redial.settings, small_redial.snapshot, understander, llm=False)
    assert engine.llm is None and engine.config.llm_understanding == "never"
    via_engine = DialogueStates.from_engine(engine)
    direct = DialogueStates(understander)
    for t in turns[:15]:
        assert via_engine.state(t) == direct.state(t)
