"""The one interface every chat-model backend implements, and the small helpers they share.

The dialogue engine only sees :class:`LLM`: it sends a list of :class:`ChatMessage` and a
:class:`GenerationConfig`, and reads text pieces from :meth:`LLM.stream` as the model writes them.
A ``threading.Event`` passed as ``cancel`` stops a generation between two pieces (the user pressed
Stop, or the client went away); the iterator then simply ends.

Backends raise :class:`LLMError` for every failure a user can act on (a package or model file is
missing, a server is unreachable or answers with an error, a request times out), with a message that
names the file, package or URL involved.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")
log = logging.getLogger(__name__)


class LLMError(Exception):
    """A failure of an LLM backend that the user can act on; the message says what and where."""


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a chat. ``role`` is ``system``, ``user`` or ``assistant``."""

    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"ChatMessage.role must be one of {ROLES}, got {self.role!r}")
        if not isinstance(self.content, str):
            raise TypeError(f"ChatMessage.content must be str, got {type(self.content).__name__}")

    def as_dict(self) -> dict[str, str]:
        """The OpenAI / llama.cpp wire form ``{"role": ..., "content": ...}``."""
        return {"role": self.role, "content": self.content}


@dataclass
class GenerationConfig:
    """How to sample one answer.

    ``temperature`` 0 means greedy decoding. ``stop`` strings end the answer and are not part of it.
    ``seed`` makes sampling repeatable where the backend supports it. ``json_schema`` asks for a JSON
    answer matching that schema: enforced by a grammar where the backend can (llama.cpp,
    OpenAI-compatible servers with ``response_format``); elsewhere (``LLM.supports_json_schema`` is
    False) the caller's prompt must ask for JSON and the caller must validate it.
    """

    max_tokens: int = 256
    temperature: float = 0.3
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    json_schema: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"GenerationConfig.max_tokens must be >= 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise ValueError(f"GenerationConfig.temperature must be >= 0, got {self.temperature}")


class LLM(ABC):
    """A chat model that streams its answer as text pieces.

    Implementations are thread-safe: concurrent calls on one in-process model queue behind a lock
    rather than fail. A stream holds that lock until it is exhausted or closed, so consumers that stop
    reading early should ``close()`` the iterator (a ``for`` loop that breaks, followed by the iterator
    going out of scope, does this in CPython) or, better, set ``cancel``.
    """

    name: str
    supports_json_schema: bool = False

    def stream(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield the answer's text pieces as they are generated; end early once ``cancel`` is set.
        Raises :class:`LLMError` at once when ``messages`` cannot be sent."""
        wire = check_messages(messages)
        if config.json_schema is not None and not self.supports_json_schema:
            log.debug("%s: json_schema is not enforced by this backend", self.name)
        return self._stream(wire, config, cancel)

    @abstractmethod
    def _stream(
        self, wire: list[dict[str, str]], config: GenerationConfig, cancel: threading.Event | None
    ) -> Iterator[str]:
        """The backend's generation, over checked messages in their wire form (``{"role", "content"}``)."""

    def complete(
        self,
        messages: Sequence[ChatMessage],
        config: GenerationConfig,
        cancel: threading.Event | None = None,
    ) -> str:
        """The whole answer (what :meth:`stream` yields, joined)."""
        return "".join(self.stream(messages, config, cancel))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def check_messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """Validate a message list and return its wire form; raises :class:`LLMError` when unusable."""
    if not messages:
        raise LLMError("no messages to send: the chat must hold at least one message")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, ChatMessage):
            raise LLMError(f"messages[{i}] is a {type(message).__name__}, expected ChatMessage")
        out.append(message.as_dict())
    return out


def is_cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


class StopStringFilter:
    """Cut a stream of text pieces at the first stop string, never emitting any part of it.

    Backends whose engine does not apply stop strings itself feed every piece through :meth:`push`
    and emit what it returns; text that could still be the start of a stop string is held back until
    the next piece decides. :attr:`stopped` turns True once a stop string was seen: the backend should
    then end generation. :meth:`flush` returns the held-back tail at the end of the stream.
    """

    def __init__(self, stops: Iterable[str]) -> None:
        self.stops = [s for s in stops if s]
        self._held = ""
        self.stopped = False

    def push(self, piece: str) -> str:
        if self.stopped:
            return ""
        if not self.stops:
            return piece
        text = self._held + piece
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._held = ""
            return text[:cut]
        keep = self._longest_stop_prefix_suffix(text)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _longest_stop_prefix_suffix(self, text: str) -> int:
        """Length of the longest suffix of ``text`` that is a proper prefix of some stop string."""
        best = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(text)), best, -1):
                if text.endswith(stop[:n]):
                    best = n
                    break
        return best
