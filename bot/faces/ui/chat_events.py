"""What the chat tab does: turns (Send, Retry), Stop, Reset, and feedback on replies and cards.

:func:`wire_chat_events` registers the handlers on a :class:`~bot.faces.ui.layout.ChatView`. Every handler
talks to recbot through the :class:`~bot.faces.ui.controller.AppController` only: the chat service of the
tab's settings for turns and item feedback, the controller's sessions for everything else.

A turn (:func:`wire_chat_events` ``run_turn``) shows the user's message at once, the cards as soon as
retrieval chose them, then the reply text as the engine streams it. Stop sets the turn's
``threading.Event``; Retry puts the session state back to what it was before the last message and runs
it again with the cards it showed counted as shown; a disliked card leaves the view.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from bot.sessions import SessionNotFound
from bot.faces.ui.cards import as_card, card_html
from bot.faces.ui.controller import TURN_CONCURRENCY, AppController
from bot.faces.ui.layout import ChatView

log = logging.getLogger(__name__)

THINKING = "…"
FEEDBACK_WORDS = {"like": "liked", "dislike": "disliked", "seen": "marked as seen"}
RESET_WAIT_S = 30.0  # how long Reset waits for a stopped turn to finish


def as_user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def as_assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def wire_chat_events(ctrl: AppController, v: ChatView) -> None:
    """Register the chat tab's events (public API names ``chat``, ``stop``, ``retry``, ``reset``)."""

    def run_turn(text: str, sid: str | None, prof: dict[str, Any], hist: list[dict[str, str]],
                 ids: list[int | None], shown: list[dict[str, Any]]) -> Iterator[dict[Any, Any]]:
        service = ctrl.service(prof)
        sid = ctrl.ensure_session(service.catalogue, sid)
        snapshot = {**ctrl.snapshot(sid), "text": text, "history_len": len(hist)}
        hist = [*hist, as_user(text), as_assistant(THINKING)]
        ids = [*ids, None, None]
        cancel = ctrl.begin(sid)  # before the first yield: Stop works from the moment the message shows
        try:  # the turn counts as running until its last update is out (Reset waits for that)
            yield {v.msg: "", v.chatbot: hist, v.history: hist, v.session_id: sid, v.saved_session: sid,
                   v.msg_ids: ids, v.last_turn: snapshot, v.status: ""}
            parts: list[str] = []
            result = None
            for event in service.stream(sid, text, cancel):
                if event.kind == "recommendations":
                    shown = [{**as_card(r), "feedback": None} for r in event.recommendations]
                    yield {v.cards: shown, **v.slot_updates(shown)}
                elif event.kind == "text":
                    parts.append(event.text)
                    hist = [*hist[:-1], as_assistant("".join(parts).strip() or THINKING)]
                    yield {v.chatbot: hist, v.history: hist}
                elif event.kind == "done":
                    result = event.result
            assert result is not None
            reply = result.text
            if result.cancelled:
                reply = (reply + "\n\n" if reply else "") + "*(stopped)*"
            if result.degraded:
                reply += f"\n\n*({result.degraded})*"
            hist = [*hist[:-1], as_assistant(reply)]
            ids = [*ids[:-2], *[m.id for m in ctrl.sessions.messages(sid)[-2:]]]
            turn = {"session_id": sid, **result.to_dict()}
            yield {v.chatbot: hist, v.history: hist, v.msg_ids: ids, v.turn_json: turn,
                   v.status: "Stopped." if result.cancelled else ""}
        finally:
            ctrl.end(sid, cancel)

    def guarded(turns: Iterator[dict[Any, Any]], hist: list[dict[str, str]],
                ids: list) -> Iterator[dict[Any, Any]]:
        """Show a failure (no index, model not loadable…) in the page instead of a bare error modal."""
        try:
            yield from turns
        except Exception as exc:  # the UI boundary: every failure must reach the person
            log.exception("turn failed")
            failed = [*hist, as_assistant(f"Sorry, that failed: {exc}")]
            yield {v.chatbot: failed, v.history: failed, v.msg_ids: [*ids, None, None],
                   v.status: f"**Error:** {exc}"}

    # ------------------------------------------------------------------ chat
    turn_outputs = v.turn_outputs

    def chat(text: str, sid: str | None, prof: dict[str, Any], hist: list, ids: list, shown: list,
             saved: str | None = None):
        text = (text or "").strip()
        sid = sid or saved  # sent before the page's load event restored the saved conversation: continue it
        if not text:
            yield {v.status: "Type a message first."}
            return
        if sid and ctrl.running(sid):
            yield {v.status: "Still answering the last message: wait, or press Stop."}
            return
        yield from guarded(run_turn(text, sid, prof, hist, ids, shown), [*hist, as_user(text)], ids)

    chat_inputs = [v.msg, v.session_id, v.profile, v.history, v.msg_ids, v.cards, v.saved_session]
    gr.on([v.msg.submit, v.send_btn.click], chat, chat_inputs, turn_outputs, api_name="chat",
          show_progress="hidden", concurrency_id="turn", concurrency_limit=TURN_CONCURRENCY)

    def stop(sid: str | None) -> str:
        return "Stopping…" if ctrl.stop(sid) else "Nothing is running."

    v.stop_btn.click(stop, v.session_id, v.status, api_name="stop", concurrency_limit=None,
                     show_progress="hidden")

    def retry(sid: str | None, prof: dict[str, Any], hist: list, ids: list, shown: list, turn: dict | None):
        if not turn or not ctrl.session_exists(sid):
            yield {v.status: "Nothing to retry yet."}
            return
        assert sid is not None
        if ctrl.running(sid):
            yield {v.status: "Still answering: press Stop first."}
            return
        ctrl.restore(sid, turn, exclude=[c["id"] for c in shown if c.get("id")])  # a different list
        n = int(turn["history_len"])
        yield from guarded(run_turn(turn["text"], sid, prof, hist[:n], ids[:n], shown),
                           [*hist[:n], as_user(turn["text"])], ids[:n])

    retry_inputs = [v.session_id, v.profile, v.history, v.msg_ids, v.cards, v.last_turn]
    gr.on([v.retry_btn.click, v.chatbot.retry], retry, retry_inputs, turn_outputs, api_name="retry",
          show_progress="hidden", concurrency_id="turn", concurrency_limit=TURN_CONCURRENCY)

    def reset(sid: str | None, prof: dict[str, Any]) -> dict[Any, Any]:
        if ctrl.session_exists(sid):
            assert sid is not None
            if ctrl.stop(sid):  # let the stopped turn send its last update before the page is cleared
                deadline = time.monotonic() + RESET_WAIT_S
                while ctrl.running(sid) and time.monotonic() < deadline:
                    time.sleep(0.05)
            ctrl.service(prof).reset(sid)
        # the store keeps the history; the page starts clean and a reload does not bring it back
        return {**v.cleared("Preferences forgotten: let's start over."), v.saved_session: None}

    v.reset_btn.click(reset, [v.session_id, v.profile], turn_outputs, api_name="reset")
    v.chatbot.clear(reset, [v.session_id, v.profile], turn_outputs, api_visibility="private")  # the bin icon

    _wire_feedback(ctrl, v)


