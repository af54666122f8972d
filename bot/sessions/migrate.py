"""Versioned schema migrations for the PostgreSQL session store.

The migrations are the ordered SQL files ``migrations/NNNN_name.sql`` beside this module; the table
``schema_version`` records which ones a database has. :func:`migrate` applies the missing ones, each in
the same transaction as its ``schema_version`` row, under an advisory lock: replicas that start at the
same moment apply every migration exactly once. A database that is newer than this code (a version it
does not know) is refused rather than written to.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from bot.sessions.base import SessionStoreError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x72656362  # "recb": one advisory lock id for the migrations of this schema


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in ``folder``, by version; every ``.sql`` file must be named ``NNNN_name.sql``
    and the versions must be 1, 2, 3… without gaps or repeats."""
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        m = _FILE.match(path.name)
        if not m:
            raise SessionStoreError(f"{path}: migration files are named NNNN_name.sql (e.g. 0002_add_profiles.sql)")
        found.append(Migration(int(m.group(1)), m.group(2), path))
    found.sort(key=lambda mig: mig.version)
    for expected, mig in enumerate(found, start=1):
        if mig.version != expected:
            raise SessionStoreError(f"{mig.path}: expected migration version {expected:04d}, found {mig.version:04d}")
    return found


def migrate(conn, migrations: list[Migration] | None = None) -> list[int]:
    """Bring the database on ``conn`` (a psycopg connection, not in a transaction) up to date.
    Returns the versions applied now (empty when it already was)."""
    migrations = discover() if migrations is None else migrations
    applied_now: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
        known = {mig.version for mig in migrations}
        unknown = sorted(done - known)
        if unknown:
            raise SessionStoreError(
                f"the database has schema version {unknown[-1]}, newer than this recbot knows "
                f"({max(known, default=0)}): upgrade recbot before pointing it at this database"
            )
        for mig in migrations:
            if mig.version in done:
                continue
            log.info("applying session-store migration %04d_%s", mig.version, mig.name)
            conn.execute(mig.sql())
            conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)", (mig.version, mig.name))
            applied_now.append(mig.version)
    return applied_now


def current_version(conn) -> int:
    """The highest applied version (0 for a database never migrated)."""
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])
