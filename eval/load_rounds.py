"""The load of the load test (:mod:`eval.load_test`): N concurrent conversations of M messages each
against recbot servers on loopback, and the figures of each round.

Each conversation creates a session and sends its messages one after the other (a person waits for the
reply before writing again); odd messages ask for recommendations, even ones are small talk the LLM
answers, so every conversation exercises both paths. Afterwards each session is read back (through
another replica when there are several) to count acknowledged messages the server does not hold.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlparse

import httpx

log = logging.getLogger(__name__)

# Odd messages ask for recommendations (replies assembled from retrieval's reasons, no LLM); even ones
# are small talk, which the LLM reads and answers: every conversation exercises both paths.
MESSAGES = (
    "I want a funny comedy from the 90s",
    "something scary for tonight",
    "a good crime film please",
    "science fiction with robots",
    "an animated film for kids",
    "a romantic drama",
)
FOLLOW_UPS = (
    "hello! how are you today?",
    "hi! how is your day going?",
    "hey there, how are you doing?",
)


@dataclass
class RoundResult:
    """The figures of one round (one N)."""

    concurrency: int
    messages_per_session: int
    turns: int = 0  # replies received
    wall_s: float = 0.0
    turns_per_s: float = 0.0
    p50_s: float = 0.0
    p95_s: float = 0.0
    max_s: float = 0.0
    errors: int = 0
    lost: int = 0
    degraded: int = 0
    stopped_early: bool = False
    error_samples: list[str] = field(default_factory=list)


def check_loopback(url: str) -> None:
    """Raise ValueError unless ``url`` points at this machine."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"{url!r} is not a loopback address: the load test only targets this machine")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class LoadConversation:
    """One session driven by one thread; records latencies, errors and what was acknowledged."""

    def __init__(self, client: httpx.Client, index: int, messages: int, deadline: float) -> None:
        self.client = client
        self.index = index
        self.messages = messages
        self.deadline = deadline
        self.session_id: str | None = None
        self.latencies: list[float] = []
        self.acknowledged: list[str] = []  # texts the server answered with 200
        self.errors: list[str] = []
        self.degraded: list[str] = []  # replies given without the LLM because it failed
        self.stopped_early = False

    def run(self) -> None:
        try:
            r = self.client.post("/v1/sessions", json={"meta": {"load_test": self.index}})
        except httpx.HTTPError as exc:
            self.errors.append(f"create: {type(exc).__name__}: {exc}")
            return
        if r.status_code != 201:
            self.errors.append(f"create: HTTP {r.status_code} {r.text[:200]}")
            return
        self.session_id = r.json()["session_id"]
        for n in range(self.messages):
            if time.monotonic() >= self.deadline:
                self.stopped_early = True
                return
            if n % 2 == 0:
                wish = MESSAGES[(self.index + n // 2) % len(MESSAGES)]
                text = f"{wish} (conversation {self.index}, message {n + 1})"
            else:
                text = FOLLOW_UPS[(self.index + n // 2) % len(FOLLOW_UPS)]
                if n > 1:
                    text = f"{text} (message {n + 1})"
            t0 = time.perf_counter()
            try:
                r = self.client.post(f"/v1/sessions/{self.session_id}/messages", json={"text": text})
            except httpx.HTTPError as exc:
                self.errors.append(f"message: {type(exc).__name__}: {exc}")
                continue
            if r.status_code == 200 and r.json().get("text"):
                self.latencies.append(time.perf_counter() - t0)
                self.acknowledged.append(text)
                if r.json().get("degraded"):
                    self.degraded.append(r.json()["degraded"])
            else:
                self.errors.append(f"message: HTTP {r.status_code} {r.text[:200]}")

    def lost(self) -> tuple[int, str | None]:
        """Acknowledged messages (and their replies) that the server does not return; an error if the
        session cannot be read."""
        if self.session_id is None:
            return 0, None
        try:
            r = self.client.get(f"/v1/sessions/{self.session_id}")
        except httpx.HTTPError as exc:
            return len(self.acknowledged), f"read: {type(exc).__name__}: {exc}"
        if r.status_code != 200:
            return len(self.acknowledged), f"read: HTTP {r.status_code} {r.text[:200]}"
        stored = r.json()["messages"]
        users = [m["text"] for m in stored if m["role"] == "user"]
        replies = [m for m in stored if m["role"] == "assistant" and m["text"]]
        missing_users = sum(1 for text in self.acknowledged if text not in users)
        if users[: len(self.acknowledged)] != self.acknowledged and missing_users == 0:
            missing_users = 1  # all there but out of order: count it, it should never happen
        return missing_users + max(0, len(self.acknowledged) - len(replies)), None


def loopback_urls(url: str | Sequence[str]) -> list[str]:
    """``url`` (one URL or several) as a list; ValueError if none is given or one is not on this machine."""
    urls = [url] if isinstance(url, str) else list(url)
    if not urls:
        raise ValueError("no server URL given")
    for u in urls:
        check_loopback(u)
    return urls


def run_round(url: str | Sequence[str], concurrency: int, messages: int, max_duration_s: float,
              request_timeout_s: float = 600.0) -> RoundResult:
    """N = ``concurrency`` conversations of ``messages`` messages each, at the same time. With several
    URLs (replicas sharing one session store) conversation i goes to replica i mod R, as a load
    balancer would spread them; what was acknowledged is read back from the next replica, so a
    message one replica stored and another cannot see counts as lost."""
    urls = loopback_urls(url)
    result = RoundResult(concurrency=concurrency, messages_per_session=messages)
    per = concurrency // len(urls) + 4
    limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
    clients = [httpx.Client(base_url=u, timeout=request_timeout_s, limits=limits, trust_env=False) for u in urls]
    try:
        deadline = time.monotonic() + max_duration_s
        convs = [LoadConversation(clients[i % len(clients)], i, messages, deadline) for i in range(concurrency)]
        threads = [threading.Thread(target=c.run, name=f"load-{i}", daemon=True) for i, c in enumerate(convs)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result.wall_s = time.perf_counter() - t0
        errors = [e for c in convs for e in c.errors]
        for i, c in enumerate(convs):
            c.client = clients[(i + 1) % len(clients)]  # read back through another replica
            lost, error = c.lost()
            result.lost += lost
            if error:
                errors.append(error)
    finally:
        for client in clients:
            client.close()
    latencies = [x for c in convs for x in c.latencies]
    result.turns = len(latencies)
    result.turns_per_s = result.turns / result.wall_s if result.wall_s else 0.0
    result.p50_s = percentile(latencies, 50)
    result.p95_s = percentile(latencies, 95)
    result.max_s = max(latencies, default=0.0)
    result.errors = len(errors)
    result.degraded = sum(len(c.degraded) for c in convs)
    result.error_samples = errors[:5]
    result.stopped_early = any(c.stopped_early for c in convs)
    return result


def run(url: str | Sequence[str], concurrencies: Sequence[int], messages: int,
        max_duration_s: float) -> list[RoundResult]:
    """One round per N; the whole run stays within ``max_duration_s``. ``url`` may list replicas."""
    loopback_urls(url)
    end = time.monotonic() + max_duration_s
    results = []
    for n in concurrencies:
        left = end - time.monotonic()
        if left <= 0:
            log.warning("max duration reached; rounds from N=%d on not run", n)
            break
        results.append(run_round(url, n, messages, left))
    return results


def format_table(results: Sequence[RoundResult], setup: str | None = None) -> str:
    """The rounds as a text table; with ``setup``, a first column naming the topology."""
    lead = f"{'setup':<28} " if setup is not None else ""
    head = (f"{lead}{'N':>4} {'M':>3} {'turns':>6} {'wall s':>8} {'turns/s':>8} {'p50 s':>7} {'p95 s':>7} "
            f"{'errors':>7} {'lost':>5} {'degr':>5}")
    rows = [head]
    for r in results:
        first = f"{setup:<28} " if setup is not None else ""
        rows.append(f"{first}{r.concurrency:>4} {r.messages_per_session:>3} {r.turns:>6} {r.wall_s:>8.1f} "
                    f"{r.turns_per_s:>8.2f} {r.p50_s:>7.2f} {r.p95_s:>7.2f} {r.errors:>7} {r.lost:>5} {r.degraded:>5}"
                    + ("  (stopped early)" if r.stopped_early else ""))
    return "\n".join(rows)
