"""The load script against a real ``recbot serve`` subprocess (real index, tiny LLM): concurrent
conversations queue for the one LLM and none fails or loses a message."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from eval.load_rounds import LoadConversation, check_loopback, format_table, percentile, run
from tests.bot.faces.api.support import Server, data_dir_copy, free_port


def test_only_loopback_targets_are_accepted():
    for url in ("http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:8765"):
        check_loopback(url)
    for url in ("http://10.0.0.5:8765", "https://example.org", "http://0.0.0.0:8765", "http://"):
        with pytest.raises(ValueError, match="loopback"):
            check_loopback(url)


def test_percentile_interpolates():
    assert percentile([], 95) == 0.0
    assert percentile([3.0], 50) == 3.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile(list(map(float, range(101))), 95) == pytest.approx(95.0)


@pytest.fixture(scope="module")
def server(robust_pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("load")
    data = data_dir_copy(robust_pristine, root / "data")
    srv = Server(data, free_port(), root / "server.log", RECBOT_API__RATE_PER_MINUTE="0").start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.slow
def test_concurrent_sessions_have_no_errors_and_lose_no_messages(server: Server):
    t0 = time.monotonic()
    results = run(server.url, [1, 4], messages=2, max_duration_s=400)
    print("\n" + format_table(results))
    assert [r.concurrency for r in results] == [1, 4]
    for r in results:
        assert r.errors == 0, r.error_samples
        assert r.lost == 0
        assert not r.stopped_early
        assert r.turns == r.concurrency * 2
        assert 0 < r.p50_s <= r.p95_s <= r.max_s
    assert time.monotonic() - t0 < 400


@pytest.mark.slow
def test_a_message_missing_from_the_store_is_counted_as_lost(server: Server):
    """The lost-message count reads the server's store: remove a stored message behind its back."""
    with httpx.Client(base_url=server.url, timeout=300, trust_env=False) as client:
        conv = LoadConversation(client, 0, messages=1, deadline=time.monotonic() + 300)
        conv.run()
        assert not conv.errors and conv.acknowledged
        assert conv.lost() == (0, None)
        con = sqlite3.connect(server.data_dir / "sessions.sqlite", timeout=30)
        try:
            with con:
                con.execute("DELETE FROM messages WHERE session_id = ? AND role = 'user'", (conv.session_id,))
        finally:
            con.close()
        assert conv.lost() == (1, None)
