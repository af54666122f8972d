"""The recbot chat page (Gradio 6): streamed replies, recommendation cards, settings, a prompt lab.

Layout
------
*Chat* tab: the conversation (``gr.Chatbot``, messages format; thumbs up/down on replies are stored as
``message_up`` / ``message_down`` feedback on the reply's stored message id), a message box with Send,
Stop, Retry and Reset, the recommendation cards of the latest recommending turn (each with Like /
Dislike / Seen it buttons that call :meth:`ChatService.feedback`), a settings panel (catalogue,
number of recommendations, LLM backend and model, prompt set) and the last turn's details as JSON.
*Prompt lab* tab: see :mod:`bot.ui.prompt_lab`.

How a turn flows
----------------
Send runs one generator (:func:`build_app` ``chat``): the user's message shows at once, the cards
as soon as retrieval chose them, then the reply text as the engine streams it. Stop sets the turn's
``threading.Event`` (kept by :class:`~bot.ui.controller.AppController`); the engine and the LLM check
it between tokens, so generation ends within a token and the partial reply is stored as cancelled.
Retry puts the session state back to what it was before the last message and runs it again, with the
cards it showed counted as shown, so it brings a different list. A disliked card leaves the view; each
card's Like / Dislike / Seen buttons sit inside its own box, under it. Each browser tab gets its own
session (its id in ``gr.State``, and in ``gr.BrowserState`` so a reload restores the conversation from
the session store); the settings applied on the page are kept in ``gr.BrowserState`` too and come back
after a reload (when they still load).

API (``gradio_client``)
-----------------------
``/chat`` (message) streams the page's outputs; the one named ``Last turn`` is the turn as JSON
(action, recommendations, cancelled, timings). ``/stop``, ``/retry``, ``/reset``, ``/apply_settings``,
and the lab's ``/lab_fill``, ``/lab_render``, ``/lab_compare``, ``/lab_save`` are public too; a
``gradio_client.Client`` keeps one session across its calls.

Offline
-------
Analytics and the version check are off (``analytics_enabled=False``, ``GRADIO_ANALYTICS_ENABLED``),
the theme's fonts are the ones Gradio ships (``LocalFont``), cards use no remote resources, and
``share`` is never used.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

from bot.chat_service import ChatService
from bot.sessions import SessionNotFound
from bot.settings import Settings
from bot.ui.cards import CARD_CSS, as_card, card_html
from bot.ui.controller import TURN_CONCURRENCY, AppController, Profile
from bot.ui.prompt_lab import build_prompt_lab
from prompts.loader import PromptLibrary

log = logging.getLogger(__name__)

MAX_CARDS = 10  # card slots on the page; the "recommendations" setting goes up to this
THINKING = "…"
CARD_BUTTONS = (("like", "Like"), ("dislike", "Dislike"), ("seen", "Seen it"))
FEEDBACK_WORDS = {"like": "liked", "dislike": "disliked", "seen": "marked as seen"}
BROWSER_KEY = "recbot-session"
PROFILE_KEY = "recbot-settings"  # the settings applied on the page, kept in the browser across reloads
RESET_WAIT_S = 30.0  # how long Reset waits for a stopped turn to finish

# Each slot is one bordered box holding its card and, at its foot, that card's own buttons; slots in a
# row stretch to the same height so every button row lines up under its own card.
APP_CSS = """
#rb-cards { flex-wrap: wrap; gap: 10px; align-items: stretch; }
.rb-slot { min-width: 220px; max-width: 360px; border: 1px solid var(--border-color-primary);
           border-radius: 10px; padding: 6px; gap: 6px; background: var(--background-fill-secondary); }
