"""The transfer ranker's training on the small film catalogue: the two-tower really learns which films get
recommended after which (film vectors keyed by title + year), and a full artifact trained here is saved,
loaded and used by the real retriever."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from eval.redial_turns import RedialTurn
from eval.transfer_fit import fit_scorer, fit_two_tower
from retrieval.retriever import RetrievalConfig, Retriever
from retrieval.schema import Candidate, Query
from retrieval.transfer import FEATURES, TransferArtifact, TransferConfig, load_transfer
from retrieval.transfer_model import QueryParts

# people who mention the first film are recommended the second: nothing in the texts links them
PARTNERS = {"m4": "m18", "m3": "m9", "m10": "m12", "m16": "m8", "m13": "m15", "m1": "m19"}


@dataclass
class _Turn:
    turn: RedialTurn
    query: Query
    parts: QueryParts
    truth: frozenset[str]
    head: list[Candidate]


@pytest.fixture(scope="module")
def snapshot(film_index):
    return film_index.open()


def _turns(snapshot, repeats: int = 8) -> list[_Turn]:
    out = []
    for r in range(repeats):
        for seed, partner in PARTNERS.items():
            query = Query(text="", exclude_ids=[seed], k=10)
            turn = RedialTurn(dialog_id=f"{seed}-{r}", turn_id=1, context=("x",), entity=(), rec=(), resp="",
                              template=(), rec_ids=(partner,), context_ids=(seed,))
            out.append(_Turn(turn, query, QueryParts.build(query, snapshot.table, None), frozenset({partner}), []))
    return out


@pytest.mark.slow
def test_two_tower_learns_which_films_follow_which(snapshot):
    table = snapshot.table
    tt = fit_two_tower(_turns(snapshot), table, epochs=60, seed=0, negatives=len(table), lr=0.05)
    assert set(tt.film_keys) >= {"spaceballs|1987", "shining|1980"}
    for seed, partner in PARTNERS.items():
        query = Query(exclude_ids=[seed])
        scores = tt.scores(QueryParts.build(query, table, None), table)["total"]
        scores[table.pos[seed]] = -np.inf
        assert table.items[int(np.argmax(scores))].id == partner, seed


@pytest.mark.slow
def test_trained_artifact_round_trips_and_ranks_in_the_retriever(snapshot, embedder, tmp_path):
    from eval.train_transfer import _rows

    table = snapshot.table
    data = _turns(snapshot, repeats=4)
    tt = fit_two_tower(data, table, epochs=60, seed=0, negatives=len(table), lr=0.05)
    config = TransferConfig(extra=10)
    art = TransferArtifact(tt, None, config, {"note": "test"})
    from retrieval.transfer import TransferReranker

    rows = [_rows(t, TransferReranker(art, None), snapshot) for t in data]
    assert all(X.shape[1] == len(FEATURES) for _, X, _ in rows)
    art.scorer = fit_scorer(rows, seed=0, negative_rate=1.0, max_iter=30)
    art.save(tmp_path / "model")
    ranker = load_transfer(embedder, tmp_path / "model")
    assert ranker is not None and ranker.artifact.meta["note"] == "test"
    retriever = Retriever(snapshot, embedder, RetrievalConfig(candidates=5, mmr_lambda=1.0), reranker=ranker)
    hits = 0
    for seed, partner in PARTNERS.items():
        top = [c.item.id for c in retriever.retrieve(Query(text="a film", exclude_ids=[seed], k=3))]
        assert seed not in top
        hits += partner in top
    assert hits >= len(PARTNERS) - 1


@pytest.mark.slow
def test_prepared_turns_are_prepared_again_when_the_understanding_reads_them_differently(snapshot, tmp_path,
                                                                                        monkeypatch):
    from bot.settings import Settings
    from eval import train_transfer

    settings = Settings(data_dir=tmp_path)
    seed, partner = snapshot.table.items[0], snapshot.table.items[1]
    turn = RedialTurn(dialog_id="d1", turn_id=1, context=("", f"I loved {seed.title} ({seed.year})"), entity=(),
                      rec=(), resp="", template=(), rec_ids=(partner.id,), context_ids=(seed.id,))
    pairs = [("dev", turn)]
    first = train_transfer._prepared(pairs, snapshot, settings, 5, False, "films")
    assert seed.id in first[0].query.liked_ids  # the chat's understanding read the turn
    cached = list((tmp_path / "cache" / "rerankers" / train_transfer.FOLDS_DIR).glob("films-prepared-*.pkl"))
    assert len(cached) == 1
    cached[0].write_bytes(b"written by an older version")  # unreadable now: prepared again, not a crash
    again = train_transfer._prepared(pairs, snapshot, settings, 5, False, "films")
    assert [t.query for t in again] == [t.query for t in first]
    # a parser that reads the same turn differently must not get the turns prepared with the old reading
    monkeypatch.setattr(train_transfer, "turn_queries", lambda *_: [Query(text="read differently", k=100)])
    changed = train_transfer._prepared(pairs, snapshot, settings, 5, False, "films")
    assert changed[0].query.text == "read differently"
