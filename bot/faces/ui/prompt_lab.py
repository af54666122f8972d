"""The prompt engineer's tab: edit a template, render it with a live session, compare two versions.

What it does, and with what:

- **Pick and edit** a template of any set and version (:class:`prompts.loader.PromptLibrary`); the YAML
  text is edited in place and validated by :func:`prompts.loader.parse_template` on every render.
- **Render** the edited text with the variables of the current chat session
  (:func:`session_variables`: what is known about the person, the last message, the last cards, the
  catalogue's genres...), shown as JSON you can change before rendering.
- **Compare** two versions side by side (:func:`compare`): the same user message runs through two
  chat services derived from the page's (:meth:`ChatService.with_prompts`) that differ only in that
  template (a pinned version, or the unsaved editor text), each on its own copy of the session's
  state from *before* the last turn, with the same seed, stored nowhere. Retrieval is the same, so
  the replies differ because of the prompt.
- **Save** the edited text as a new version with :meth:`PromptLibrary.save_version` (never an
  overwrite); the chat uses it from the next turn (the library hot-reloads).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.chat_service import ChatService, TurnResult
from bot.state import SessionState
from bot.faces.ui.controller import TURN_CONCURRENCY
from prompts.loader import BASE_SET, PromptError, PromptLibrary, PromptTemplate, parse_template

if TYPE_CHECKING:
    import gradio as gr

    from bot.faces.ui.controller import AppController

log = logging.getLogger(__name__)

DRAFT = "editor draft"  # the version choice meaning "the unsaved text in the editor"
COMPARE_SEED = 7  # both sides sample with the same seed, so differences come from the prompt


# ------------------------------------------------------------------------------------ libraries
class PinnedLibrary(PromptLibrary):
    """A view of ``base`` in which some templates are pinned to one given :class:`PromptTemplate`.

    The engine asks for the latest version of each template of its set; an engine built on this
    library gets the pinned one instead (any set), and everything else from ``base``'s folders.
    """

    def __init__(self, base: PromptLibrary, pins: dict[str, PromptTemplate]) -> None:
        super().__init__(list(base.roots), write_root=base.write_root)
        self.pins = dict(pins)

    def get(self, name: str, set: str = BASE_SET, version: int | str | None = None) -> PromptTemplate:
        if version is None and name in self.pins:
            return self.pins[name]
        return super().get(name, set, version)


def draft_template(text: str, name: str, set_name: str) -> PromptTemplate:
    """Validate the editor's text as template ``name`` of ``set_name`` (raises :class:`PromptError`)."""
    return parse_template(text, Path(f"<editor>/{set_name}/{name}.yaml"), set_name)


def version_choices(library: PromptLibrary, name: str, set_name: str) -> list[str]:
    """The versions of ``name`` visible in ``set_name``, oldest first, as strings."""
    try:
        return [str(t.version) for t in library.versions(name, set_name)]
    except PromptError:
        return []


def resolve(library: PromptLibrary, name: str, set_name: str, version: str | None, draft_text: str,
            draft_set: str) -> PromptTemplate:
    """The template a compare side asked for: the editor draft, or a saved version."""
    if version in (None, "", DRAFT):
        return draft_template(draft_text, name, draft_set)
    return library.get(name, set_name, version=version)


# ------------------------------------------------------------------------------------ variables
def session_variables(service: ChatService, state: SessionState, user_message: str,
                      cards: list[dict[str, Any]]) -> dict[str, Any]:
    """Every variable the packaged templates use, filled the way the engine fills them for this session.

    ``cards`` are the last turn's recommendations (dicts). This mirrors
    :meth:`ConversationEngine._messages` and :meth:`ConversationEngine.understand`; values a turn
    would decide (the slot to ask about) take the engine's usual first choice.
    """
    cfg = service.config

    def label(item_id: str) -> str:
        it = service.item(item_id)
        return it.label if it else item_id

    items = [{"label": c.get("label") or c.get("title"), "facts": c.get("facts") or {},
              "reasons": c.get("reasons") or [], "genres": c.get("genres") or []} for c in cards]
    # "item" is the first card (what recommend_item explains), with the catalogue's people and text
    # too (what answer and explain quote), so any of those templates renders
    item: dict[str, Any] = dict(items[0]) if items else {}
    first = service.item(cards[0]["id"]) if cards else None
    if first is not None:
        item.update(people=list(first.people[:6]), text=first.text)
    return {
        "bot_name": cfg.bot_name, "domain": cfg.domain, "item_noun": cfg.item_noun,
        "user_message": user_message, "known": state.known_lines(label),
        "asked_before": state.asked_questions[-3:], "slot": (state.asked_slots or ["genre"])[-1],
        "items": items, "item": item,
        "last_recommendations": [label(i) for i in state.last_recommendations],
        "genres": service.genre_names(),
        "json_schema": _understand_schema(),
    }


