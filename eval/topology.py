"""The processes of a scaled-out recbot on one machine, for the load test and the topology tests:
a PostgreSQL server, a ``chroma run`` server, an LLM server with parallel slots, and ``recbot serve``
replicas — each a subprocess on a free loopback port, logging to a file, killed or stopped by the
caller. Nothing here is used by the product itself; it is how we measure and test the topology the
README describes.

PostgreSQL comes from Debian's package (``/usr/lib/postgresql/<v>/bin``; ``tests/install_postgres.sh``
installs it). It refuses to run as root: as root the server runs as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from eval.serve_process import REPO, Process, free_port, recbot_command, recbot_serve

__all__ = ["PostgresServer", "Process", "chroma_server", "find_postgres_bin", "free_port", "ingest", "llm_server",
           "model_path", "replica"]
PG_ROLE = "recbot"


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<v>/bin`` holding initdb and pg_ctl (or ``RECBOT_PG_BIN``)."""
    if os.environ.get("RECBOT_PG_BIN"):
        return Path(os.environ["RECBOT_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


def chroma_server(path: Path, port: int | None = None) -> Process:
    port = port or free_port()
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    path.mkdir(parents=True, exist_ok=True)
    return Process("chroma run", [exe, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port",
                                  str(port)], port, f"http://127.0.0.1:{port}/api/v2/heartbeat",
                   path / "server.log", ready_timeout_s=60)


def model_path(model: str, cache_dir: Path) -> Path:
    """A GGUF file: ``model`` itself, or a packaged model's file (assembled into ``cache_dir``)."""
    if Path(model).is_file():
        return Path(model)
    from bot.llm.models import PACKAGED_MODELS

    if model not in PACKAGED_MODELS:
        raise ValueError(f"{model!r} is neither a GGUF file nor a packaged model ({', '.join(PACKAGED_MODELS)})")
    return PACKAGED_MODELS[model].locate(cache_dir)


def llm_server(model: str, cache_dir: Path, log_path: Path, parallel: int = 4, ctx_per_slot: int = 2048,
               threads: int = 1) -> Process:
    """``python -m bot.llm.llama_server``: llama.cpp's OpenAI-compatible server with ``parallel``
    slots (continuous batching) serving ``model`` under that name; its API is at ``<url>/v1``."""
    port = free_port()
    cmd = [sys.executable, "-m", "bot.llm.llama_server", "--model", str(model_path(model, cache_dir)),
           "--alias", model, "--host", "127.0.0.1", "--port", str(port), "--parallel", str(parallel),
           "--ctx", str(ctx_per_slot), "--threads", str(threads)]
    return Process("llama server", cmd, port, f"http://127.0.0.1:{port}/health", log_path,
                   ready_timeout_s=300)


def replica(data_dir: Path, log_path: Path, env: dict[str, str], catalogue: str | None = None,
            port: int | None = None) -> Process:
    """``recbot serve --no-ui`` with ``env`` (``RECBOT_*`` settings) and its own data dir."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("RECBOT_")}
    full.update({"RECBOT_DATA_DIR": str(data_dir), "RECBOT_CONFIG": str(data_dir / "no-recbot.toml")})
    full.update(env)
    return recbot_serve(log_path, catalogues=[catalogue] if catalogue else [], env=full, port=port)


class PostgresServer:
    """A throw-away PostgreSQL cluster: ``initdb`` in a temp dir, ``pg_ctl start`` on a loopback port,
    trust authentication for the role ``recbot``; :meth:`stop` removes it all."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="recbot-pg-"))  # not under a 0700 pytest dir
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{PG_ROLE}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        proc = subprocess.run([*self._as, *args], check=False, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n"
                               + (self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""))

    def start(self) -> PostgresServer:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", PG_ROLE, "--auth=trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        # fsync off: a throw-away server need not survive a power cut; what is tested is a replica
        # crashing, and committed rows survive that with or without fsync
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=200")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w",
                  "-t", "60", "start")
        return self

    def new_database(self, prefix: str = "test") -> str:
        """A new empty database; returns its DSN."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.dsn(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                            "stop"], check=False, capture_output=True, timeout=120)
        shutil.rmtree(self.root, ignore_errors=True)


def ingest(catalogue: str, data_dir: Path, env: dict[str, str], limit: int | None = None,
           timeout_s: float = 1800) -> None:
    """``recbot ingest`` in a subprocess with ``env`` (e.g. the Chroma server settings)."""
    cmd = [*recbot_command(), "ingest", catalogue, "--quiet"]
    if limit:
        cmd += ["--limit", str(limit)]
    full = {k: v for k, v in os.environ.items() if not k.startswith("RECBOT_")}
    full.update({"RECBOT_DATA_DIR": str(data_dir), "RECBOT_CONFIG": str(data_dir / "no-recbot.toml"),
                 "PYTHONPATH": str(REPO)})
    full.update(env)
    proc = subprocess.run(cmd, cwd=REPO, env=full, check=False, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"recbot ingest failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