.rb-slot .rb-card { border: none; padding: 4px 6px; }
.rb-slot > .html-container, .rb-slot > div:first-child { flex-grow: 1; }
.rb-slot .rb-buttons { margin-top: auto; flex-wrap: nowrap; gap: 4px; }
.rb-slot button { min-width: 0; }
"""


def launch_options() -> dict[str, Any]:
    """Theme and CSS for ``Blocks.launch`` (Gradio 6 takes them there, not in ``gr.Blocks``)."""
    return {"theme": gr.themes.Default(), "css": APP_CSS}


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def build_app(settings: Settings, chat_service: ChatService | None = None,
              prompt_library: PromptLibrary | None = None) -> gr.Blocks:
    """The page, ready to ``launch`` (pass :func:`launch_options` there) or mount in FastAPI.

    ``chat_service`` (default: built from ``settings`` through :mod:`bot.services` on first use) serves
    the default settings; other settings chosen on the page get their own service. ``prompt_library``
    (default: the service's engine's) is where the prompt lab reads and saves templates; every engine
    of the app uses it.
    """
    ctrl = AppController(settings, chat_service, prompt_library)
    profile0 = ctrl.default_profile

    with gr.Blocks(title="recbot", analytics_enabled=False) as demo:
        session_id = gr.State(None)
        saved_session = gr.BrowserState(None, storage_key=BROWSER_KEY)
        saved_profile = gr.BrowserState(None, storage_key=PROFILE_KEY)
        profile = gr.State(profile0.to_dict())
        history = gr.State([])  # the chat as messages (the Chatbot is an output only)
        msg_ids = gr.State([])  # the store's message id of each history entry
        last_turn = gr.State(None)  # state snapshot and text of the last turn (Retry, the lab's compare)
        cards = gr.State([])  # the cards shown, as dicts with a "feedback" key

        gr.Markdown("## recbot — tell me what you like, I'll find something")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"), gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(label="Conversation", height=460, elem_id="chat",
                                         feedback_options=("Like", "Dislike"), buttons=["copy"],
                                         placeholder="Say what you are in the mood for, e.g. "
                                                     "*a funny 80s comedy, no horror*.")
                    with gr.Row():
                        msg = gr.Textbox(label="Message", show_label=False, placeholder="Your message",
                                         scale=5, elem_id="msg", autofocus=True, submit_btn=False)
                        send_btn = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                    with gr.Row():
                        stop_btn = gr.Button("Stop", variant="stop", size="sm", elem_id="stop")
                        retry_btn = gr.Button("Retry", size="sm", elem_id="retry")
                        reset_btn = gr.Button("Reset", size="sm", elem_id="reset")
                    status = gr.Markdown(label="Status", elem_id="status")
                    gr.Markdown("#### Recommendations")
                    groups, htmls, slot_buttons = [], [], []
                    with gr.Row(elem_id="rb-cards"):
                        for i in range(MAX_CARDS):
                            with gr.Column(visible=False, min_width=220, elem_id=f"card-{i}",
                                           elem_classes=["rb-slot"]) as group:
                                html = gr.HTML("", css_template=CARD_CSS, js_on_load=None,
                                               elem_id=f"card-{i}-html")
                                with gr.Row(elem_classes=["rb-buttons"]):
                                    buttons = {k: gr.Button(text, size="sm", elem_id=f"card-{i}-{k}")
                                               for k, text in CARD_BUTTONS}
                            groups.append(group)
                            htmls.append(html)
                            slot_buttons.append(buttons)
                with gr.Column(scale=1, min_width=260):
                    with gr.Accordion("Settings", open=True):
                        catalogue_dd = gr.Dropdown(_catalogue_choices(profile0.catalogue),
                                                   value=profile0.catalogue, label="Catalogue",
                                                   allow_custom_value=True)
                        k_slider = gr.Slider(1, MAX_CARDS, value=min(profile0.k, MAX_CARDS), step=1,
                                             label="Recommendations per turn", elem_id="k-slider")
                        backend_dd = gr.Dropdown(_backend_choices(), value=profile0.backend,
                                                 label="LLM backend")
                        model_dd = gr.Dropdown(_model_choices(profile0.model), value=profile0.model,
                                               label="Model", allow_custom_value=True)
                        base_url_tb = gr.Textbox(profile0.base_url, label="Server URL (openai backend)")
                        set_dd = gr.Dropdown(ctrl.library.sets(), value=profile0.prompt_set,
                                             label="Prompt set")
                        apply_btn = gr.Button("Apply", elem_id="apply")
                        settings_status = gr.Markdown(label="Settings status", elem_id="settings-status")
                        runtime_md = gr.Markdown("", label="Runtime", elem_id="runtime")  # filled on load
                    with gr.Accordion("Last turn", open=False):
                        turn_json = gr.JSON(label="Last turn", elem_id="turn-json")
            with gr.Tab("Prompt lab", id="lab"):
                build_prompt_lab(ctrl, session_id, profile, last_turn)

        # ------------------------------------------------------------------ helpers
        def slot_updates(shown: list[dict[str, Any]]) -> dict[Any, Any]:
            out: dict[Any, Any] = {}
            for i in range(MAX_CARDS):
                if i < len(shown):
                    out[groups[i]] = gr.update(visible=True)
                    out[htmls[i]] = card_html(shown[i], shown[i].get("feedback"))
                else:
                    out[groups[i]] = gr.update(visible=False)
                    out[htmls[i]] = ""
            return out

        def cleared(note: str) -> dict[Any, Any]:
            return {chatbot: [], history: [], msg_ids: [], cards: [], last_turn: None, turn_json: None,
                    status: note, **slot_updates([])}

        def run_turn(text: str, sid: str | None, prof: dict[str, Any], hist: list[dict[str, str]],
                     ids: list[int | None], shown: list[dict[str, Any]]) -> Iterator[dict[Any, Any]]:
            service = ctrl.service(prof)
            sid = ctrl.ensure_session(service.catalogue, sid)
            snapshot = {**ctrl.snapshot(sid), "text": text, "history_len": len(hist)}
            hist = [*hist, _user(text), _assistant(THINKING)]
            ids = [*ids, None, None]
            cancel = ctrl.begin(sid)  # before the first yield: Stop works from the moment the message shows
            try:  # the turn counts as running until its last update is out (Reset waits for that)
                yield {msg: "", chatbot: hist, history: hist, session_id: sid, saved_session: sid,
                       msg_ids: ids, last_turn: snapshot, status: ""}
                parts: list[str] = []
                result = None
                for event in service.stream(sid, text, cancel):
                    if event.kind == "recommendations":
                        shown = [{**as_card(r), "feedback": None} for r in event.recommendations]
                        yield {cards: shown, **slot_updates(shown)}
                    elif event.kind == "text":
                        parts.append(event.text)
                        hist = [*hist[:-1], _assistant("".join(parts).strip() or THINKING)]
                        yield {chatbot: hist, history: hist}
                    elif event.kind == "done":
                        result = event.result
                assert result is not None
                reply = result.text
                if result.cancelled:
                    reply = (reply + "\n\n" if reply else "") + "*(stopped)*"
                if result.degraded:
                    reply += f"\n\n*({result.degraded})*"
                hist = [*hist[:-1], _assistant(reply)]
                ids = [*ids[:-2], *[m.id for m in ctrl.store.messages(sid)[-2:]]]
                turn = {"session_id": sid, **result.to_dict()}
                yield {chatbot: hist, history: hist, msg_ids: ids, turn_json: turn,
                       status: "Stopped." if result.cancelled else ""}
            finally:
                ctrl.end(sid, cancel)

        def guarded(turns: Iterator[dict[Any, Any]], hist: list[dict[str, str]],
                    ids: list) -> Iterator[dict[Any, Any]]:
            """Show a failure (no index, model not loadable…) in the page instead of a bare error modal."""
            try:
                yield from turns
            except Exception as exc:  # the UI boundary: every failure must reach the person
                log.exception("turn failed")
                failed = [*hist, _assistant(f"Sorry, that failed: {exc}")]
                yield {chatbot: failed, history: failed, msg_ids: [*ids, None, None],
                       status: f"**Error:** {exc}"}

        # ------------------------------------------------------------------ chat
        turn_outputs = [msg, chatbot, history, session_id, saved_session, msg_ids, last_turn, cards,
                        turn_json, status, *groups, *htmls]

        def chat(text: str, sid: str | None, prof: dict[str, Any], hist: list, ids: list, shown: list):
            text = (text or "").strip()
            if not text:
                yield {status: "Type a message first."}
                return
            if sid and ctrl.running(sid):
                yield {status: "Still answering the last message: wait, or press Stop."}
                return
            yield from guarded(run_turn(text, sid, prof, hist, ids, shown), [*hist, _user(text)], ids)

        gr.on([msg.submit, send_btn.click], chat, [msg, session_id, profile, history, msg_ids, cards],
              turn_outputs, api_name="chat", show_progress="hidden", concurrency_id="turn",
              concurrency_limit=TURN_CONCURRENCY)

        def stop(sid: str | None) -> str:
            return "Stopping…" if ctrl.stop(sid) else "Nothing is running."

        stop_btn.click(stop, session_id, status, api_name="stop", concurrency_limit=None,
                       show_progress="hidden")

        def retry(sid: str | None, prof: dict[str, Any], hist: list, ids: list, shown: list,
                  turn: dict | None):
            if not turn or not ctrl.session_exists(sid):
                yield {status: "Nothing to retry yet."}
                return
            assert sid is not None
            if ctrl.running(sid):
                yield {status: "Still answering: press Stop first."}
                return
            ctrl.restore(sid, turn, exclude=[c["id"] for c in shown if c.get("id")])  # a different list
            n = int(turn["history_len"])
            yield from guarded(run_turn(turn["text"], sid, prof, hist[:n], ids[:n], shown),
                               [*hist[:n], _user(turn["text"])], ids[:n])

        retry_inputs = [session_id, profile, history, msg_ids, cards, last_turn]
        gr.on([retry_btn.click, chatbot.retry], retry, retry_inputs, turn_outputs, api_name="retry",
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
            return {**cleared("Preferences forgotten: let's start over."), saved_session: None}

        reset_btn.click(reset, [session_id, profile], turn_outputs, api_name="reset")
        chatbot.clear(reset, [session_id, profile], turn_outputs, api_visibility="private")  # the bin icon

        # ------------------------------------------------------------------ feedback
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
            ctrl.store.add_feedback(sid, kind, str(target))
            return "Thanks for the feedback."

        chatbot.like(on_message_feedback, [session_id, msg_ids], status, api_visibility="undocumented",
                     concurrency_limit=None, show_progress="hidden")

        def card_handler(i: int, kind: str):
            def handle(sid: str | None, prof: dict[str, Any], shown: list[dict[str, Any]]) -> dict[Any, Any]:
                if i >= len(shown) or not sid:
                    return {status: "That card is gone."}
                card = shown[i]
                try:
                    ctrl.service(prof).feedback(sid, kind, card["id"])  # type: ignore[arg-type]
                except (KeyError, SessionNotFound) as exc:
                    return {status: f"**Error:** {exc}"}
                label = card.get("label") or card.get("title")
                note = f"Noted: {label} {FEEDBACK_WORDS[kind]}. The next recommendations use it."
                if kind == "dislike":  # a disliked card leaves the view
                    shown = [*shown[:i], *shown[i + 1:]]
                    return {cards: shown, status: note, **slot_updates(shown)}
                shown = [*shown[:i], {**card, "feedback": kind}, *shown[i + 1:]]
                return {cards: shown, htmls[i]: card_html(shown[i], kind), status: note}
            return handle

        for i, buttons in enumerate(slot_buttons):
            for kind, button in buttons.items():
                button.click(card_handler(i, kind), [session_id, profile, cards], [cards, status, *groups, *htmls],
                             api_visibility="undocumented", concurrency_limit=None, show_progress="hidden")

        # ------------------------------------------------------------------ settings
        def apply_settings(catalogue: str, k: float, backend: str, model: str, base_url: str, prompt_set: str,
                           prof: dict[str, Any]) -> dict[Any, Any]:
            new = Profile(catalogue=(catalogue or "").strip(), k=int(k), backend=backend,
                          model=(model or "").strip(), base_url=(base_url or "").strip(),
                          prompt_set=prompt_set)
            old = Profile.from_dict(prof)
            try:
                if new.catalogue != old.catalogue:
                    from bot.catalogues import ensure_indexed

                    ensure_indexed(new.settings(ctrl.settings), new.catalogue)
                ctrl.service(new)
            except Exception as exc:  # the UI boundary: show why the settings cannot be used
                log.warning("settings %s rejected: %s", new, exc)
                return {settings_status: f"**Not applied:** {exc}"}
            out: dict[Any, Any] = {profile: new.to_dict(), saved_profile: new.to_dict(),
                                   settings_status: f"Applied: {_describe(new)}.",
                                   runtime_md: _runtime(ctrl.service(new))}
            if new.catalogue != old.catalogue:
                out.update(cleared(f"Now recommending from **{new.catalogue}**."))
                out[session_id] = None
                out[saved_session] = None
            return out

        settings_inputs = [catalogue_dd, k_slider, backend_dd, model_dd, base_url_tb, set_dd, profile]
        apply_btn.click(apply_settings, settings_inputs,
                        [profile, saved_profile, settings_status, runtime_md, *turn_outputs],
                        api_name="apply_settings")

        # ------------------------------------------------------------------ reload
        def restore(saved: str | None, saved_prof: dict[str, Any] | None, prof: dict[str, Any]) -> dict[Any, Any]:
            out: dict[Any, Any] = {}
            if saved_prof:  # the settings applied before the reload, if they still load
                try:
                    kept = Profile.from_dict(saved_prof)
                    ctrl.service(kept)
                    prof = kept.to_dict()
                    out = {profile: prof, catalogue_dd: kept.catalogue, k_slider: kept.k, backend_dd: kept.backend,
                           model_dd: kept.model, base_url_tb: kept.base_url, set_dd: kept.prompt_set,
                           settings_status: f"Settings kept from your last visit: {_describe(kept)}."}
                except Exception as exc:  # the UI boundary: stale settings fall back to the defaults
                    log.info("saved settings not usable (%s); using the defaults", exc)
            try:  # what serves the page: built by the first visit (nothing loads to build the page)
                out[runtime_md] = _runtime(ctrl.service(Profile.from_dict(prof)))
            except Exception as exc:  # the UI boundary: the first turn reports what is wrong
                log.info("runtime status not available yet: %s", exc)
            catalogue = Profile.from_dict(prof).catalogue
            if not ctrl.session_exists(saved, catalogue):
                return {**out, session_id: None}
            assert saved is not None
            stored = ctrl.store.messages(saved)
            hist = [_user(m.text) if m.role == "user" else _assistant(m.text) for m in stored]
            ids = [m.id for m in stored]
            feedback = ctrl.item_feedback(saved)
            shown: list[dict[str, Any]] = []
            for m in stored:
                if m.role == "assistant" and m.data.get("recommendations"):
                    shown = [{**c, "feedback": feedback.get(c["id"])} for c in m.data["recommendations"]]
            return {**out, session_id: saved, chatbot: hist, history: hist, msg_ids: ids, cards: shown,
                    **slot_updates(shown)}

        demo.load(restore, [saved_session, saved_profile, profile],
                  [session_id, chatbot, history, msg_ids, cards, *groups, *htmls, profile, catalogue_dd, k_slider,
                   backend_dd, model_dd, base_url_tb, set_dd, settings_status, runtime_md], api_visibility="private")
    demo.recbot = ctrl  # type: ignore[attr-defined]  # for tests and embedding apps
    return demo


RANKERS = {"learned": "learned ranker trained for this catalogue", "transfer": "learned transfer ranker (packaged)",
           "none": "retrieval scores only (no learned ranker)"}


def _runtime(service: Any) -> str:
    """What serves this page: the ranker and the state of the language model."""
    llm = service.llm_status()
    state = llm["state"] + (f" ({llm['detail']})" if llm["state"] != "ready" and llm["detail"] else "")
    ranker = service.ranker_name()
    return f"Ranking: **{RANKERS.get(ranker, ranker)}** · LLM: {llm['name']}, {state}"


def _describe(p: Profile) -> str:
    return f"{p.catalogue}, {p.k} per turn, {p.backend}:{p.model}, prompt set {p.prompt_set}"


def _catalogue_choices(current: str) -> list[str]:
    from retrieval.catalogue import list_bundled

    names = [name for name, _ in list_bundled()]
    return names if current in names else [current, *names]


def _backend_choices() -> list[str]:
    from bot.llm.factory import BACKENDS

    return list(BACKENDS)


def _model_choices(current: str) -> list[str]:
    from bot.llm.models import PACKAGED_MODELS

    names = list(PACKAGED_MODELS)
    return names if current in names else [current, *names]


def launch(settings: Settings, *, host: str = "127.0.0.1", port: int = 7860,
           chat_service: ChatService | None = None, prompt_library: PromptLibrary | None = None,
           block: bool = True) -> gr.Blocks:
    """Build and serve the page on ``host:port`` (never shared through Gradio's tunnel).

    ``block=False`` returns once the server runs (tests, notebooks); call ``demo.close()`` to stop it.
    """
    demo = build_app(settings, chat_service, prompt_library)
    demo.queue(default_concurrency_limit=TURN_CONCURRENCY)
    demo.launch(server_name=host, server_port=port, share=False, show_error=True, ssr_mode=False, quiet=True,
                prevent_thread_lock=not block, footer_links=["api", "settings"], **launch_options())
    return demo


def mount(app: Any, settings: Settings, *, path: str = "/ui", chat_service: ChatService | None = None,
          prompt_library: PromptLibrary | None = None) -> Any:
    """Mount the page on a FastAPI ``app`` at ``path`` (e.g. beside the HTTP API); returns ``app``."""
    demo = build_app(settings, chat_service, prompt_library)
    demo.queue(default_concurrency_limit=TURN_CONCURRENCY)
    return gr.mount_gradio_app(app, demo, path=path, ssr_mode=False, footer_links=["api", "settings"],
                               **launch_options())
