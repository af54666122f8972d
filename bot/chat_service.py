"""Conversations with memory: the engine plus the session store, as the app and the API use them.

A message is handled under the session's lock (two messages to one session queue, they never
interleave). The user's message is stored before the turn runs, the reply and the new state after it,
so a crash mid-turn loses only the reply being written, never earlier messages or feedback.

Privacy: what is stored is redacted (:func:`bot.privacy.redact`: emails, phone numbers, cards, IBANs):
the user's message, the reply, and the state's free-text fields. The engine sees the original text of
the current turn only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from bot.engine import ConversationEngine, FeedbackKind, TurnEvent, TurnResult
from bot.privacy import personal_data, redact, redact_all
from bot.sessions import Feedback, Message, Session, SessionStore
from retrieval.schema import Item


class ChatService:
    def __init__(self, engine: ConversationEngine, store: SessionStore, catalogue: str) -> None:
        self.engine = engine
        self.store = store
        self.catalogue = catalogue
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, session_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(session_id, threading.Lock())

    def llm_status(self) -> dict[str, Any]:
        """The chat model's name and state: ``ready``, or ``restarting`` / ``failed`` while a local model
        server that crashed is started again (turns meanwhile get the degraded grounded reply)."""
        llm = self.engine.llm
        health = getattr(llm, "health", None)
        status: dict[str, Any] = {"name": llm.name, "state": "ready", "detail": None}
        if health is not None:
            h = health()
            status.update(state=h.state, detail=h.last_exit, restarts=h.restarts)
        return status

    def catalogue_size(self) -> int:
        """How many items the catalogue holds (0 means an empty index)."""
        return len(self.engine.catalogue.items)

    def item(self, item_id: str) -> Item | None:
        """A catalogue item by id, or ``None``."""
        return self.engine.catalogue.get(item_id)

    def vector_count(self) -> int | None:
        """Items in the catalogue's vector collection, asked of the vector store (a Chroma server in
        http mode, which may not answer: call it with a timeout); ``None`` without a vector store."""
        snapshot = getattr(self.engine.catalogue, "snapshot", None)
        return None if snapshot is None else snapshot.collection.count()

    def user_session(self, user: str, owner: str) -> str | None:
        """The session an outside system's ``user`` (OpenAI ``user`` field) talks in, if any."""
        return self.store.user_session(user, self.catalogue, owner)

    def bind_user_session(self, user: str, owner: str, session_id: str) -> str:
        """Map ``user`` to ``session_id`` unless a concurrent call won; returns the session in use."""
        return self.store.bind_user_session(user, self.catalogue, owner, session_id)

    def forget_user_sessions(self, session_id: str) -> int:
        return self.store.forget_user_sessions(session_id)

    def ranker_name(self) -> str:
        """Which ranker orders the candidates: ``learned`` (trained for this catalogue), ``transfer`` (the
        packaged ranker that works on any catalogue) or ``none`` (retrieval scores only)."""
        return str(getattr(self.engine.catalogue, "ranker_name", "none"))

    def create_session(self, meta: dict[str, Any] | None = None) -> Session:
        return self.store.create(self.catalogue, meta)

    def get_session(self, session_id: str) -> Session:
        """The session (state, catalogue, meta). Raises SessionNotFound for an unknown id."""
        return self.store.get(session_id)

    def messages(self, session_id: str) -> list[Message]:
        """The session's stored (redacted) messages, oldest first."""
        return self.store.messages(session_id)

    def feedback_given(self, session_id: str) -> list[Feedback]:
        """The session's feedback events, oldest first."""
        return self.store.feedback(session_id)

    def export(self, session_id: str) -> dict[str, Any]:
        """Everything stored about a session, as JSON-ready data (the person's copy of their data)."""
        return self.store.export(session_id)

    def stream(self, session_id: str, text: str, cancel: threading.Event | None = None) -> Iterator[TurnEvent]:
        """Run one turn; yields the engine's events. Raises SessionNotFound for an unknown id."""
        # lone surrogates ("\ud800" is valid JSON) cannot be stored as UTF-8: replace them
        text = text.encode("utf-8", "replace").decode("utf-8")
        with self._lock(session_id):
            session = self.store.get(session_id)
            self.store.add_message(session_id, "user", redact(text))
            pii = personal_data(text)  # echoes of it in the reply are scrubbed too
            state = session.state
            for event in self.engine.stream_turn(state, text, cancel):
                if event.kind == "done" and event.result is not None:
                    self._finish(session_id, event.result, state, pii)
                yield event

    def send(self, session_id: str, text: str, cancel: threading.Event | None = None) -> TurnResult:
        result = None
        for event in self.stream(session_id, text, cancel):
            if event.kind == "done":
                result = event.result
        assert result is not None
        return result

    def _finish(self, session_id: str, result: TurnResult, state, pii: list[str]) -> None:
        self.store.add_message(session_id, "assistant", redact(result.text, pii), {
            "action": result.action, "recommendations": [r.to_dict() for r in result.recommendations],
            "cancelled": result.cancelled, "degraded": result.degraded,
        })
        state.wishes = redact_all(state.wishes, pii)
        state.asked_questions = redact_all(state.asked_questions, pii)
        self.store.save_state(session_id, state)

    def feedback(self, session_id: str, kind: FeedbackKind, item_id: str) -> None:
        """Like / dislike / seen on an item: stored, and applied to the session's state."""
        with self._lock(session_id):
            session = self.store.get(session_id)
            self.engine.feedback(session.state, kind, item_id)  # raises KeyError for an unknown item
            self.store.add_feedback(session_id, kind, item_id)
            self.store.save_state(session_id, session.state)

    def delete(self, session_id: str) -> None:
        """Delete a session and every row that belongs to it (waits for a running turn to finish)."""
        with self._lock(session_id):
            self.store.delete(session_id)
        with self._guard:
            self._locks.pop(session_id, None)

    def reset(self, session_id: str) -> None:
        """Forget the preferences (messages and feedback history stay)."""
        from bot.state import SessionState

        with self._lock(session_id):
            self.store.get(session_id)
            self.store.save_state(session_id, SessionState())