def _wire_feedback(ctrl: AppController, v: ChatView) -> None:
    """Thumbs up / down on replies (stored on the reply's message id); Like / Dislike / Seen on cards."""

    def on_message_feedback(data: gr.LikeData, sid: str | None, ids: list) -> str:
        index = data.index if isinstance(data.index, int) else data.index[0]
        if data.liked is True:
            kind = "message_up"
        elif data.liked is False:
            kind = "message_down"
        else:
            return "Feedback cleared."
        target = ids[index] if 0 <= index < len(ids) else None
        if not sid or target is None:
            return "Only finished replies can be rated."
        ctrl.sessions.rate_message(sid, kind, target)
        return "Thanks for the feedback."

    v.chatbot.like(on_message_feedback, [v.session_id, v.msg_ids], v.status, api_visibility="undocumented",
                   concurrency_limit=None, show_progress="hidden")

    def card_handler(i: int, kind: str):
        def handle(sid: str | None, prof: dict[str, Any], shown: list[dict[str, Any]]) -> dict[Any, Any]:
            if i >= len(shown) or not sid:
                return {v.status: "That card is gone."}
            card = shown[i]
            try:
                ctrl.service(prof).feedback(sid, kind, card["id"])  # type: ignore[arg-type]
            except (KeyError, SessionNotFound) as exc:
                return {v.status: f"**Error:** {exc}"}
            label = card.get("label") or card.get("title")
            note = f"Noted: {label} {FEEDBACK_WORDS[kind]}. The next recommendations use it."
            if kind == "dislike":  # a disliked card leaves the view
                shown = [*shown[:i], *shown[i + 1:]]
                return {v.cards: shown, v.status: note, **v.slot_updates(shown)}
            shown = [*shown[:i], {**card, "feedback": kind}, *shown[i + 1:]]
            return {v.cards: shown, v.htmls[i]: card_html(shown[i], kind), v.status: note}
        return handle

    for i, buttons in enumerate(v.slot_buttons):
        for kind, button in buttons.items():
            button.click(card_handler(i, kind), [v.session_id, v.profile, v.cards],
                         [v.cards, v.status, *v.groups, *v.htmls],
                         api_visibility="undocumented", concurrency_limit=None, show_progress="hidden")
