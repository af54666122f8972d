"""The scaled-out topology on loopback, once per module: PostgreSQL (sessions), one ``chroma run``
server (vectors, item bodies, the published manifest), one llama.cpp server with parallel slots
(``python -m bot.llm.llama_server``), and two ``recbot serve`` replicas using the ``openai`` backend.

The replicas share nothing on disk: each has its own empty data dir (its index cache is rebuilt from
the Chroma server at start) and a private copy of the ONNX embedder export (what every host would
build for itself; copied, not rebuilt, to save two minutes).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from eval.topology import PostgresServer, Process, chroma_server, ingest, llm_server, replica
from tests.bot.faces.api.support import CATALOGUE, LIMIT, MAX_TOKENS, TINY, build_pristine

SLOTS = 4


@dataclass
class Topology:
    root: Path
    dsn: str
    chroma: Process
    llm: Process
    env: dict[str, str]
    cache: Path
    replicas: dict[str, Process] = field(default_factory=dict)

    def data_dir(self, name: str) -> Path:
        return self.root / f"replica-{name}"

    def start_replica(self, name: str) -> Process:
        data = self.data_dir(name)
        if not (data / "cache").exists():
            data.mkdir(parents=True, exist_ok=True)
            shutil.copytree(self.cache / "onnx", data / "cache" / "onnx")
        proc = replica(data, self.root / f"replica-{name}.log", self.env, CATALOGUE).start()
        self.replicas[name] = proc
        return proc

    def stop(self) -> None:
        for proc in [*self.replicas.values(), self.llm, self.chroma]:
            proc.stop()


@pytest.fixture(scope="module")
def topology(postgres_server: PostgresServer, session_data_dir: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    pristine = build_pristine(session_data_dir / "recbot-api")  # the ONNX export, built once per session
    root = tmp_path_factory.mktemp("topology")
    dsn = postgres_server.new_database("topology")
    chroma = chroma_server(root / "chroma").start()
    llm = None
    try:
        llm = llm_server(TINY, pristine / "cache", root / "llm.log", parallel=SLOTS).start()
        env = {
            "RECBOT_STORE__MODE": "http", "RECBOT_STORE__HOST": "127.0.0.1", "RECBOT_STORE__PORT": str(chroma.port),
            "RECBOT_SESSIONS__BACKEND": "postgres", "RECBOT_SESSIONS__DSN": dsn,
            "RECBOT_LLM__BACKEND": "openai", "RECBOT_LLM__BASE_URL": f"{llm.url}/v1", "RECBOT_LLM__MODEL": TINY,
            "RECBOT_LLM__MAX_TOKENS": str(MAX_TOKENS), "RECBOT_EMBEDDING__BACKEND": "onnx",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
        }
        loader = root / "ingest"  # a one-off job: publishes the catalogue on the Chroma server
        loader.mkdir()
        shutil.copytree(pristine / "cache" / "onnx", loader / "cache" / "onnx")
        ingest(CATALOGUE, loader, env, limit=LIMIT)
        topo = Topology(root, dsn, chroma, llm, env, pristine / "cache")
    except BaseException:
        for proc in (llm, chroma):
            if proc is not None:
                proc.stop()
        raise
    try:
        yield topo
    finally:
        topo.stop()
