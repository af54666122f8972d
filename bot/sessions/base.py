"""What every session store offers: the records (sessions, messages, feedback) and the interface.

:class:`SessionStore` is the interface the chat service, the app and the API use; the backends are
:mod:`bot.sessions.sqlite` (one file, the default) and :mod:`bot.sessions.postgres` (a PostgreSQL
server that several replicas share). The same tests run against both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from bot.state import SessionState


class SessionNotFound(KeyError):
    def __init__(self, session_id: str) -> None:
        super().__init__(session_id)
        self.session_id = session_id

    def __str__(self) -> str:
        return f"no session {self.session_id!r}"


class SessionStoreError(RuntimeError):
    """The store is unreachable or misconfigured; the message names the backend and what to check."""


@dataclass
class Session:
    id: str
    catalogue: str
    state: SessionState
    created: float
    updated: float
    meta: dict[str, Any]


@dataclass
class Message:
    session_id: str
    role: str  # user | assistant
    text: str
    created: float
    data: dict[str, Any]  # assistant: action, recommendations…
    id: int | None = None


@dataclass
class Feedback:
    session_id: str
    kind: str  # like | dislike | seen | message_up | message_down
    target: str  # an item id, or a message id for message feedback
    created: float
    id: int | None = None


class SessionStore(ABC):
    """Sessions (their state), messages and feedback. Every write is one committed transaction: once a
    method returns, what it wrote survives a crash of the process."""

    backend: str = "?"

    @abstractmethod
    def create(self, catalogue: str, meta: dict[str, Any] | None = None) -> Session: ...

    @abstractmethod
    def get(self, session_id: str) -> Session: ...  # raises SessionNotFound

    @abstractmethod
    def save_state(self, session_id: str, state: SessionState) -> None: ...

    @abstractmethod
    def delete(self, session_id: str) -> None: ...  # every row of the session goes

    @abstractmethod
    def add_message(self, session_id: str, role: str, text: str, data: dict[str, Any] | None = None) -> int: ...

    @abstractmethod
    def messages(self, session_id: str) -> list[Message]: ...

    @abstractmethod
    def add_feedback(self, session_id: str, kind: str, target: str) -> int: ...

    @abstractmethod
    def feedback(self, session_id: str) -> list[Feedback]: ...

    @abstractmethod
    def list_sessions(self, limit: int = 100) -> list[str]: ...

    # which session a client's user is in (the OpenAI-compatible endpoint's ``user``), per catalogue
    # and owner key; the rows go with their session

    @abstractmethod
    def user_session(self, user: str, catalogue: str, owner: str) -> str | None: ...

    @abstractmethod
    def bind_user_session(self, user: str, catalogue: str, owner: str, session_id: str) -> str:
        """Map the user to ``session_id`` unless a concurrent call won; returns the session in use.
        Raises SessionNotFound when ``session_id`` does not exist."""

    @abstractmethod
    def forget_user_sessions(self, session_id: str) -> int: ...  # rows removed

    def ping(self) -> None:
        """Raise :class:`SessionStoreError` when the store cannot be reached (readiness checks)."""

    def close(self) -> None:
        """Release connections (a no-op where there is nothing to release)."""

    def export(self, session_id: str) -> dict[str, Any]:
        """Everything stored about one session as plain JSON-able data (a data-subject access request):
        ``{session_id, catalogue, created, updated, meta, state, messages, feedback}``.
        Raises SessionNotFound."""
        session = self.get(session_id)
        return {
            "session_id": session.id,
            "catalogue": session.catalogue,
            "created": session.created,
            "updated": session.updated,
            "meta": session.meta,
            "state": session.state.model_dump(mode="json"),
            "messages": [
                {"id": m.id, "role": m.role, "text": m.text, "created": m.created, "data": m.data}
                for m in self.messages(session_id)
            ],
            "feedback": [
                {"id": f.id, "kind": f.kind, "target": f.target, "created": f.created}
                for f in self.feedback(session_id)
            ],
        }
