"""A real, throw-away PostgreSQL server for the tests (:class:`eval.topology.PostgresServer`: Debian's
binaries, ``initdb`` in a temp dir, ``pg_ctl start`` on a free loopback port, as the ``postgres`` user
when the tests run as root). Debian's package is installed by ``tests/install_postgres.sh`` when missing,
as the browser is for the UI tests. Each test asks for an empty database with ``new_database()``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from eval.topology import PostgresServer

HERE = Path(__file__).resolve().parent


def install() -> Path:
    """The PostgreSQL bin dir, installing Debian's package first when it is missing; skips the calling
    test, with the reason, when it cannot be installed (no apt-get, not root)."""
    proc = subprocess.run(["bash", str(HERE / "install_postgres.sh")], check=False, capture_output=True, text=True,
                          timeout=900)
    if proc.returncode != 0:
        pytest.skip(f"PostgreSQL could not be installed (install_postgres.sh exit {proc.returncode}): "
                    f"{proc.stderr.strip()[-500:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole test session."""
    server = PostgresServer(install())
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    try:
        yield server
    finally:
        server.stop()
