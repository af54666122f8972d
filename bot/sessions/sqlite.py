"""The default session store: one SQLite file (WAL mode, one transaction per write), safe for the
threads of one process and for several processes on one machine. Replicas on several hosts use
:mod:`bot.sessions.postgres`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bot.sessions.base import Feedback, Message, Session, SessionNotFound, SessionStore
from bot.state import SessionState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, catalogue TEXT NOT NULL, state TEXT NOT NULL, meta TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    role TEXT NOT NULL, text TEXT NOT NULL, data TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS messages_session ON messages(session_id, id);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    kind TEXT NOT NULL, target TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS feedback_session ON feedback(session_id, id);
CREATE TABLE IF NOT EXISTS user_sessions (
    client_user TEXT NOT NULL, catalogue TEXT NOT NULL, owner TEXT NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE, created REAL NOT NULL,
    PRIMARY KEY (client_user, catalogue, owner));
CREATE INDEX IF NOT EXISTS user_sessions_session ON user_sessions(session_id);
"""


class SQLiteSessionStore(SessionStore):
    """Sessions in one SQLite file (WAL, foreign keys on, a connection per thread)."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connection().executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA foreign_keys=ON")
            self._local.con = con
        return con

    def _conn(self, write: bool = True) -> _Tx:
        return _Tx(self._connection(), "IMMEDIATE" if write else "DEFERRED")

    def create(self, catalogue: str, meta: dict[str, Any] | None = None) -> Session:
        now = time.time()
        sid = uuid.uuid4().hex
        state = SessionState()
        with self._conn(write=False) as con:
            con.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                        (sid, catalogue, state.model_dump_json(), json.dumps(meta or {}), now, now))
        return Session(sid, catalogue, state, now, now, meta or {})

    def get(self, session_id: str) -> Session:
        with self._conn(write=False) as con:
            row = con.execute("SELECT id, catalogue, state, meta, created, updated FROM sessions WHERE id = ?",
                              (session_id,)).fetchone()
        if row is None:
            raise SessionNotFound(session_id)
        return Session(row[0], row[1], SessionState.model_validate_json(row[2]), row[4], row[5], json.loads(row[3]))

    def save_state(self, session_id: str, state: SessionState) -> None:
        with self._conn(write=False) as con:
            cur = con.execute("UPDATE sessions SET state = ?, updated = ? WHERE id = ?",
                              (state.model_dump_json(), time.time(), session_id))
            if cur.rowcount == 0:
                raise SessionNotFound(session_id)

    def delete(self, session_id: str) -> None:
        with self._conn(write=False) as con:
            cur = con.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            if cur.rowcount == 0:
                raise SessionNotFound(session_id)

    def _of_session(self, session_id: str, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[Any], int]:
        """Run ``sql`` with ``(session_id, *params)`` in one transaction, once the session is known to
        exist: the rows it selects and the id of the row it inserts."""
        with self._conn() as con:
            self._require(con, session_id)
            cur = con.execute(sql, (session_id, *params))
            return cur.fetchall(), int(cur.lastrowid or 0)

    def add_message(self, session_id: str, role: str, text: str, data: dict[str, Any] | None = None) -> int:
        return self._of_session(
            session_id, "INSERT INTO messages (session_id, role, text, data, created) VALUES (?, ?, ?, ?, ?)",
            (role, text, json.dumps(data or {}), time.time()))[1]

    def messages(self, session_id: str) -> list[Message]:
        rows = self._of_session(session_id, "SELECT session_id, role, text, created, data, id FROM messages "
                                            "WHERE session_id = ? ORDER BY id")[0]
        return [Message(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    def add_feedback(self, session_id: str, kind: str, target: str) -> int:
        return self._of_session(
            session_id, "INSERT INTO feedback (session_id, kind, target, created) VALUES (?, ?, ?, ?)",
            (kind, target, time.time()))[1]

    def feedback(self, session_id: str) -> list[Feedback]:
        rows = self._of_session(session_id, "SELECT session_id, kind, target, created, id FROM feedback "
                                            "WHERE session_id = ? ORDER BY id")[0]
        return [Feedback(*r) for r in rows]

    def list_sessions(self, limit: int = 100) -> list[str]:
        with self._conn() as con:
            return [r[0] for r in con.execute("SELECT id FROM sessions ORDER BY updated DESC LIMIT ?", (limit,))]

    def user_session(self, user: str, catalogue: str, owner: str) -> str | None:
        with self._conn(write=False) as con:
            row = con.execute("SELECT session_id FROM user_sessions WHERE client_user = ? AND catalogue = ? "
                              "AND owner = ?", (user, catalogue, owner)).fetchone()
        return row[0] if row else None

    def bind_user_session(self, user: str, catalogue: str, owner: str, session_id: str) -> str:
        with self._conn() as con:
            self._require(con, session_id)
            con.execute("INSERT OR IGNORE INTO user_sessions VALUES (?, ?, ?, ?, ?)",
                        (user, catalogue, owner, session_id, time.time()))
            return con.execute("SELECT session_id FROM user_sessions WHERE client_user = ? AND catalogue = ? "
                               "AND owner = ?", (user, catalogue, owner)).fetchone()[0]

    def forget_user_sessions(self, session_id: str) -> int:
        with self._conn() as con:
            return con.execute("DELETE FROM user_sessions WHERE session_id = ?", (session_id,)).rowcount

    @staticmethod
    def _require(con: sqlite3.Connection, session_id: str) -> None:
        if con.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
            raise SessionNotFound(session_id)


class _Tx:
    """``with`` block = one transaction on a connection in autocommit mode: IMMEDIATE for writes (the
    write lock is taken up front, so concurrent writers queue instead of failing), DEFERRED for reads."""

    def __init__(self, con: sqlite3.Connection, mode: str) -> None:
        self.con = con
        self.mode = mode

    def __enter__(self) -> sqlite3.Connection:
        self.con.execute(f"BEGIN {self.mode}")
        return self.con

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")
