"""What the chat page needs from the rest of recbot, without any Gradio: services, sessions, cancels.

:class:`AppController` is created once per app. It

- builds a :class:`~bot.chat_service.ChatService` per :class:`Profile` (catalogue, number of
  recommendations, LLM backend/model, prompt set) through :mod:`bot.services`, and keeps them, so
  switching settings back and forth is instant; every engine uses the app's one prompt library, so a
  version saved in the prompt lab is live in the chat at the next turn;
- shares one :class:`~bot.chat_service.SessionService` (one session store, one set of session locks)
  between all of them, and reads and writes sessions only through it;
- keeps a :class:`threading.Event` per running turn, which the Stop button sets: the engine and the
  LLM check it between tokens, so generation really stops (and the partial reply is stored, marked
  cancelled);
- snapshots a session's state before each turn, so Retry can run the last message again from the
  state it started from (feedback given since is re-applied, not lost; the cards it showed count as
  shown, so the retry brings a different list).

Each browser tab keeps only plain values (the session id, the profile as a dict) in ``gr.State``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

from bot import services
from bot.chat_service import ChatService, SessionService
from bot.sessions import SessionNotFound
from bot.settings import Settings
from bot.state import SessionState
from prompts.loader import PromptLibrary

log = logging.getLogger(__name__)

ITEM_FEEDBACK = ("like", "dislike", "seen")
TURN_CONCURRENCY = 2  # turns (chat, retry, compare) running at once; the LLM itself takes them in turn


@dataclass(frozen=True)
class Profile:
    """The settings a person may change from the page. Hashable: it keys the service cache."""

    catalogue: str
    k: int
    backend: str
    model: str
    base_url: str
    prompt_set: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Profile:
        return cls(catalogue=settings.catalogue, k=settings.recommendations, backend=settings.llm.backend,
                   model=settings.llm.model, base_url=settings.llm.base_url, prompt_set=settings.prompt_set)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        names = {f.name for f in fields(cls)}
        missing = sorted(names - set(data))
        if missing:
            raise ValueError(f"profile is missing field(s) {missing}")
        values = {n: data[n] for n in names}
        values["k"] = int(values["k"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def settings(self, base: Settings) -> Settings:
        """``base`` with this profile's values: what :mod:`bot.services` builds the engine from."""
        llm = base.llm.model_copy(update={"backend": self.backend, "model": self.model,
                                          "base_url": self.base_url})
        return base.model_copy(update={"catalogue": self.catalogue, "recommendations": self.k,
                                       "prompt_set": self.prompt_set, "llm": llm})


