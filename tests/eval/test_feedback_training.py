"""Training a catalogue's ranker on its own feedback logs (``recbot train-reranker --from-feedback``).

Real components: conversations run through the chat service (real film index, the packaged transfer
ranker, the tiny real LLM) into a real SQLite session store; the trained ranker is loaded back the way
``retrieval.rerank = "auto"`` loads it and must move the liked films up for a similar request.
"""

from __future__ import annotations

import pytest

from bot.chat_service import ChatService
from bot.engine import ConversationEngine, EngineConfig
from bot.sessions.sqlite import SQLiteSessionStore
from bot.state import SessionState
from bot.understanding import Understander
from eval.feedback_training import NotEnoughFeedback, replay_sessions, train_from_feedback
from prompts.loader import DEFAULT_ROOT, PromptLibrary
from retrieval.feedback_ranker import feedback_ranker_dir, load_feedback_ranker
from retrieval.retriever import RetrievalConfig, Retriever
from retrieval.transfer import load_transfer

REQUESTS = ["recommend me a funny space comedy", "suggest something hilarious with aliens",
            "recommend a comedy set in outer space", "can you recommend funny science fiction",
            "suggest a silly alien comedy", "recommend a lighthearted sci-fi comedy"]
PROBE = "recommend a hilarious comedy about aliens in space"  # a new conversation, like those


@pytest.fixture(scope="module")
def tiny_llm():
    from bot.llm.factory import create_llm

    return create_llm("llamacpp", "smollm2-135m")


@pytest.fixture(scope="module")
def base(embedder):
    ranker = load_transfer(embedder)
    if ranker is None:
        pytest.skip("no packaged transfer ranker in retrieval/models/transfer/")
    return ranker


def _ranking(snapshot, embedder, reranker, text: str) -> list[str]:
    """The whole catalogue ranked for a first message ``text`` (no diversity step)."""
    r = Retriever(snapshot, embedder, RetrievalConfig(mmr_lambda=1.0), reranker=reranker)
    state = SessionState()
    state.apply(Understander.from_items(r.table.items).parse(text, state))
    return [c.item.id for c in r.retrieve(state.to_query(k=len(r.table)))]


def _service(film_index, embedder, llm, store) -> ChatService:
    config = EngineConfig(k=2, llm_understanding="never", max_tokens=16, question_tokens=12, temperature=0.0,
                          follow_up=False)
    retriever = Retriever(film_index.open(), embedder, RetrievalConfig())
    return ChatService(ConversationEngine(retriever, llm, PromptLibrary([DEFAULT_ROOT]), config), store, "films")


@pytest.mark.slow
def test_feedback_moves_liked_films_up(film_index, embedder, tiny_llm, base, tmp_path):
    snapshot = film_index.open()
    before = _ranking(snapshot, embedder, base, PROBE)
    liked, disliked = before[5:7], before[:2]  # mid-list films people keep liking; the top two they reject

    store = SQLiteSessionStore(tmp_path / "sessions.sqlite")
    service = _service(film_index, embedder, tiny_llm, store)
    judgements = [("like", i) for i in liked] + [("dislike", i) for i in disliked]
    for n, text in enumerate(REQUESTS):
        sid = service.create_session().id
        result = service.send(sid, text)
        assert result.action == "recommend" and result.recommendations
        # half the people like first, half dislike first: the first film of each kind is judged right
        # after the request as often as the probe's context is just a request
        for kind, item_id in (judgements if n % 2 == 0 else judgements[2:] + judgements[:2]):
            service.feedback(sid, kind, item_id)
        service.rate_message(sid, "message_up", 1)  # not an item judgement: ignored
    store.create("other-catalogue")  # another catalogue's sessions are not replayed

    table = snapshot.table
    found = replay_sessions(store, "films", table, Understander.from_items(table.items))
    assert found.sessions == len(REQUESTS)
    assert [ex.label for ex in found.examples] == [1, 1, 0, 0, 0, 0, 1, 1] * (len(REQUESTS) // 2)
    first = found.examples[0]
    assert first.item_id == liked[0] and liked[0] not in first.query.exclude_ids
    assert "comedy" in first.query.genres  # the conversation so far: what the person asked for
    reply = service.messages(first.session_id)[1]
    shown = {r["id"] for r in reply.data["recommendations"]} - {first.item_id}
    assert reply.role == "assistant" and shown and shown <= set(first.query.exclude_ids)  # replayed

    retriever = Retriever(snapshot, embedder, RetrievalConfig())
    report = train_from_feedback(store, "films", retriever, base, tmp_path / "cache")
    assert report.examples == 4 * len(REQUESTS) and report.likes == 2 * len(REQUESTS)
    assert report.log_loss_after < report.log_loss_before
    assert report.out == feedback_ranker_dir(tmp_path / "cache", "films")
    assert retriever.reranker is None  # the retriever it borrowed is left as it was

    tuned = load_feedback_ranker(tmp_path / "cache", "films", embedder)
    assert tuned is not None and tuned.name == "transfer+feedback"
    assert load_feedback_ranker(tmp_path / "cache", "other-catalogue", embedder) is None
    after = _ranking(snapshot, embedder, tuned, PROBE)
    assert after.index(liked[0]) < before.index(liked[0]), (liked[0], before, after)
    assert after.index(liked[0]) < after.index(disliked[0]), (before, after)  # now above the rejected top film


def test_too_little_feedback_says_how_much(film_index, embedder, base, tmp_path):
    store = SQLiteSessionStore(tmp_path / "sessions.sqlite")
    sid = store.create("films").id
    store.add_message(sid, "user", "a funny space comedy")
    store.add_feedback(sid, "like", "m4")
    store.add_feedback(sid, "dislike", "m3")
    store.add_feedback(sid, "like", "no-such-film")
    retriever = Retriever(film_index.open(), embedder, RetrievalConfig())
    with pytest.raises(NotEnoughFeedback) as err:
        train_from_feedback(store, "films", retriever, base, tmp_path / "cache")
    message = str(err.value)
    assert "2 like/dislike rows (1 likes) in 1 sessions" in message
    assert "1 more about items no longer in the catalogue" in message
    assert "at least 20 rows with 5 likes" in message
    assert not feedback_ranker_dir(tmp_path / "cache", "films").exists()
