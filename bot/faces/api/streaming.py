"""Run a blocking conversation turn in a worker thread and hand its events to async code.

:meth:`bot.chat_service.ChatService.stream` is a plain generator that holds the session's lock and
runs the LLM; it must not run on the event loop. :func:`turn_events` runs it start to finish in one
thread (so the lock is taken and released by the same thread) and relays each :class:`TurnEvent`
through an asyncio queue. If the consumer stops early -- the HTTP client went away, the request was
cancelled -- the turn's cancel event is set, the engine stops generating at the next token, and the
turn still ends normally: the reply so far is stored, marked ``cancelled``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator

from bot.chat_service import ChatService, TurnEvent

log = logging.getLogger(__name__)

_END = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


async def turn_events(service: ChatService, session_id: str, text: str) -> AsyncIterator[TurnEvent]:
    """The events of one turn, as they happen. Exceptions of the turn are raised here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    cancel = threading.Event()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            cancel.set()

    def work() -> None:
        try:
            for event in service.stream(session_id, text, cancel):
                put(event)
        except BaseException as exc:  # noqa: BLE001 -- relayed to the consumer, which raises it
            put(_Failed(exc))
        finally:
            put(_END)

    worker = threading.Thread(target=work, name=f"turn-{session_id[:8]}", daemon=True)
    worker.start()
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        if worker.is_alive():
            log.info("turn in session %s abandoned by its client; cancelling it", session_id)
        cancel.set()


async def run_turn(service: ChatService, session_id: str, text: str):  # noqa: ANN201
    """The whole turn; returns its :class:`bot.chat_service.TurnResult`."""
    result = None
    async for event in turn_events(service, session_id, text):
        if event.kind == "done":
            result = event.result
    if result is None:
        raise RuntimeError("the turn ended without a result")
    return result
