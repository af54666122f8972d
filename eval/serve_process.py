"""Child processes on free loopback ports, above all ``recbot serve``, for the suites and benchmarks that
talk HTTP to the product (``recbot eval dialogue``, ``eval.load_test --start``, the scaled-out topology).

:func:`recbot_serve` runs ``recbot serve --no-ui`` with the rate limit off and returns a
:class:`Process`; use it as a context manager (started on enter, ready when ``/readyz`` answers 200,
stopped on exit). :func:`settings_env` gives a child exactly the settings of a
:class:`~bot.settings.Settings` object, so what the child serves is what this process would build.
Eval code reaches the product only this way, over HTTP: it imports no face of it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A subprocess on a loopback port, ready when ``ready_url`` answers 200. As a context manager it is
    started on enter and stopped on exit."""

    def __init__(self, name: str, cmd: Sequence[str], port: int, ready_url: str, log_path: Path,
                 env: Mapping[str, str] | None = None, ready_timeout_s: float = 300.0) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.port = port
        self.ready_url = ready_url
        self.log_path = Path(log_path)
        self.env = dict(env) if env is not None else None
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Process:
        """Start it and wait until it is ready; raise RuntimeError (with the end of its log) if it exits
        or is not ready in time."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.cmd, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} (log: {self.log_path}):\n"
                                   f"{self.log()}")
            try:
                if httpx.get(self.ready_url, timeout=2, trust_env=False).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.name} not ready after {self.ready_timeout_s:.0f} s "
                                   f"(log: {self.log_path}):\n{self.log()}")
            time.sleep(0.25)

    def log(self) -> str:
        """The end of its output (what a failure message shows)."""
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.is_file() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs (what a crash or an OOM kill does)."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited 20 s later."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def settings_env(settings: Any, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default this process's environment) with every ``RECBOT_*`` variable replaced by the
    fields of ``settings`` (a :class:`~bot.settings.Settings`; sections as JSON) and no ``recbot.toml``
    read: a child process started with it builds exactly these settings."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("RECBOT_")}
    for name, value in settings.model_dump(mode="json").items():
        env[f"RECBOT_{name.upper()}"] = json.dumps(value) if isinstance(value, dict | list) else str(value)
    env["RECBOT_CONFIG"] = os.devnull
    return env


def recbot_command() -> list[str]:
    """The ``recbot`` command of this environment: the console script beside this Python, else the one on
    PATH (``pip install -e .`` installs it)."""
    beside = Path(sys.executable).with_name("recbot")
    found = str(beside) if beside.is_file() else shutil.which("recbot")
    if found is None:
        raise RuntimeError(f"no `recbot` command beside {sys.executable} or on PATH: run `pip install -e .` in {REPO}")
    return [found]


def recbot_serve(log_path: Path | str = os.devnull, *, catalogues: Sequence[str] = (), model: str | None = None,
                 env: Mapping[str, str] | None = None, port: int | None = None,
                 ready_timeout_s: float = 300.0) -> Process:
    """``recbot serve --no-ui`` on 127.0.0.1 (``port`` or a free one) with the rate limit off, serving
    ``catalogues`` (default: the settings' catalogue) with ``model`` (default: the settings' LLM).
    ``env``: the child's environment (default this process's; see :func:`settings_env`). Not started:
    call :meth:`Process.start` or use it in a ``with``."""
    port = port or free_port()
    cmd = [*recbot_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-ui",
           "--log-level", "warning"]
    for name in catalogues:
        cmd += ["--catalogue", name]
    if model:
        cmd += ["--model", model]
    full = dict(os.environ if env is None else env)
    full["RECBOT_API__RATE_PER_MINUTE"] = "0"
    full["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), full.get("PYTHONPATH", "")) if p)
    return Process(f"recbot serve :{port}", cmd, port, f"http://127.0.0.1:{port}/readyz", Path(log_path), full,
                   ready_timeout_s=ready_timeout_s)
