"""Retrieval fixtures: a real `chroma run` server, and the film retriever on each store mode."""

from __future__ import annotations

from pathlib import Path

import pytest


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """A real `chroma run` server on a free loopback port, for the client–server mode."""
    import shutil
    import subprocess
    import sys
    import time

    import httpx

    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = open(path / "server.log", "w")
    proc = subprocess.Popen([exe, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"chroma run did not start: {(path / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    yield {"host": "127.0.0.1", "port": port, "process": proc}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


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
