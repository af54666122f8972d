"""Retrieval fixtures: a real `chroma run` server, and the film retriever on each store mode."""

from __future__ import annotations

from pathlib import Path

import pytest


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """A real ``chroma run`` server on a loopback port, persisting to ``path`` (also used by
    tests/robustness, which kill one and start it again on the same path and port)."""

    START_TIMEOUT_S = 60

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.host = "127.0.0.1"
        self.port = port or _free_port()
        self.proc = None

    def start(self) -> ChromaServer:
        import shutil
        import subprocess
        import sys
        import time

        import httpx

        exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
        self.path.mkdir(parents=True, exist_ok=True)
        log_path = self.path / "server.log"
        with open(log_path, "a") as log:
            self.proc = subprocess.Popen(
                [exe, "run", "--path", str(self.path / "db"), "--host", self.host, "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + self.START_TIMEOUT_S
        while True:
            try:
                heartbeat = httpx.get(f"http://{self.host}:{self.port}/api/v2/heartbeat", timeout=1)
                if heartbeat.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"chroma run did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would end it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        import subprocess

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """A real `chroma run` server on a free loopback port, for the client–server mode."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server")).start()
    yield {"host": server.host, "port": server.port, "process": server.proc}
    server.stop()


@pytest.fixture(scope="session", params=["embedded", "http"])
def any_retriever(request, tmp_path_factory, films, embedder):
    """The same retriever built on each store mode: every test using it runs against both."""
    from retrieval.index import CatalogueIndex, store_config_for
    from retrieval.retriever import Retriever
    from retrieval.store import ChromaStore

    root: Path = tmp_path_factory.mktemp(f"index-{request.param}")
    if request.param == "embedded":
        cfg = store_config_for(root)
    else:
        srv = request.getfixturevalue("chroma_server")
        cfg = store_config_for(root, "http", srv["host"], srv["port"])
    index = CatalogueIndex("films", root, ChromaStore(cfg))
    index.ingest(films, embedder, progress=False)
    return Retriever(index.open(), embedder)
