"""Helpers shared by the API and integration tests: a small real index, settings, a real server process.

The index (the first 300 bundled movies, embedded with the packaged MiniLM) is built once per test
session by ``recbot ingest`` in a subprocess, into a "pristine" data dir that no process keeps open.
Each user gets a copy of its index (a few MB) with the ONNX export cache linked, so the test process
and the server subprocesses never open one embedded Chroma directory at the same time.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[4]
CATALOGUE = "movies"
LIMIT = 300
TINY = "smollm2-135m"
MAX_TOKENS = 48  # short replies keep the tiny model's turns to a few seconds on two cores
SERVER_READY_TIMEOUT_S = 240


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECBOT_")}
    env.update(
        {
            "RECBOT_DATA_DIR": str(data_dir),
            "RECBOT_EMBEDDING__BACKEND": "onnx",
            "RECBOT_LLM__MODEL": TINY,
            "RECBOT_LLM__MAX_TOKENS": str(MAX_TOKENS),
            "RECBOT_CONFIG": str(data_dir / "no-recbot.toml"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
            "PYTHONPATH": str(REPO),
        }
    )
    env.update(extra)
    return env


def build_pristine(root: Path) -> Path:
    """``root/pristine``: a data dir with the movie index, made once by a ``recbot ingest`` subprocess."""
    data = root / "pristine"
    if (data / "index" / CATALOGUE / "manifest.json").is_file():
        return data
    data.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "bot.faces.cli", "ingest", CATALOGUE, "--limit", str(LIMIT), "--quiet"],
        cwd=REPO,
        env=env_for(data),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"recbot ingest failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return data


def data_dir_copy(pristine: Path, dest: Path) -> Path:
    """A data dir with its own copy of the index and the shared (read-only) embedder cache."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(pristine / "index", dest / "index")
    (dest / "cache").symlink_to(pristine / "cache", target_is_directory=True)
    return dest


def settings_for(data_dir: Path):  # noqa: ANN201
    from bot.settings import Settings

    return Settings(
        data_dir=data_dir,
        catalogue=CATALOGUE,
        llm={"model": TINY, "max_tokens": MAX_TOKENS},
        embedding={"backend": "onnx"},
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``recbot serve`` in a subprocess on a loopback port, logging to a file."""

    def __init__(self, data_dir: Path, port: int, log_path: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        cmd = [
            sys.executable,
            "-m",
            "bot.faces.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--catalogue",
            CATALOGUE,
            "--log-level",
            "warning",
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=REPO, env=env_for(self.data_dir, **self.env), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"recbot serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"recbot serve not ready after {SERVER_READY_TIMEOUT_S} s:\n{self.log()}")
            time.sleep(0.25)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run (what a crash or an OOM kill does)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def parse_sse(lines) -> list[tuple[str | None, str]]:  # noqa: ANN001
    """Server-sent events from text lines: ``(event name or None, data)`` per event; comments skipped."""
    events: list[tuple[str | None, str]] = []
    name: str | None = None
    data: list[str] = []
    for line in lines:
        line = line.rstrip("\r")
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        events.append((name, "\n".join(data)))
    return events
