"""Load test of a recbot HTTP server: N concurrent conversations of M messages each, on loopback.

    python -m eval.load_test --url http://127.0.0.1:8765 --concurrency 1,4,16 --messages 2
    python -m eval.load_test --start --model smollm2-135m --concurrency 1,4,16 --messages 2
    python -m eval.load_test --compare --model smollm2-135m --concurrency 1,4,16 --slots 8 --replicas 2

``--compare`` runs both serving setups in one run (:mod:`eval.load_compare`: in-process llama.cpp in one
replica, then a llama.cpp server with parallel slots behind two replicas, on a shared Chroma server and
PostgreSQL) and prints one table. ``--start`` runs ``recbot serve`` itself (API only, on a free loopback
port, rate limit off) with the current settings (``RECBOT_*``, recbot.toml) and stops it at the end;
``--url`` targets a server that is already running (repeat it for replicas that share one session store). Only loopback addresses are accepted: this is a bench for one machine, not a tool
to load someone else's service.

For each N, N threads each create a session and send M messages one after the other (a person waits
for the reply before writing again); the N conversations run at the same time. Reported per N:

- ``turns_per_s``: replies received / wall time of the round,
- ``p50_s`` / ``p95_s``: per-message latency (request sent to full JSON reply),
- ``errors``: requests that failed (HTTP status other than 200/201, or a transport error),
- ``degr``: replies the server marked ``degraded`` (the LLM failed or timed out: a plain reply instead),
- ``lost``: messages the server acknowledged but does not hold: for each session, the user messages
  sent with a 200 reply minus those ``GET /v1/sessions/{id}`` returns (in order, same text), plus the
  replies missing.

In-process, the LLM serves one generation at a time (the llama.cpp backend holds a lock), so extra
concurrency should queue — latency grows with N, throughput stays flat — and never fail. Behind a
llama.cpp server with parallel slots, concurrent generations are batched and throughput rises with N. The run stops by itself:
after M messages per session, or when ``--max-duration`` seconds have passed (no new message is sent
after that; the ones in flight finish).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
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


class _Conversation:
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


def _urls(url: str | Sequence[str]) -> list[str]:
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
    urls = _urls(url)
    result = RoundResult(concurrency=concurrency, messages_per_session=messages)
    per = concurrency // len(urls) + 4
    limits = httpx.Limits(max_connections=per, max_keepalive_connections=per)
    clients = [httpx.Client(base_url=u, timeout=request_timeout_s, limits=limits, trust_env=False) for u in urls]
    try:
        deadline = time.monotonic() + max_duration_s
        convs = [_Conversation(clients[i % len(clients)], i, messages, deadline) for i in range(concurrency)]
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


# ----------------------------------------------------------------------------------------- a server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """``recbot serve`` (API only, rate limit off) in a subprocess on a free loopback port."""

    def __init__(self, catalogue: str | None = None, model: str | None = None,
                 log_path: Path | None = None, ready_timeout_s: float = 300.0) -> None:
        self.port = _free_port()
        self.catalogue = catalogue
        self.model = model
        self.log_path = log_path or Path(os.devnull)
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalServer:
        cmd = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--no-ui", "--log-level", "warning"]
        if self.catalogue:
            cmd += ["--catalogue", self.catalogue]
        if self.model:
            cmd += ["--model", self.model]
        env = {**os.environ, "RECBOT_API__RATE_PER_MINUTE": "0"}
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"recbot serve exited with {self.proc.returncode} (log: {self.log_path})")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2, trust_env=False).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"recbot serve not ready after {self.ready_timeout_s:.0f} s")
            time.sleep(0.25)

    def __exit__(self, *_: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)


# ----------------------------------------------------------------------------------------------- CLI


def run(url: str | Sequence[str], concurrencies: Sequence[int], messages: int,
        max_duration_s: float) -> list[RoundResult]:
    """One round per N; the whole run stays within ``max_duration_s``. ``url`` may list replicas."""
    _urls(url)
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


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", action="append",
                        help="a running recbot server on this machine (http://127.0.0.1:8765); repeat it for "
                             "replicas sharing one session store (conversations are spread over them)")
    target.add_argument("--start", action="store_true", help="run `recbot serve` for the run, then stop it")
    target.add_argument("--compare", action="store_true",
                        help="in-process vs a llama.cpp server with parallel slots over replicas, in one run "
                             "(starts Chroma, PostgreSQL, the LLM server and the replicas itself)")
    p.add_argument("--concurrency", default="1,4,16", help="comma-separated N values (default 1,4,16)")
    p.add_argument("--messages", "-m", type=int, default=2, help="messages per session (default 2)")
    p.add_argument("--max-duration", type=float, default=600.0, help="seconds for the whole run (600)")
    p.add_argument("--catalogue", help="with --start: the catalogue to serve (default: settings)")
    p.add_argument("--model", help="with --start: the LLM, e.g. smollm2-135m")
    p.add_argument("--server-log", type=Path, help="with --start: where the server's output goes")
    p.add_argument("--json", type=Path, help="also write the figures here as JSON")
    cmp_ = p.add_argument_group("--compare")
    cmp_.add_argument("--slots", type=int, default=8, help="parallel slots of the llama.cpp server (8)")
    cmp_.add_argument("--replicas", type=int, default=2, help="recbot serve replicas behind it (2)")
    cmp_.add_argument("--threads", type=int, default=1,
                      help="CPU threads of the llama.cpp server (1, as the in-process default on 2 cores)")
    cmp_.add_argument("--limit", type=int, default=300, help="items of the catalogue to ingest (300; 0 = all)")
    cmp_.add_argument("--max-tokens", type=int, default=None, help="reply length cap (default: settings)")
    cmp_.add_argument("--dsn", help="PostgreSQL for the sessions (default: a throw-away local cluster)")
    cmp_.add_argument("--work-dir", type=Path, help="where data dirs and server logs go (default: a temp dir)")
    cmp_.add_argument("--require-speedup", type=float, default=None,
                      help="exit 1 unless the server setup at the largest N reaches this multiple of the "
                           "best in-process throughput (e.g. 2)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per request
    concurrencies = [int(x) for x in args.concurrency.split(",") if x.strip()]
    if not concurrencies or min(concurrencies) < 1 or args.messages < 1:
        p.error("--concurrency needs positive integers and --messages at least 1")

    if args.compare:
        return _compare(args, concurrencies)
    if args.start:
        with LocalServer(args.catalogue, args.model, args.server_log) as server:
            results = run(server.url, concurrencies, args.messages, args.max_duration)
    else:
        try:
            _urls(args.url)
        except ValueError as exc:
            p.error(str(exc))
        results = run(args.url, concurrencies, args.messages, args.max_duration)

    print(format_table(results))
    for r in results:
        for sample in r.error_samples:
            print(f"N={r.concurrency} error: {sample}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0 if all(r.errors == 0 and r.lost == 0 for r in results) else 1


def _compare(args: argparse.Namespace, concurrencies: list[int]) -> int:
    from bot.settings import get_settings
    from eval.load_compare import compare

    settings = get_settings()
    result = compare(model=args.model or settings.llm.model, catalogue=args.catalogue or settings.catalogue,
                     concurrencies=concurrencies, messages=args.messages, cache_dir=settings.cache_dir,
                     limit=args.limit or None, slots=args.slots, replicas=args.replicas, threads=args.threads,
                     max_tokens=args.max_tokens or settings.llm.max_tokens, max_duration_s=args.max_duration,
                     dsn=args.dsn, work_dir=args.work_dir)
    print(result.table())
    for r in [*result.in_process, *result.server]:
        for sample in r.error_samples:
            print(f"N={r.concurrency} error: {sample}")
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=2))
    ok = result.clean and (args.require_speedup is None or result.speedup >= args.require_speedup)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
