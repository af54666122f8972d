"""The settings panel and a page (re)load: apply settings, show what serves, bring a conversation back.

:func:`wire_settings_events` registers Apply (public API name ``apply_settings``) and the page's load
event on a :class:`~bot.faces.ui.layout.ChatView`. Settings applied on the page are kept in the browser
(``gr.BrowserState``) and come back after a reload when they still load; so does the conversation,
read back from the session store through the controller's sessions.
"""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from bot.chat_service import ChatService
from bot.faces.ui.chat_events import as_assistant, as_user
from bot.faces.ui.controller import AppController, Profile
from bot.faces.ui.layout import ChatView

log = logging.getLogger(__name__)

RANKERS = {"learned": "learned ranker trained for this catalogue",
           "transfer": "learned transfer ranker (packaged)",
           "none": "retrieval scores only (no learned ranker)"}


def runtime_line(service: ChatService) -> str:
    """What serves this page: the ranker and the state of the language model."""
    llm = service.llm_status()
    state = llm["state"] + (f" ({llm['detail']})" if llm["state"] != "ready" and llm["detail"] else "")
    ranker = service.ranker_name()
    return f"Ranking: **{RANKERS.get(ranker, ranker)}** · LLM: {llm['name']}, {state}"


def describe(p: Profile) -> str:
    return f"{p.catalogue}, {p.k} per turn, {p.backend}:{p.model}, prompt set {p.prompt_set}"


def wire_settings_events(ctrl: AppController, demo: gr.Blocks, v: ChatView) -> None:
    """Register Apply and the page's load event (restores settings and the conversation)."""

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
            return {v.settings_status: f"**Not applied:** {exc}"}
        out: dict[Any, Any] = {v.profile: new.to_dict(), v.saved_profile: new.to_dict(),
                               v.settings_status: f"Applied: {describe(new)}.",
                               v.runtime_md: runtime_line(ctrl.service(new))}
        if new.catalogue != old.catalogue:
            out.update(v.cleared(f"Now recommending from **{new.catalogue}**."))
            out[v.session_id] = None
            out[v.saved_session] = None
        return out

    v.apply_btn.click(apply_settings, [*v.profile_inputs, v.profile],
                      [v.profile, v.saved_profile, v.settings_status, v.runtime_md, *v.turn_outputs],
                      api_name="apply_settings")

    def restore(saved: str | None, saved_prof: dict[str, Any] | None, prof: dict[str, Any]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        if saved_prof:  # the settings applied before the reload, if they still load
            try:
                kept = Profile.from_dict(saved_prof)
                ctrl.service(kept)
                prof = kept.to_dict()
                out = {v.profile: prof, **dict(zip(v.profile_inputs, prof.values(), strict=True)),
                       v.settings_status: f"Settings kept from your last visit: {describe(kept)}."}
            except Exception as exc:  # the UI boundary: stale settings fall back to the defaults
                log.info("saved settings not usable (%s); using the defaults", exc)
        try:  # what serves the page: built by the first visit (nothing loads to build the page)
            out[v.runtime_md] = runtime_line(ctrl.service(Profile.from_dict(prof)))
        except Exception as exc:  # the UI boundary: the first turn reports what is wrong
            log.info("runtime status not available yet: %s", exc)
        catalogue = Profile.from_dict(prof).catalogue
        if not ctrl.session_exists(saved, catalogue):
            # Nothing to bring back: leave the conversation alone. On a first visit this event ends only
            # once the chat service is built (tens of seconds), and a message sent meanwhile has started
            # a session that a `None` here would drop: the next message began a new, empty one.
            return out
        assert saved is not None
        stored = ctrl.sessions.messages(saved)
        hist = [as_user(m.text) if m.role == "user" else as_assistant(m.text) for m in stored]
        ids = [m.id for m in stored]
        feedback = ctrl.item_feedback(saved)
        shown: list[dict[str, Any]] = []
        for m in stored:
            if m.role == "assistant" and m.data.get("recommendations"):
                shown = [{**c, "feedback": feedback.get(c["id"])} for c in m.data["recommendations"]]
        return {**out, v.session_id: saved, v.chatbot: hist, v.history: hist, v.msg_ids: ids, v.cards: shown,
                **v.slot_updates(shown)}

    demo.load(restore, [v.saved_session, v.saved_profile, v.profile],
              [v.session_id, v.chatbot, v.history, v.msg_ids, v.cards, *v.groups, *v.htmls, v.profile,
               *v.profile_inputs, v.settings_status, v.runtime_md], api_visibility="private")
