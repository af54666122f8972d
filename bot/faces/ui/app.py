"""The recbot chat page (Gradio 6): streamed replies, recommendation cards, settings, a prompt lab.

Layout
------
*Chat* tab: the conversation (``gr.Chatbot``, messages format; thumbs up/down on replies are stored as
``message_up`` / ``message_down`` feedback on the reply's stored message id), a message box with Send,
Stop, Retry and Reset, the recommendation cards of the latest recommending turn (each with Like /
Dislike / Seen it buttons that call :meth:`ChatService.feedback`), a settings panel (catalogue,
number of recommendations, LLM backend and model, prompt set) and the last turn's details as JSON.
*Prompt lab* tab: see :mod:`bot.faces.ui.prompt_lab`.

How a turn flows
----------------
Send runs one generator (:mod:`bot.faces.ui.chat_events`): the user's message shows at once, the cards
as soon as retrieval chose them, then the reply text as the engine streams it. Stop sets the turn's
``threading.Event`` (kept by :class:`~bot.faces.ui.controller.AppController`); the engine and the LLM check
it between tokens, so generation ends within a token and the partial reply is stored as cancelled.
Retry puts the session state back to what it was before the last message and runs it again, with the
cards it showed counted as shown, so it brings a different list. A disliked card leaves the view; each
card's Like / Dislike / Seen buttons sit inside its own box, under it. Each browser tab gets its own
session (its id in ``gr.State``, and in ``gr.BrowserState`` so a reload restores the conversation from
the session store); the settings applied on the page are kept in ``gr.BrowserState`` too and come back
after a reload (when they still load).

Modules
-------
:mod:`bot.faces.ui.layout` places the chat tab's components, :mod:`bot.faces.ui.chat_events` (turns, Stop,
Retry, Reset, feedback) and :mod:`bot.faces.ui.settings_events` (Apply, page load) wire what they do,
:mod:`bot.faces.ui.prompt_lab` is the lab tab, :mod:`bot.faces.ui.controller` holds the services, sessions and
cancel events (the page reaches recbot only through it: :class:`~bot.chat_service.ChatService` and
:class:`~bot.chat_service.SessionService`), and :mod:`bot.faces.ui.cards` draws the cards.

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

import os
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

from bot.chat_service import ChatService
from bot.settings import Settings
from bot.faces.ui.chat_events import wire_chat_events
from bot.faces.ui.controller import TURN_CONCURRENCY, AppController
from bot.faces.ui.layout import APP_CSS, MAX_CARDS, build_chat_tab, session_states
from bot.faces.ui.prompt_lab import build_prompt_lab
from bot.faces.ui.settings_events import wire_settings_events
from prompts.loader import PromptLibrary

__all__ = ["MAX_CARDS", "build_app", "launch", "launch_options", "mount"]


def launch_options() -> dict[str, Any]:
    """Theme and CSS for ``Blocks.launch`` (Gradio 6 takes them there, not in ``gr.Blocks``)."""
    return {"theme": gr.themes.Default(), "css": APP_CSS}


def build_app(settings: Settings, chat_service: ChatService | None = None,
              prompt_library: PromptLibrary | None = None) -> gr.Blocks:
    """The page, ready to ``launch`` (pass :func:`launch_options` there) or mount in FastAPI.

    ``chat_service`` (default: built from ``settings`` through :mod:`bot.services` on first use) serves
    the default settings; other settings chosen on the page get their own service. ``prompt_library``
    (default: the service's) is where the prompt lab reads and saves templates; every service of the
    app uses it.
    """
    ctrl = AppController(settings, chat_service, prompt_library)
    profile0 = ctrl.default_profile

    with gr.Blocks(title="recbot", analytics_enabled=False) as demo:
        view = session_states(profile0)
        gr.Markdown("## recbot — tell me what you like, I'll find something")
        with gr.Tabs():
            build_chat_tab(view, profile0, ctrl.library.sets())
            with gr.Tab("Prompt lab", id="lab"):
                build_prompt_lab(ctrl, view.session_id, view.profile, view.last_turn)
        wire_chat_events(ctrl, view)
        wire_settings_events(ctrl, demo, view)
    demo.recbot = ctrl  # type: ignore[attr-defined]  # for tests and embedding apps
    return demo


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
