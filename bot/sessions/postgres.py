"""Sessions, messages and feedback in PostgreSQL: the store that several replicas share.

psycopg 3 with a connection pool (``psycopg_pool``); the schema is created and upgraded by the
versioned migrations in :mod:`bot.sessions.migrate` when the store opens. Every method is one
transaction on a pooled connection, committed before it returns, so a replica killed mid-turn loses
nothing it had written and another replica reads the session where it stopped.

PostgreSQL text cannot hold the NUL character: NULs in texts and JSON documents are stored as U+FFFD.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from bot.sessions.base import Feedback, Message, Session, SessionNotFound, SessionStore, SessionStoreError
from bot.sessions.migrate import migrate
from bot.state import SessionState

log = logging.getLogger(__name__)


def describe_dsn(dsn: str) -> str:
    """``postgresql://user@host:port/db`` without the password, for logs and errors."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - a malformed DSN is reported by the connection attempt
        return "PostgreSQL (unparsable DSN)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname', '')}"


def _clean(value: Any) -> Any:
    """``value`` with NUL characters (which PostgreSQL text and jsonb refuse) replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


class PostgresSessionStore(SessionStore):
    """Sessions in a PostgreSQL database reached through ``dsn`` (a libpq connection string or URL)."""

    backend = "postgres"

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 8, timeout_s: float = 10.0,
                 run_migrations: bool = True) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool, PoolTimeout

        if not dsn:
            raise SessionStoreError("the postgres session store needs a DSN: set sessions.dsn "
                                    "(RECBOT_SESSIONS__DSN=postgresql://user@host:5432/recbot)")
        self.dsn_description = describe_dsn(dsn)
        self._errors = (psycopg.OperationalError, PoolTimeout)
        self.pool = ConnectionPool(
            dsn, min_size=min_size, max_size=max_size, timeout=timeout_s, open=False,
            name="recbot-sessions", check=ConnectionPool.check_connection,
            kwargs={"connect_timeout": max(1, int(timeout_s))},
        )
        try:
            self.pool.open(wait=True, timeout=timeout_s)
            if run_migrations:
                with self.pool.connection() as con:
                    con.autocommit = True  # migrate() opens its own transaction
                    try:
                        applied = migrate(con)
                    finally:
                        con.autocommit = False
                if applied:
                    log.info("session store %s migrated to version %d", self.dsn_description, applied[-1])
        except self._errors as exc:
            self.pool.close()
            raise SessionStoreError(f"cannot open the session store at {self.dsn_description}: {exc}") from exc
        except BaseException:
            self.pool.close()
            raise

    def _tx(self):
        return self.pool.connection()  # commits on a clean exit, rolls back on an exception

    # -- sessions ---------------------------------------------------------------------------------

    def create(self, catalogue: str, meta: dict[str, Any] | None = None) -> Session:
        from psycopg.types.json import Jsonb

        now = time.time()
        sid = uuid.uuid4().hex
        state = SessionState()
        meta = _clean(meta or {})
        with self._tx() as con:
            con.execute("INSERT INTO sessions (id, catalogue, state, meta, created, updated) "
                        "VALUES (%s, %s, %s, %s, %s, %s)",
                        (sid, catalogue, Jsonb(state.model_dump(mode="json")), Jsonb(meta), now, now))
        return Session(sid, catalogue, state, now, now, meta)

    def get(self, session_id: str) -> Session:
        with self._tx() as con:
            row = con.execute("SELECT id, catalogue, state, meta, created, updated FROM sessions WHERE id = %s",
                              (session_id,)).fetchone()
        if row is None:
            raise SessionNotFound(session_id)
        return Session(row[0], row[1], SessionState.model_validate(row[2]), row[4], row[5], row[3])

    def save_state(self, session_id: str, state: SessionState) -> None:
        from psycopg.types.json import Jsonb

        with self._tx() as con:
            cur = con.execute("UPDATE sessions SET state = %s, updated = %s WHERE id = %s",
                              (Jsonb(_clean(state.model_dump(mode="json"))), time.time(), session_id))
            if cur.rowcount == 0:
                raise SessionNotFound(session_id)

    def delete(self, session_id: str) -> None:
        with self._tx() as con:
            cur = con.execute("DELETE FROM sessions WHERE id = %s", (session_id,))
            if cur.rowcount == 0:
                raise SessionNotFound(session_id)

    def list_sessions(self, limit: int = 100) -> list[str]:
        with self._tx() as con:
            rows = con.execute("SELECT id FROM sessions ORDER BY updated DESC LIMIT %s", (limit,)).fetchall()
        return [r[0] for r in rows]

    # -- messages and feedback ----------------------------------------------------------------------

    def _insert(self, sql: str, session_id: str, params: tuple) -> int:
        """An INSERT … SELECT … WHERE the session exists; SessionNotFound when it does not (or is
        deleted concurrently)."""
        import psycopg

        try:
            with self._tx() as con:
                row = con.execute(sql, (*params, session_id)).fetchone()
        except psycopg.errors.ForeignKeyViolation as exc:
            raise SessionNotFound(session_id) from exc
        if row is None:
            raise SessionNotFound(session_id)
        return int(row[0])

    def add_message(self, session_id: str, role: str, text: str, data: dict[str, Any] | None = None) -> int:
        from psycopg.types.json import Jsonb

        return self._insert(
            "INSERT INTO messages (session_id, role, text, data, created) SELECT %s, %s, %s, %s, %s "
            "WHERE EXISTS (SELECT 1 FROM sessions WHERE id = %s) RETURNING id",
            session_id, (session_id, role, _clean(text), Jsonb(_clean(data or {})), time.time()),
        )

    def add_feedback(self, session_id: str, kind: str, target: str) -> int:
        return self._insert(
            "INSERT INTO feedback (session_id, kind, target, created) SELECT %s, %s, %s, %s "
            "WHERE EXISTS (SELECT 1 FROM sessions WHERE id = %s) RETURNING id",
            session_id, (session_id, _clean(kind), _clean(target), time.time()),
        )

    def _rows(self, session_id: str, sql: str) -> list[tuple]:
        with self._tx() as con:
            if con.execute("SELECT 1 FROM sessions WHERE id = %s", (session_id,)).fetchone() is None:
                raise SessionNotFound(session_id)
            return con.execute(sql, (session_id,)).fetchall()

    def messages(self, session_id: str) -> list[Message]:
        rows = self._rows(session_id, "SELECT session_id, role, text, created, data, id FROM messages "
                                      "WHERE session_id = %s ORDER BY id")
        return [Message(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def feedback(self, session_id: str) -> list[Feedback]:
        rows = self._rows(session_id, "SELECT session_id, kind, target, created, id FROM feedback "
                                      "WHERE session_id = %s ORDER BY id")
        return [Feedback(*r) for r in rows]

    # -- which session a client's user is in ------------------------------------------------------------

    def user_session(self, user: str, catalogue: str, owner: str) -> str | None:
        with self._tx() as con:
            row = con.execute("SELECT session_id FROM user_sessions WHERE client_user = %s AND catalogue = %s "
                              "AND owner = %s", (_clean(user), catalogue, owner)).fetchone()
        return row[0] if row else None

    def bind_user_session(self, user: str, catalogue: str, owner: str, session_id: str) -> str:
        import psycopg

        key = (_clean(user), catalogue, owner)
        try:
            with self._tx() as con:
                con.execute("INSERT INTO user_sessions (client_user, catalogue, owner, session_id, created) "
                            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", (*key, session_id, time.time()))
                row = con.execute("SELECT session_id FROM user_sessions WHERE client_user = %s AND catalogue = %s "
                                  "AND owner = %s", key).fetchone()
        except psycopg.errors.ForeignKeyViolation as exc:
            raise SessionNotFound(session_id) from exc
        return row[0]

    def forget_user_sessions(self, session_id: str) -> int:
        with self._tx() as con:
            return con.execute("DELETE FROM user_sessions WHERE session_id = %s", (session_id,)).rowcount

    # -- operations ---------------------------------------------------------------------------------

    def ping(self) -> None:
        try:
            with self._tx() as con:
                con.execute("SELECT 1")
        except self._errors as exc:
            raise SessionStoreError(f"the session store at {self.dsn_description} does not answer: {exc}") from exc

    def close(self) -> None:
        self.pool.close()
