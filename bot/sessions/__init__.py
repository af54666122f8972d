"""Where conversations live: sessions (state), their messages and feedback.

``SessionStore`` is the interface (:mod:`bot.sessions.base`); ``SQLiteSessionStore`` the default (one
file under the data dir); ``PostgresSessionStore`` the store that replicas on several hosts share.
:func:`open_session_store` picks one from explicit settings values.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.sessions.base import (
    Feedback,
    Message,
    Session,
    SessionNotFound,
    SessionStore,
    SessionStoreError,
)
from bot.sessions.sqlite import SQLiteSessionStore

if TYPE_CHECKING:
    from bot.sessions.postgres import PostgresSessionStore

__all__ = [
    "Feedback", "Message", "PostgresSessionStore", "SQLiteSessionStore", "Session", "SessionNotFound",
    "SessionStore", "SessionStoreError", "open_session_store",
]

BACKENDS = ("sqlite", "postgres")


def open_session_store(backend: str, *, sqlite_path: Path | None = None, dsn: str = "", pool_min: int = 1,
                       pool_max: int = 8, timeout_s: float = 10.0) -> SessionStore:
    """The ``sqlite`` store at ``sqlite_path`` or the ``postgres`` store at ``dsn`` (migrated on open)."""
    if backend == "sqlite":
        if sqlite_path is None:
            raise SessionStoreError("the sqlite session store needs a file path")
        return SQLiteSessionStore(sqlite_path)
    if backend == "postgres":
        from bot.sessions.postgres import PostgresSessionStore

        return PostgresSessionStore(dsn, min_size=pool_min, max_size=pool_max, timeout_s=timeout_s)
    raise SessionStoreError(f"unknown session store backend {backend!r}: use one of {', '.join(BACKENDS)}")


def __getattr__(name: str) -> Any:  # PostgresSessionStore imports psycopg only when asked for
    if name == "PostgresSessionStore":
        from bot.sessions.postgres import PostgresSessionStore

        return PostgresSessionStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
