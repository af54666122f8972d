"""The comparison report of ``load_test --compare`` (figures made up here; the run itself is measured by
the command, not asserted in a test)."""

from __future__ import annotations

import pytest

from eval.load_compare import Comparison
from eval.load_rounds import RoundResult, loopback_urls


def _round(n: int, tps: float, errors: int = 0) -> RoundResult:
    return RoundResult(concurrency=n, messages_per_session=2, turns=2 * n, wall_s=2 * n / tps, turns_per_s=tps,
                       errors=errors)


def test_the_speedup_compares_the_largest_n_with_the_best_in_process_round():
    c = Comparison(model="tiny", slots=8, replicas=2,
                   in_process=[_round(1, 0.30), _round(4, 0.40), _round(16, 0.35)],
                   server=[_round(1, 0.5), _round(4, 0.9), _round(16, 1.2)])
    assert c.baseline == pytest.approx(0.40)
    assert c.scaled.concurrency == 16 and c.speedup == pytest.approx(3.0)
    assert c.same_load_speedup == pytest.approx(1.2 / 0.35)  # against the in-process round at N=16
    assert c.clean
    table = c.table()
    assert "in-process llamacpp x1" in table and "llama server 8 slots x2" in table
    assert "3.43x the in-process setup at the same N, 3.00x the best in-process figure (0.40 turns/s)" in table
    assert len([line for line in table.splitlines() if line.startswith(("in-process", "llama server"))]) == 6


def test_an_error_anywhere_makes_the_run_unclean():
    c = Comparison(model="tiny", slots=8, replicas=2, in_process=[_round(1, 0.3)], server=[_round(16, 1.0, errors=1)])
    assert not c.clean


def test_every_replica_url_must_be_loopback():
    assert loopback_urls(["http://127.0.0.1:1", "http://localhost:2"]) == ["http://127.0.0.1:1", "http://localhost:2"]
    with pytest.raises(ValueError, match="loopback"):
        loopback_urls(["http://127.0.0.1:1", "http://192.168.1.5:2"])
    with pytest.raises(ValueError, match="no server URL"):
        loopback_urls([])