class AppController:
    """Services, sessions and cancel events for one running app (thread-safe)."""

    def __init__(self, settings: Settings, chat_service: ChatService | None = None,
                 library: PromptLibrary | None = None) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._services: dict[Profile, ChatService] = {}
        self._cancels: dict[str, threading.Event] = {}
        # services.prompt_library(settings) pools the packaged templates with data_dir/prompts (where
        # edited versions are saved); the folder must exist before the library is opened
        (settings.data_dir / "prompts").mkdir(parents=True, exist_ok=True)
        if chat_service is not None:
            cfg = chat_service.config
            self.default_profile = Profile(
                catalogue=chat_service.catalogue, k=cfg.k, backend=settings.llm.backend,
                model=settings.llm.model, base_url=settings.llm.base_url, prompt_set=cfg.prompt_set)
            self.sessions: SessionService = chat_service
            self.library: PromptLibrary = library or chat_service.prompt_library
            if self.library is not chat_service.prompt_library:  # the same service, on the app's templates
                chat_service = chat_service.with_prompts(self.library)
            self._services[self.default_profile] = chat_service
        else:
            self.default_profile = Profile.from_settings(settings)
            self.sessions = services.session_service(settings)
            self.library = library or services.prompt_library(settings)

    # ------------------------------------------------------------------------------ services
    def service(self, profile: Profile | dict[str, Any] | None = None) -> ChatService:
        """The chat service for ``profile`` (default: the app's), built on first use.

        Building one loads what it needs (the index, the LLM) and raises what :mod:`bot.services`
        raises: ``IndexUnavailable`` for a catalogue that is not ingested, ``LLMError`` for a model that
        cannot be loaded, ``PromptError`` for an unknown prompt set.
        """
        if profile is None:
            profile = self.default_profile
        elif isinstance(profile, dict):
            profile = Profile.from_dict(profile)
        with self._lock:
            found = self._services.get(profile)
        if found is not None:
            return found
        self.library.names(profile.prompt_set)  # an unknown set fails here, not mid-turn
        built = services.chat_service(profile.settings(self.settings), profile.catalogue,
                                      prompts=self.library, sessions=self.sessions)
        log.info("built a chat service for %s", profile)
        with self._lock:
            return self._services.setdefault(profile, built)

    # ------------------------------------------------------------------------------ sessions
    def ensure_session(self, catalogue: str, session_id: str | None) -> str:
        """``session_id`` when it exists and is about ``catalogue``, else the id of a new session."""
        if session_id:
            try:
                if self.sessions.get_session(session_id).catalogue == catalogue:
                    return session_id
            except SessionNotFound:
                log.info("session %s is gone; starting a new one", session_id)
        return self.sessions.create_session_for(catalogue, {"source": "app"}).id

    def session_exists(self, session_id: str | None, catalogue: str | None = None) -> bool:
        if not session_id:
            return False
        try:
            session = self.sessions.get_session(session_id)
        except SessionNotFound:
            return False
        return catalogue is None or session.catalogue == catalogue

    def snapshot(self, session_id: str) -> dict[str, Any]:
        """The state before a turn, and how much feedback had been stored by then (see :meth:`restore`)."""
        session = self.sessions.get_session(session_id)
        return {"state": session.state.model_dump_json(),
                "feedback_count": len(self.sessions.feedback_given(session_id))}

    def restore(self, session_id: str, snapshot: dict[str, Any], exclude: list[str] | None = None) -> SessionState:
        """Put the state of ``snapshot`` back, re-applying item feedback stored after it was taken.

        ``exclude``: items the retried turn showed; they count as shown, so Retry gives a different list."""
        state = SessionState.model_validate_json(snapshot["state"])
        for fb in self.sessions.feedback_given(session_id)[int(snapshot["feedback_count"]):]:
            if fb.kind in ITEM_FEEDBACK:
                state.apply_feedback(fb.kind, fb.target)  # type: ignore[arg-type]
        for item_id in exclude or ():
            if item_id not in state.shown_ids:
                state.shown_ids.append(item_id)
        self.sessions.save_state(session_id, state)
        return state

    def item_feedback(self, session_id: str) -> dict[str, str]:
        """The latest like / dislike / seen per item of a session."""
        latest: dict[str, str] = {}
        for fb in self.sessions.feedback_given(session_id):
            if fb.kind in ITEM_FEEDBACK:
                latest[fb.target] = fb.kind
        return latest

    # ------------------------------------------------------------------------------ cancelling
    def begin(self, key: str) -> threading.Event:
        """A fresh cancel event for the run ``key`` (a session id, or ``lab:<session id>``)."""
        event = threading.Event()
        with self._lock:
            self._cancels[key] = event
        return event

    def end(self, key: str, event: threading.Event) -> None:
        with self._lock:
            if self._cancels.get(key) is event:
                del self._cancels[key]

    def stop(self, key: str | None) -> bool:
        """Set the cancel event of the run ``key``; False when nothing is running for it."""
        if not key:
            return False
        with self._lock:
            event = self._cancels.get(key)
        if event is None:
            return False
        event.set()
        return True

    def running(self, key: str) -> bool:
        with self._lock:
            return key in self._cancels
