"""Conversations with memory: the engine plus the session store, the one door of every face.

The faces (the API, the page, the terminal chat, the integrations) talk to these two classes and the
result types (:class:`TurnEvent`, :class:`TurnResult`, :class:`Recommendation`, re-exported here)
only, never to the store or the engine:

- :class:`SessionService` -- the sessions of one store, without an engine: read a session, its
  messages and feedback, rate a reply, put a state back, reset, delete, export. The page uses it
  before any catalogue or model has been loaded.
- :class:`ChatService` -- that plus the engine of one catalogue: create sessions, run turns (stored),
  item feedback, what serves (LLM state, ranker, catalogue size), and derived services that differ
  only in their prompt templates (the prompt lab's comparisons, an app's own prompt library).

A message is handled under the session's lock (two messages to one session queue, they never
interleave); services derived from one another share their locks. The user's message is stored
before the turn runs, the reply and the new state after it, so a crash mid-turn loses only the reply
being written, never earlier messages or feedback.

Privacy: what is stored is redacted (:func:`bot.privacy.redact`: emails, phone numbers, cards, IBANs):
the user's message, the reply, and the state's free-text fields. The engine sees the original text of
the current turn only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Literal

from bot.engine import (
    ConversationEngine,
    EngineConfig,
    FeedbackKind,
    Recommendation,
    TurnEvent,
    TurnResult,
    final_result,
)
from bot.privacy import personal_data, redact, redact_all
from bot.sessions import Feedback, Message, Session, SessionStore
from bot.state import SessionState
from prompts.loader import PromptLibrary
from retrieval.schema import Item

__all__ = ["ChatService", "EngineConfig", "FeedbackKind", "MessageRating", "Recommendation", "SessionLocks",
           "SessionService", "TurnEvent", "TurnResult"]  # the result types travel with the service

MessageRating = Literal["message_up", "message_down"]
MESSAGE_RATINGS: tuple[str, ...] = ("message_up", "message_down")


class SessionLocks:
    """One lock per session id, shared by every service over the same sessions."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, session_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(session_id, threading.Lock())

    def forget(self, session_id: str) -> None:
        with self._guard:
            self._locks.pop(session_id, None)


class SessionService:
    """The sessions kept in ``store``: everything about them that needs no engine."""

    def __init__(self, store: SessionStore | None, *, locks: SessionLocks | None = None) -> None:
        self._store = store
        self._lock = locks or SessionLocks()

    @property
    def store(self) -> SessionStore:
        if self._store is None:
            raise RuntimeError("this chat service keeps no sessions (built without a session store): "
                               "use stream_unsaved() and apply_feedback() on a state you keep")
        return self._store

    def with_engine(self, engine: ConversationEngine, catalogue: str) -> ChatService:
        """A chat service over ``engine`` (catalogue ``catalogue``) keeping its sessions here."""
        return ChatService(engine, self._store, catalogue, locks=self._lock)

    def create_session_for(self, catalogue: str, meta: dict[str, Any] | None = None) -> Session:
        """A new session about ``catalogue`` (a chat service's :meth:`ChatService.create_session` is about
        its own)."""
        return self.store.create(catalogue, meta)

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

    def rate_message(self, session_id: str, rating: MessageRating, message_id: int | str) -> None:
        """Thumbs up / down on a stored reply (``message_up`` / ``message_down`` on its message id)."""
        if rating not in MESSAGE_RATINGS:
            raise ValueError(f"rating must be one of {', '.join(MESSAGE_RATINGS)}, not {rating!r}")
        self.store.add_feedback(session_id, rating, str(message_id))

    def save_state(self, session_id: str, state: SessionState) -> None:
        """Replace the session's state (e.g. put back the state a turn started from, to retry it)."""
        with self._lock(session_id):
            self.store.save_state(session_id, state)

    def reset(self, session_id: str) -> None:
        """Forget the preferences (messages and feedback history stay)."""
        with self._lock(session_id):
            self.store.get(session_id)
            self.store.save_state(session_id, SessionState())

    def delete(self, session_id: str) -> None:
        """Delete a session and every row that belongs to it (waits for a running turn to finish)."""
        with self._lock(session_id):
            self.store.delete(session_id)
        self._lock.forget(session_id)


