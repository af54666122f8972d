"""API keys (hashed at rest), the token-bucket rate limiter and the configuration rules."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.faces.api.security import ApiConfig, AuthError, KeyRing, RateLimiter, hash_key, key_id, new_key
from bot.settings import Settings


def test_hash_key_is_the_sha256_of_the_key_with_a_prefix():
    assert hash_key("abc") == "sha256:" + hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(ValueError):
        hash_key("")
    with pytest.raises(ValueError):
        hash_key(" padded ")


def test_new_key_is_random_and_matches_its_digest():
    (k1, d1), (k2, d2) = new_key(), new_key()
    assert k1 != k2 and len(k1) > 30
    assert d1 == hash_key(k1) and d2 == hash_key(k2)


def test_config_accepts_only_digests_never_keys_in_clear():
    digest = hash_key("secret")
    assert ApiConfig(keys=[digest.upper().replace("SHA256:", "sha256:")]).keys == [digest]
    with pytest.raises(ValidationError, match="entry 1 is not a 'sha256:<64 hex digits>' digest"):
        ApiConfig(keys=["secret"])
    with pytest.raises(ValidationError):
        ApiConfig(keys=["sha256:abc"])  # too short


def test_api_limits_come_from_the_settings_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    d1, d2 = hash_key("one"), hash_key("two")
    monkeypatch.setenv("RECBOT_API__KEYS", f" {d1} , {d2.upper().replace('SHA256:', 'sha256:')},")
    monkeypatch.setenv("RECBOT_API__MAX_TEXT_CHARS", "99")
    cfg = Settings(data_dir=tmp_path).api
    assert isinstance(cfg, ApiConfig)
    assert cfg.keys == [d1, d2] and cfg.max_text_chars == 99 and cfg.burst == 20 and cfg.auth_enabled
    monkeypatch.setenv("RECBOT_API__KEYS", f'["{d2}"]')  # a JSON list works too
    assert Settings(data_dir=tmp_path).api.keys == [d2]
    monkeypatch.delenv("RECBOT_API__KEYS")
    assert not Settings(data_dir=tmp_path).api.auth_enabled
    monkeypatch.setenv("RECBOT_API__BURST", "many")
    with pytest.raises(ValidationError, match="api.burst"):
        Settings(data_dir=tmp_path)
    monkeypatch.delenv("RECBOT_API__BURST")
    monkeypatch.setenv("RECBOT_API__KEYS", "plain-text-key")
    with pytest.raises(ValidationError, match="not a 'sha256:<64 hex digits>' digest"):
        Settings(data_dir=tmp_path)


def test_the_old_one_underscore_spelling_still_works_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setenv("RECBOT_API_RATE_PER_MINUTE", "0")
    monkeypatch.setenv("RECBOT_API__BURST", "3")
    with caplog.at_level(logging.WARNING, logger="bot.settings"):
        cfg = Settings(data_dir=tmp_path).api
    assert cfg.rate_per_minute == 0 and cfg.burst == 3
    assert "RECBOT_API_RATE_PER_MINUTE is deprecated: set RECBOT_API__RATE_PER_MINUTE" in caplog.text
    monkeypatch.setenv("RECBOT_API__RATE_PER_MINUTE", "5")  # the documented spelling wins
    assert Settings(data_dir=tmp_path).api.rate_per_minute == 5


def test_keyring_accepts_bearer_and_x_api_key_and_rejects_others():
    ring = KeyRing([hash_key("k-1"), hash_key("k-2")])
    p1 = ring.check({"authorization": "Bearer k-1"}, "1.2.3.4")
    p2 = ring.check({"x-api-key": "k-2"}, "1.2.3.4")
    assert p1.key_id == key_id(hash_key("k-1")) and p2.key_id == key_id(hash_key("k-2"))
    assert p1.bucket != p2.bucket
    with pytest.raises(AuthError, match="required"):
        ring.check({}, "1.2.3.4")
    with pytest.raises(AuthError, match="not valid"):
        ring.check({"authorization": "Bearer k-3"}, "1.2.3.4")
    with pytest.raises(AuthError, match="required"):
        ring.check({"authorization": "Basic azE6eA=="}, "1.2.3.4")
    off = KeyRing([]).check({}, "5.6.7.8")
    assert off.key_id is None and off.bucket == "client:5.6.7.8"


class Clock:
    """A controllable monotonic clock, so the bucket arithmetic is tested exactly."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_token_bucket_allows_a_burst_then_the_rate():
    clock = Clock()
    limiter = RateLimiter(rate_per_minute=60, burst=3, clock=clock)  # one token a second
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a")
    assert wait == pytest.approx(1.0)
    assert limiter.acquire("b") == 0.0  # another caller has its own bucket
    clock.t += 0.5
    assert limiter.acquire("a") == pytest.approx(0.5)  # half a token back: not enough
    clock.t += 0.5
    assert limiter.acquire("a") == 0.0
    clock.t += 3600
    assert [limiter.acquire("a") for _ in range(4)][-1] > 0  # refills only up to the burst
    assert RateLimiter.retry_after(0.2) == "1" and RateLimiter.retry_after(2.01) == "3"


def test_rate_limiter_forgets_the_least_recent_callers_beyond_its_bound():
    limiter = RateLimiter(rate_per_minute=60, burst=1, max_buckets=2, clock=Clock())
    for name in ("a", "b", "c"):
        limiter.acquire(name)
    assert list(limiter._buckets) == ["b", "c"]
    assert limiter.acquire("a") == 0.0  # forgotten, so a full bucket again


def test_zero_rate_disables_the_limit():
    limiter = RateLimiter(rate_per_minute=0, burst=1)
    assert not limiter.enabled
    assert all(limiter.acquire("a") == 0.0 for _ in range(100))
