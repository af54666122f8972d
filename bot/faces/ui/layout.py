"""The chat tab's components: where everything sits on the page, and nothing of what it does.

:func:`build_chat_tab` adds the *Chat* tab's components to the current ``gr.Blocks`` and returns them
as a :class:`ChatView`; the events that bring them to life are wired by :mod:`bot.faces.ui.chat_events`
and :mod:`bot.faces.ui.settings_events`. The view also knows how to show a list of cards
(:meth:`ChatView.slot_updates`) and an empty conversation (:meth:`ChatView.cleared`), which both use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from bot.faces.ui.cards import CARD_CSS, card_html
from bot.faces.ui.controller import Profile

MAX_CARDS = 10  # card slots on the page; the "recommendations" setting goes up to this
CARD_BUTTONS = (("like", "Like"), ("dislike", "Dislike"), ("seen", "Seen it"))
BROWSER_KEY = "recbot-session"
PROFILE_KEY = "recbot-settings"  # the settings applied on the page, kept in the browser across reloads

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


@dataclass
class ChatView:
    """The per-tab state (``gr.State`` / ``gr.BrowserState``) and the components of the chat tab."""

    # per browser tab: plain values only
    session_id: gr.State
    saved_session: gr.BrowserState
    saved_profile: gr.BrowserState
    profile: gr.State
    history: gr.State  # the chat as messages (the Chatbot is an output only)
    msg_ids: gr.State  # the store's message id of each history entry
    last_turn: gr.State  # state snapshot and text of the last turn (Retry, the lab's compare)
    cards: gr.State  # the cards shown, as dicts with a "feedback" key
    # the conversation
    chatbot: Any = None
    msg: Any = None
    send_btn: Any = None
    stop_btn: Any = None
    retry_btn: Any = None
    reset_btn: Any = None
    status: Any = None
    groups: list[Any] = field(default_factory=list)  # one card slot each
    htmls: list[Any] = field(default_factory=list)
    slot_buttons: list[dict[str, Any]] = field(default_factory=list)  # {feedback kind: button} per slot
    # the settings panel: one input per Profile field, in Profile's field order (catalogue, k, backend,
    # model, base_url, prompt_set)
    profile_inputs: list[Any] = field(default_factory=list)
    apply_btn: Any = None
    settings_status: Any = None
    runtime_md: Any = None
    turn_json: Any = None

    @property
    def turn_outputs(self) -> list[Any]:
        """What a turn (and Reset, and a catalogue change) may update."""
        return [self.msg, self.chatbot, self.history, self.session_id, self.saved_session, self.msg_ids,
                self.last_turn, self.cards, self.turn_json, self.status, *self.groups, *self.htmls]

    def slot_updates(self, shown: list[dict[str, Any]]) -> dict[Any, Any]:
        """The card slots showing ``shown`` (cards as dicts), the rest hidden."""
        out: dict[Any, Any] = {}
        for i in range(MAX_CARDS):
            if i < len(shown):
                out[self.groups[i]] = gr.update(visible=True)
                out[self.htmls[i]] = card_html(shown[i], shown[i].get("feedback"))
            else:
                out[self.groups[i]] = gr.update(visible=False)
                out[self.htmls[i]] = ""
        return out

    def cleared(self, note: str) -> dict[Any, Any]:
        """An empty conversation with ``note`` in the status line."""
        return {self.chatbot: [], self.history: [], self.msg_ids: [], self.cards: [], self.last_turn: None,
                self.turn_json: None, self.status: note, **self.slot_updates([])}


def session_states(profile0: Profile) -> ChatView:
    """The per-tab values, created in the current ``gr.Blocks`` (before any tab)."""
    return ChatView(
        session_id=gr.State(None),
        saved_session=gr.BrowserState(None, storage_key=BROWSER_KEY),
        saved_profile=gr.BrowserState(None, storage_key=PROFILE_KEY),
        profile=gr.State(profile0.to_dict()),
        history=gr.State([]),
        msg_ids=gr.State([]),
        last_turn=gr.State(None),
        cards=gr.State([]),
    )


def build_chat_tab(view: ChatView, profile0: Profile, prompt_sets: list[str]) -> None:
    """Fill ``view`` with the chat tab's components, created in the current ``gr.Tabs`` context."""
    with gr.Tab("Chat", id="chat"), gr.Row():
        with gr.Column(scale=3):
            view.chatbot = gr.Chatbot(label="Conversation", height=460, elem_id="chat",
                                      feedback_options=("Like", "Dislike"), buttons=["copy"],
                                      placeholder="Say what you are in the mood for, e.g. "
                                                  "*a funny 80s comedy, no horror*.")
            with gr.Row():
                view.msg = gr.Textbox(label="Message", show_label=False, placeholder="Your message",
                                      scale=5, elem_id="msg", autofocus=True, submit_btn=False)
                view.send_btn = gr.Button("Send", variant="primary", scale=1, elem_id="send")
            with gr.Row():
                view.stop_btn = gr.Button("Stop", variant="stop", size="sm", elem_id="stop")
                view.retry_btn = gr.Button("Retry", size="sm", elem_id="retry")
                view.reset_btn = gr.Button("Reset", size="sm", elem_id="reset")
            view.status = gr.Markdown(label="Status", elem_id="status")
            gr.Markdown("#### Recommendations")
            with gr.Row(elem_id="rb-cards"):
                for i in range(MAX_CARDS):
                    with gr.Column(visible=False, min_width=220, elem_id=f"card-{i}",
                                   elem_classes=["rb-slot"]) as group:
                        html = gr.HTML("", css_template=CARD_CSS, js_on_load=None, elem_id=f"card-{i}-html")
                        with gr.Row(elem_classes=["rb-buttons"]):
                            buttons = {k: gr.Button(text, size="sm", elem_id=f"card-{i}-{k}")
                                       for k, text in CARD_BUTTONS}
                    view.groups.append(group)
                    view.htmls.append(html)
                    view.slot_buttons.append(buttons)
        with gr.Column(scale=1, min_width=260):
            with gr.Accordion("Settings", open=True):
                view.profile_inputs = [
                    gr.Dropdown(_catalogue_choices(profile0.catalogue), value=profile0.catalogue,
                                label="Catalogue", allow_custom_value=True),
                    gr.Slider(1, MAX_CARDS, value=min(profile0.k, MAX_CARDS), step=1,
                              label="Recommendations per turn", elem_id="k-slider"),
                    gr.Dropdown(_backend_choices(), value=profile0.backend, label="LLM backend"),
                    gr.Dropdown(_model_choices(profile0.model), value=profile0.model, label="Model",
                                allow_custom_value=True),
                    gr.Textbox(profile0.base_url, label="Server URL (openai backend)"),
                    gr.Dropdown(prompt_sets, value=profile0.prompt_set, label="Prompt set"),
                ]
                view.apply_btn = gr.Button("Apply", elem_id="apply")
                view.settings_status = gr.Markdown(label="Settings status", elem_id="settings-status")
                view.runtime_md = gr.Markdown("", label="Runtime", elem_id="runtime")  # filled on load
            with gr.Accordion("Last turn", open=False):
                view.turn_json = gr.JSON(label="Last turn", elem_id="turn-json")


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