class ChatService(SessionService):
    """The engine of catalogue ``catalogue`` over the sessions of ``store``.

    With ``store=None`` it keeps no sessions: the caller holds the state and runs turns with
    :meth:`stream_unsaved` and :meth:`apply_feedback` (the terminal chat)."""

    def __init__(self, engine: ConversationEngine, store: SessionStore | None, catalogue: str, *,
                 locks: SessionLocks | None = None) -> None:
        super().__init__(store, locks=locks)
        self.engine = engine
        self.catalogue = catalogue

    # ------------------------------------------------------------------------------ what serves
    @property
    def config(self) -> EngineConfig:
        """The engine's settings (recommendations per turn, prompt set, domain and item noun…)."""
        return self.engine.config

    @property
    def prompt_library(self) -> PromptLibrary:
        """Where the engine's prompt templates come from."""
        return self.engine.prompts

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

    def genre_names(self) -> list[str]:
        """The catalogue's genres as written in it, sorted."""
        return sorted(self.engine.understander.vocab.genre_names)

    def vector_count(self) -> int | None:
        """Items in the catalogue's vector collection, asked of the vector store (a Chroma server in
        http mode, which may not answer: call it with a timeout); ``None`` without a vector store."""
        snapshot = getattr(self.engine.catalogue, "snapshot", None)
        return None if snapshot is None else snapshot.collection.count()

    def ranker_name(self) -> str:
        """Which ranker orders the candidates: ``learned`` (trained for this catalogue), ``transfer`` (the
        packaged ranker that works on any catalogue) or ``none`` (retrieval scores only)."""
        return str(getattr(self.engine.catalogue, "ranker_name", "none"))

    def with_prompts(self, library: PromptLibrary, *, prompt_set: str | None = None,
                     seed: int | None = None) -> ChatService:
        """This service with its templates from ``library`` (and, if given, another prompt set or sampling
        seed). The catalogue, LLM, understander, sessions and locks are shared; this one is unchanged."""
        changes = {k: v for k, v in (("prompt_set", prompt_set), ("seed", seed)) if v is not None}
        e = self.engine
        engine = ConversationEngine(e.catalogue, e.llm, library, replace(e.config, **changes),
                                    understander=e.understander)
        return ChatService(engine, self._store, self.catalogue, locks=self._lock)

    # ------------------------------------------------------------------------------ sessions
    def create_session(self, meta: dict[str, Any] | None = None) -> Session:
        """A new session about this service's catalogue."""
        return self.create_session_for(self.catalogue, meta)

    def user_session(self, user: str, owner: str) -> str | None:
        """The session an outside system's ``user`` (OpenAI ``user`` field) talks in, if any."""
        return self.store.user_session(user, self.catalogue, owner)

    def bind_user_session(self, user: str, owner: str, session_id: str) -> str:
        """Map ``user`` to ``session_id`` unless a concurrent call won; returns the session in use."""
        return self.store.bind_user_session(user, self.catalogue, owner, session_id)

    def forget_user_sessions(self, session_id: str) -> int:
        return self.store.forget_user_sessions(session_id)

    # ------------------------------------------------------------------------------ turns
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
        return final_result(self.stream(session_id, text, cancel))

    def stream_unsaved(self, state: SessionState, text: str,
                       cancel: threading.Event | None = None) -> Iterator[TurnEvent]:
        """Run one turn on ``state`` (changed in place: pass a copy to keep yours) outside any session:
        nothing is stored. The prompt lab compares template versions so; the terminal chat talks so."""
        yield from self.engine.stream_turn(state, text, cancel)

    def apply_feedback(self, state: SessionState, kind: FeedbackKind, item_id: str) -> None:
        """Like / dislike / seen on an item, applied to ``state`` (yours) only: nothing is stored. Raises
        KeyError for an item not in the catalogue."""
        self.engine.feedback(state, kind, item_id)

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