def _understand_schema() -> str:
    """The JSON schema the ``understand`` template shows the model, as the engine passes it."""
    from bot.understanding import llm_json_schema

    return llm_json_schema()


def variables_for(template: PromptTemplate, available: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The values of ``available`` that ``template`` declares, and the required ones it lacks."""
    values = {k: v for k, v in available.items() if k in template.variables}
    lacking = [n for n in template.required_variables if n not in values]
    return values, lacking


def render_text(template: PromptTemplate, values: dict[str, Any]) -> str:
    """The rendered messages as readable text: a ``### role`` heading before each message."""
    return "\n\n".join(f"### {m['role']}\n{m['content']}" for m in template.render(**values))


# ------------------------------------------------------------------------------------ comparing
@dataclass
class SideResult:
    """What one side of a comparison produced, as it streams."""

    label: str
    text: str = ""
    result: TurnResult | None = None
    error: str | None = None

    def details(self) -> str:
        if self.error:
            return f"**{self.label}** — error: {self.error}"
        if self.result is None:
            return f"**{self.label}** — running…"
        r = self.result
        lines = [f"**{self.label}** — action `{r.action}` ({r.reason}), "
                 f"{r.timings.get('total_s', 0.0):.1f} s" + (", stopped" if r.cancelled else "")]
        lines += [f"- {c.label}: {c.why}" for c in r.recommendations]
        if r.dropped_sentences:
            lines.append(f"- dropped by grounding: {len(r.dropped_sentences)} sentence(s)")
        if r.degraded:
            lines.append(f"- degraded: {r.degraded}")
        return "\n".join(lines)


def compare(service: ChatService, library: PromptLibrary, name: str,
            sides: list[tuple[str, str, PromptTemplate]], state: SessionState, message: str,
            cancel: Any = None) -> Iterator[list[SideResult]]:
    """Run ``message`` through one service per side and yield every side's progress as it streams.

    ``sides`` are ``(label, prompt set, template)``: each side is ``service`` with template ``name``
    pinned to ``template`` and the side's prompt set (:meth:`ChatService.with_prompts`), on its own
    deep copy of ``state``, stored nowhere. The catalogue, LLM and understander are shared, so only the
    prompt differs. Sides run one after the other (one LLM); ``cancel`` (a ``threading.Event``) stops
    the one running and skips the rest.
    """
    results = [SideResult(label) for label, _, _ in sides]
    for res, (_, set_name, template) in zip(results, sides, strict=True):
        if cancel is not None and cancel.is_set():
            res.error = "stopped"
            yield results
            continue
        side = service.with_prompts(PinnedLibrary(library, {name: template}), prompt_set=set_name,
                                    seed=COMPARE_SEED)
        try:
            for event in side.stream_unsaved(state.model_copy(deep=True), message, cancel):
                if event.kind == "text":
                    res.text += event.text
                elif event.kind == "done":
                    res.result = event.result
                    res.text = event.result.text if event.result else res.text
                yield results
        except (PromptError, KeyError, ValueError) as exc:
            log.warning("compare side %s failed: %s", res.label, exc)
            res.error = str(exc)
        yield results


# ------------------------------------------------------------------------------------ the tab
def _last_cards(ctrl: AppController, session_id: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The session's last user message and the cards of its last recommending reply."""
    if not ctrl.session_exists(session_id):
        return "", []
    assert session_id is not None
    last_user, cards = "", []
    for m in ctrl.sessions.messages(session_id):
        if m.role == "user":
            last_user = m.text
        elif m.data.get("recommendations"):
            cards = list(m.data["recommendations"])
    return last_user, cards


def build_prompt_lab(ctrl: AppController, session_id: gr.State, profile: gr.State,
                     last_turn: gr.State) -> None:
    """Add the prompt lab's components and events to the current ``gr.Blocks`` context."""
    import gradio as gr

    lib = ctrl.library
    sets = lib.sets()
    first_set = ctrl.default_profile.prompt_set if ctrl.default_profile.prompt_set in sets else BASE_SET
    names = lib.names(first_set)
    # the template that words recommendations (per item, or the whole list), else the first
    first_name = next((n for n in ("recommend_item", "recommend") if n in names), names[0])
    versions = version_choices(lib, first_name, first_set)
    first = lib.get(first_name, first_set)

    gr.Markdown("Edit a prompt template, render it with this conversation's variables, compare two versions "
                "on the conversation's last message, and save the edit as a new version.")
    with gr.Row():
        set_dd = gr.Dropdown(sets, value=first_set, label="Template set", elem_id="lab-set")
        name_dd = gr.Dropdown(names, value=first_name, label="Template", elem_id="lab-name")
        version_dd = gr.Dropdown(versions, value=str(first.version), label="Version", elem_id="lab-version")
    info = gr.Markdown(_describe(first), label="Template info")
    editor = gr.Code(first.source(), language="yaml", label="Template (YAML)", lines=18, max_lines=30,
                     interactive=True, elem_id="lab-editor")
    with gr.Row():
        with gr.Column():
            variables = gr.Code("{}", language="json", label="Variables (JSON)", lines=10, max_lines=20,
                                interactive=True, elem_id="lab-vars")
            with gr.Row():
                fill_btn = gr.Button("Fill from this session", size="sm")
                render_btn = gr.Button("Render", variant="primary", size="sm", elem_id="lab-render")
        rendered = gr.Textbox(label="Rendered messages", lines=14, max_lines=30, interactive=False,
                              elem_id="lab-rendered")
    with gr.Row():
        save_btn = gr.Button("Save as new version", variant="primary", elem_id="lab-save")
    lab_status = gr.Markdown(label="Lab status", elem_id="lab-status")

    gr.Markdown("### Compare two versions on the same conversation")
    with gr.Row():
        with gr.Column():
            set_a = gr.Dropdown(sets, value=first_set, label="A: set")
            ver_a = gr.Dropdown([DRAFT, *versions], value=versions[-1] if versions else DRAFT,
                                label="A: version")
        with gr.Column():
            set_b = gr.Dropdown(sets, value=first_set, label="B: set")
            ver_b = gr.Dropdown([DRAFT, *versions], value=DRAFT, label="B: version")
    message = gr.Textbox(label="User message", placeholder="empty: the conversation's last message",
                         elem_id="lab-message")
    with gr.Row():
        compare_btn = gr.Button("Compare", variant="primary", elem_id="lab-compare")
        stop_btn = gr.Button("Stop", variant="stop")
    with gr.Row():
        with gr.Column():
            reply_a = gr.Textbox(label="Reply A", lines=8, interactive=False, elem_id="lab-reply-a")
            details_a = gr.Markdown(label="Details A")
        with gr.Column():
            reply_b = gr.Textbox(label="Reply B", lines=8, interactive=False, elem_id="lab-reply-b")
            details_b = gr.Markdown(label="Details B")

    # ---- choosing a template
    def on_set(set_name: str, name: str):
        names = lib.names(set_name)
        name = name if name in names else names[0]
        return (gr.update(choices=names, value=name), *_load(set_name, name, None))

    def on_name(set_name: str, name: str):
        return _load(set_name, name, None)

    def on_version(set_name: str, name: str, version: str):
        t = lib.get(name, set_name, version=version)
        return t.source(), _describe(t)

    def _load(set_name: str, name: str, version: str | None):
        t = lib.get(name, set_name, version=version)
        vs = version_choices(lib, name, set_name)
        return (gr.update(choices=vs, value=str(t.version)), t.source(), _describe(t),
                gr.update(choices=[DRAFT, *vs], value=vs[-1] if vs else DRAFT),
                gr.update(choices=[DRAFT, *vs], value=DRAFT))

    load_outputs = [version_dd, editor, info, ver_a, ver_b]
    set_dd.input(on_set, [set_dd, name_dd], [name_dd, *load_outputs], api_visibility="private")
    name_dd.input(on_name, [set_dd, name_dd], load_outputs, api_visibility="private")
    version_dd.input(on_version, [set_dd, name_dd, version_dd], [editor, info], api_visibility="private")
    set_a.input(lambda s, n: gr.update(choices=[DRAFT, *version_choices(lib, n, s)]), [set_a, name_dd], ver_a,
                api_visibility="private")
    set_b.input(lambda s, n: gr.update(choices=[DRAFT, *version_choices(lib, n, s)]), [set_b, name_dd], ver_b,
                api_visibility="private")

    # ---- variables and rendering
    def fill(text: str, set_name: str, name: str, sid: str | None, prof: dict[str, Any]):
        try:
            template = draft_template(text, name, set_name)
        except PromptError as exc:
            return gr.skip(), f"error: {exc}"
        service = ctrl.service(prof)
        state = ctrl.sessions.get_session(sid).state if ctrl.session_exists(sid) else SessionState()
        last_user, cards = _last_cards(ctrl, sid)
        values, lacking = variables_for(template, session_variables(service, state, last_user, cards))
        for n in lacking:
            values[n] = ""
        note = (f"no session value for {lacking}: fill them in" if lacking
                else "variables filled from this session")
        return json.dumps(values, indent=2, ensure_ascii=False, default=str), note

    def render(text: str, set_name: str, name: str, values_json: str):
        try:
            template = draft_template(text, name, set_name)
            values = json.loads(values_json or "{}")
            if not isinstance(values, dict):
                raise ValueError("variables must be a JSON object")
            return render_text(template, values), f"rendered `{name}` ({len(template.messages)} message(s))"
        except (PromptError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            return "", f"error: {exc}"

    fill_btn.click(fill, [editor, set_dd, name_dd, session_id, profile], [variables, lab_status],
                   api_name="lab_fill")
    render_btn.click(render, [editor, set_dd, name_dd, variables], [rendered, lab_status],
                     api_name="lab_render")

    # ---- saving
    def save(text: str, set_name: str, name: str):
        try:
            t = lib.save_version(name, text, set=set_name)
        except PromptError as exc:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), f"error: {exc}"
        vs = version_choices(lib, name, set_name)
        return (gr.update(choices=vs, value=str(t.version)), t.source(), _describe(t),
                gr.update(choices=[DRAFT, *vs]), f"saved version {t.version} to `{t.path}`")

    save_btn.click(save, [editor, set_dd, name_dd], [version_dd, editor, info, ver_a, lab_status],
                   api_name="lab_save")

    # ---- comparing
    def run_compare(text: str, set_name: str, name: str, sa: str, va: str, sb: str, vb: str, msg: str,
                    sid: str | None, prof: dict[str, Any], turn: dict[str, Any] | None):
        msg = (msg or "").strip() or (turn or {}).get("text", "")
        if not msg:
            yield "", "", "error: type a user message (the conversation has none yet)", ""
            return
        try:
            sides = [(f"A: {sa} v{va}", sa, resolve(lib, name, sa, va, text, set_name)),
                     (f"B: {sb} v{vb}", sb, resolve(lib, name, sb, vb, text, set_name))]
        except PromptError as exc:
            yield "", "", f"error: {exc}", ""
            return
        service = ctrl.service(prof)
        if turn and turn.get("text") == msg and turn.get("state"):
            state = SessionState.model_validate_json(turn["state"])  # as it was before that message
        elif ctrl.session_exists(sid):
            state = ctrl.sessions.get_session(sid).state
        else:
            state = SessionState()
        key = f"lab:{sid or 'anonymous'}"
        cancel = ctrl.begin(key)
        try:
            for results in compare(service, lib, name, sides, state, msg, cancel):
                a, b = results
                yield a.text, b.text, a.details(), b.details()
        finally:
            ctrl.end(key, cancel)

    compare_btn.click(run_compare, [editor, set_dd, name_dd, set_a, ver_a, set_b, ver_b, message, session_id,
                                    profile, last_turn], [reply_a, reply_b, details_a, details_b],
                      api_name="lab_compare", concurrency_id="turn", concurrency_limit=TURN_CONCURRENCY)
    stop_btn.click(lambda sid: ctrl.stop(f"lab:{sid or 'anonymous'}") and None, session_id, None,
                   api_name="lab_stop", concurrency_limit=None)


def _describe(t: PromptTemplate) -> str:
    req = ", ".join(f"`{v}`" for v in t.required_variables) or "none"
    opt = ", ".join(f"`{v}`" for v in t.defaults) or "none"
    return (f"`{t.path.name}` in set **{t.set_name}**, version **{t.version}** — "
            f"{t.description or 'no description'}"
            f"  \nrequired variables: {req}; optional: {opt}")
