"""One run that compares in-process LLM serving with batched serving over replicas (``load_test --compare``).

Both setups serve the same catalogue from the same shared services, started here on loopback: a
``chroma run`` server (the catalogue is ingested into it once) and PostgreSQL for sessions (a
throw-away cluster from Debian's binaries, or ``--dsn``). Only the LLM serving differs:

- **in-process**: one ``recbot serve`` replica with the ``llamacpp`` backend (its own llama.cpp,
  one generation at a time);
- **server**: R replicas (default 2) with the ``openai`` backend pointed at one llama.cpp server
  (``python -m bot.llm.llama_server``) with S parallel slots (default 8), which batches the
  generations of concurrent requests.

The load is the same (N conversations of M messages, for each N), spread over the replicas the way a
load balancer would; messages are read back through another replica, so one that was stored where the
other replica cannot see it counts as lost. The summary compares the server setup at the largest N
with the in-process setup under the same load (same N) and with the best in-process figure of the run
(whatever its N); ``--require-speedup`` checks the stricter of the two, the best.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eval.load_rounds import RoundResult, format_table, run
from eval.topology import (
    PostgresServer,
    Process,
    chroma_server,
    find_postgres_bin,
    ingest,
    llm_server,
    replica,
)

log = logging.getLogger(__name__)


@dataclass
class Comparison:
    model: str
    slots: int
    replicas: int
    in_process: list[RoundResult] = field(default_factory=list)
    server: list[RoundResult] = field(default_factory=list)

    @property
    def in_process_label(self) -> str:
        return "in-process llamacpp x1"

    @property
    def server_label(self) -> str:
        return f"llama server {self.slots} slots x{self.replicas}"

    @property
    def baseline(self) -> float:
        """The best in-process throughput of the run (turns/s)."""
        return max((r.turns_per_s for r in self.in_process), default=0.0)

    @property
    def scaled(self) -> RoundResult | None:
        """The server setup's round at the largest N."""
        return max(self.server, key=lambda r: r.concurrency, default=None)

    @property
    def speedup(self) -> float:
        scaled = self.scaled
        return scaled.turns_per_s / self.baseline if scaled and self.baseline else 0.0

    @property
    def same_load_speedup(self) -> float:
        """The server setup at the largest N over the in-process setup at that same N."""
        scaled = self.scaled
        same = next((r for r in self.in_process if scaled and r.concurrency == scaled.concurrency), None)
        return scaled.turns_per_s / same.turns_per_s if scaled and same and same.turns_per_s else 0.0

    @property
    def clean(self) -> bool:
        return all(r.errors == 0 and r.lost == 0 and r.degraded == 0 and not r.stopped_early
                   for r in [*self.in_process, *self.server])

    def table(self) -> str:
        first = format_table(self.in_process, self.in_process_label)
        second = format_table(self.server, self.server_label).split("\n", 1)[1:]
        lines = [first, *second]
        if self.scaled:
            lines.append(
                f"\nserver setup at N={self.scaled.concurrency}: {self.scaled.turns_per_s:.2f} turns/s = "
                f"{self.same_load_speedup:.2f}x the in-process setup at the same N, "
                f"{self.speedup:.2f}x the best in-process figure ({self.baseline:.2f} turns/s); "
                f"errors {sum(r.errors for r in [*self.in_process, *self.server])}, "
                f"lost {sum(r.lost for r in [*self.in_process, *self.server])}, "
                f"degraded {sum(r.degraded for r in [*self.in_process, *self.server])}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"model": self.model, "slots": self.slots, "replicas": self.replicas,
                "in_process": [asdict(r) for r in self.in_process], "server": [asdict(r) for r in self.server],
                "baseline_turns_per_s": self.baseline, "speedup": self.speedup,
                "same_load_speedup": self.same_load_speedup}


def _copy_cache(source: Path, data_dir: Path) -> None:
    """A replica's private copy of the ONNX embedder export; the (large) GGUF models are linked."""
    cache = data_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    if (source / "onnx").is_dir() and not (cache / "onnx").exists():
        shutil.copytree(source / "onnx", cache / "onnx")
    (source / "models").mkdir(parents=True, exist_ok=True)
    if not (cache / "models").exists():
        (cache / "models").symlink_to(source / "models", target_is_directory=True)


def compare(*, model: str, catalogue: str, concurrencies: Sequence[int], messages: int, cache_dir: Path,
            limit: int | None = 300, slots: int = 8, replicas: int = 2, threads: int = 1,
            max_tokens: int = 64, max_duration_s: float = 1800.0, dsn: str | None = None,
            work_dir: Path | None = None) -> Comparison:
    """Start the shared services, run the load on each setup in turn, stop everything."""
    root = Path(work_dir or tempfile.mkdtemp(prefix="recbot-load-"))
    root.mkdir(parents=True, exist_ok=True)
    log.info("work dir %s (server logs are kept there)", root)
    started: list[Process] = []
    pg: PostgresServer | None = None
    result = Comparison(model=model, slots=slots, replicas=replicas)
    try:
        if dsn is None:
            bin_dir = find_postgres_bin()
            if bin_dir is None:
                raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql: install Debian's "
                                   "`postgresql` (tests/install_postgres.sh does) or pass --dsn")
            pg = PostgresServer(bin_dir).start()
            dsn = pg.new_database("load")
        chroma = chroma_server(root / "chroma").start()
        started.append(chroma)
        common = {
            "RECBOT_STORE__MODE": "http", "RECBOT_STORE__HOST": "127.0.0.1", "RECBOT_STORE__PORT": str(chroma.port),
            "RECBOT_SESSIONS__BACKEND": "postgres", "RECBOT_SESSIONS__DSN": dsn,
            "RECBOT_LLM__MODEL": model, "RECBOT_LLM__MAX_TOKENS": str(max_tokens),
            "RECBOT_EMBEDDING__BACKEND": "onnx",
            # queueing for the LLM is what is measured: a long wait is a slow reply, not a failure
            "RECBOT_LLM__TIMEOUT_S": "600",
        }
        loader = root / "loader"
        _copy_cache(cache_dir, loader)
        log.info("ingesting %s%s into the Chroma server", catalogue, f" (first {limit})" if limit else "")
        ingest(catalogue, loader, common, limit=limit)

        log.info("in-process: 1 replica, llamacpp backend")
        _copy_cache(loader / "cache", root / "inproc")
        single = replica(root / "inproc", root / "inproc.log", {**common, "RECBOT_LLM__BACKEND": "llamacpp", "RECBOT_LLM__PARALLEL": "1"},
                         catalogue).start()
        started.append(single)
        result.in_process = run(single.url, concurrencies, messages, max_duration_s)
        single.stop()

        log.info("server: %d replicas, openai backend, llama.cpp server with %d slots", replicas, slots)
        llm = llm_server(model, cache_dir, root / "llm.log", parallel=slots, threads=threads).start()
        started.append(llm)
        env = {**common, "RECBOT_LLM__BACKEND": "openai", "RECBOT_LLM__BASE_URL": f"{llm.url}/v1"}
        urls = []
        for i in range(replicas):
            _copy_cache(loader / "cache", root / f"replica-{i}")
            proc = replica(root / f"replica-{i}", root / f"replica-{i}.log", env, catalogue).start()
            started.append(proc)
            urls.append(proc.url)
        result.server = run(urls, concurrencies, messages, max_duration_s)
        return result
    finally:
        for proc in reversed(started):
            proc.stop()
        if pg is not None:
            pg.stop()
