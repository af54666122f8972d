"""Start, watch and restart a local llama.cpp server process (:mod:`bot.llm.llama_server`).

Inference runs in a child process so that a native crash (SIGSEGV, SIGILL) or a hang in llama.cpp
never takes the app, the API or their sessions down. :class:`ServerProcess` starts the child, waits
for its ``READY <url>`` line, and watches it from a daemon thread: when the child dies it is started
again (after a short back-off that grows while starts keep failing), and :meth:`ServerProcess.health`
says ``restarting`` meanwhile, which ``/readyz`` reports. A caller that finds the child hung (a
request timed out) calls :meth:`ServerProcess.restart`, which kills it and starts a fresh one.

The child's llama.cpp log goes to ``<log_dir>/llama-server-<model>.log`` (appended; the last lines
are quoted in the error when a start fails).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.llm.base import LLMError
from bot.llm.llama_server import READY_PREFIX

log = logging.getLogger(__name__)

State = Literal["starting", "ready", "restarting", "failed", "stopped"]
START_TIMEOUT_S = 180.0
_BACKOFF_S = (0.5, 2.0, 5.0, 15.0)
_LOG_TAIL_CHARS = 2000


@dataclass(frozen=True)
class ServerConfig:
    """What the child serves and how: one model file, threads, context and batching slots."""

    model_path: Path
    threads: int = 1
    n_ctx: int = 4096
    parallel: int = 1
    extra_bufts: bool = True

    def argv(self) -> list[str]:
        args = [
            sys.executable, "-m", "bot.llm.llama_server", "--model", str(self.model_path),
            "--threads", str(self.threads), "--ctx", str(self.n_ctx), "--parallel", str(self.parallel),
            "--alias", self.model_path.stem, "--watch-parent", str(os.getpid()),
        ]
        return args if self.extra_bufts else [*args, "--no-extra-bufts"]


@dataclass
class Health:
    """What ``/readyz`` and the settings panel say about the local model server."""

    state: State
    restarts: int = 0
    pid: int | None = None
    url: str | None = None
    last_exit: str | None = None  # how the previous child ended ("killed by SIGSEGV", "exit 1")
    since: float = field(default_factory=time.time)

    def to_dict(self) -> dict:
        return {"state": self.state, "restarts": self.restarts, "pid": self.pid, "last_exit": self.last_exit}


def describe_exit(code: int | None) -> str:
    if code is None:
        return "running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"


class ServerProcess:
    """One supervised ``llama_server`` child. Thread-safe; :meth:`url` blocks until it is ready."""

    def __init__(self, config: ServerConfig, log_dir: Path | None = None,
                 start_timeout_s: float = START_TIMEOUT_S) -> None:
        self.config = config
        self.start_timeout_s = start_timeout_s
        folder = Path(log_dir) if log_dir else Path(os.environ.get("TMPDIR", "/tmp"))
        folder.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / f"llama-server-{config.model_path.stem}.log"
        self._lock = threading.RLock()
        self._ready = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._health = Health(state="starting")
        self._failures = 0
        self._closed = False
        self._start()  # the first start is synchronous: a bad model file fails the constructor
        threading.Thread(target=self._watch, name=f"llama-server-watch-{config.model_path.stem}",
                         daemon=True).start()

    # -- public ---------------------------------------------------------------------------------

    def health(self) -> Health:
        return self._health

    def url(self, wait_s: float | None = None) -> str:
        """The server's ``http://host:port``. While it restarts after a crash this raises at once (the
        turn gets its degraded reply instead of waiting); otherwise it waits up to ``wait_s``."""
        if self._health.state in ("restarting", "failed"):
            wait_s = 0.0
        if not self._ready.wait(self.start_timeout_s if wait_s is None else wait_s):
            h = self._health
            raise LLMError(f"the local model server is {h.state}" + (f" ({h.last_exit})" if h.last_exit else ""))
        url = self._health.url
        assert url is not None
        return url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def alive(self, pid: int | None, grace_s: float = 0.0) -> bool:
        """True while the child ``pid`` is the current one and still running. ``grace_s``: how long to
        wait for a child that just closed its connections to be seen exiting."""
        proc = self._proc
        if proc is None or proc.pid != pid:
            return False
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            return True
        return False

    def restart(self, reason: str) -> None:
        """Kill the child (hung, say) and let the watcher start a new one."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None or self._closed:
                return
            log.warning("restarting the local model server (pid %d): %s", proc.pid, reason)
            self._ready.clear()
            self._health = Health(state="restarting", restarts=self._health.restarts, pid=proc.pid,
                                  last_exit=reason)
            proc.kill()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._ready.clear()
            self._health = Health(state="stopped", restarts=self._health.restarts)
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    # -- internals ------------------------------------------------------------------------------

    def _start(self) -> None:
        """Start a child and wait for its READY line; raises :class:`LLMError` on failure."""
        with self.log_path.open("ab") as err:
            err.write(f"\n--- starting {' '.join(self.config.argv())}\n".encode())
            err.flush()
            proc = subprocess.Popen(
                self.config.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                text=True, start_new_session=True,
            )
        with self._lock:
            self._proc = proc
        url = self._read_ready_line(proc)
        with self._lock:
            self._health = Health(state="ready", restarts=self._health.restarts, pid=proc.pid, url=url,
                                  last_exit=self._health.last_exit)
            self._failures = 0
            self._ready.set()
        log.info("local model server %s ready at %s (pid %d)", self.config.model_path.name, url, proc.pid)

    def _read_ready_line(self, proc: subprocess.Popen) -> str:
        found: list[str] = []

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(READY_PREFIX):
                    found.append(line[len(READY_PREFIX):].strip())
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.start_timeout_s)
        if found:
            return found[0]
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
            why = f"not ready after {self.start_timeout_s:.0f} s"
        else:
            why = describe_exit(proc.returncode)
        raise LLMError(
            f"the local model server for {self.config.model_path} did not start ({why}); "
            f"its log {self.log_path} ends with:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return text[-_LOG_TAIL_CHARS:]

    def _watch(self) -> None:
        while True:
            proc = self._proc
            if proc is None:
                return
            code = proc.wait()
            with self._lock:
                if self._closed:
                    return
                how = describe_exit(code)
                if self._health.state != "restarting" or self._health.pid != proc.pid:
                    how = f"{how} (pid {proc.pid})"
                else:
                    how = f"{self._health.last_exit}; {describe_exit(code)}"
                log.error("the local model server stopped: %s; starting it again", how)
                self._ready.clear()
                self._health = Health(state="restarting", restarts=self._health.restarts + 1,
                                      pid=None, last_exit=how)
            while not self._closed:
                time.sleep(_BACKOFF_S[min(self._failures, len(_BACKOFF_S) - 1)])
                try:
                    self._start()
                    break
                except LLMError as exc:
                    self._failures += 1
                    log.error("restarting the local model server failed (%d): %s", self._failures, exc)
                    if self._failures >= len(_BACKOFF_S):
                        with self._lock:
                            self._health = Health(state="failed", restarts=self._health.restarts,
                                                  last_exit=str(exc).splitlines()[0])


_servers: dict[ServerConfig, ServerProcess] = {}
_servers_lock = threading.Lock()


def shared_server(config: ServerConfig, log_dir: Path | None = None) -> ServerProcess:
    """The process-wide server for ``config``: every backend asking for the same model shares it."""
    with _servers_lock:
        server = _servers.get(config)
        if server is None or server.health().state == "stopped":
            server = ServerProcess(config, log_dir)
            _servers[config] = server
        return server


@atexit.register
def _stop_all() -> None:
    with _servers_lock:
        for server in _servers.values():
            server.close()
        _servers.clear()
