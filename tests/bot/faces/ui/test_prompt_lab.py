"""The prompt lab's logic: pinned template versions, drafts, session variables, side-by-side runs."""

from __future__ import annotations

import threading

import pytest

from bot.engine import Recommendation
from bot.state import SessionState
from bot.faces.ui.prompt_lab import (
    DRAFT,
    PinnedLibrary,
    compare,
    draft_template,
    render_text,
    resolve,
    session_variables,
    variables_for,
    version_choices,
)
from prompts.loader import DEFAULT_ROOT, PromptError, PromptLibrary
from retrieval.schema import Query

CHITCHAT_V2 = """\
name: chitchat
version: 2
description: shorter small talk
input_variables:
  user_message: {description: the message}
  known: {description: what we know, default: []}
  domain: {description: what we recommend}
messages:
  - role: user
    content: "Reply in one short sentence about {{ domain }} to: {{ user_message }}"
"""


@pytest.fixture
def library(tmp_path) -> PromptLibrary:
    return PromptLibrary([DEFAULT_ROOT, tmp_path], write_root=tmp_path)


def test_pinned_library_serves_the_pin_for_latest_and_the_folders_otherwise(library):
    saved = library.save_version("chitchat", CHITCHAT_V2, set="default")
    assert saved.version == 2 and library.get("chitchat").version == 2
    v1 = library.get("chitchat", version=1)
    pinned = PinnedLibrary(library, {"chitchat": v1})
    assert pinned.get("chitchat", "customer_service") is v1  # what the engine asks for: latest of its set
    assert pinned.get("chitchat", version=2).version == 2  # an explicit version still comes from disk
    assert pinned.get("system", "customer_service").set_name == "customer_service"
    assert version_choices(library, "chitchat", "default") == ["1", "2"]
    assert version_choices(library, "no_such_template", "default") == []


def test_draft_is_validated_and_resolves_per_side(library):
    draft = draft_template(CHITCHAT_V2, "chitchat", "default")
    assert draft.version == 2 and draft.set_name == "default"
    assert resolve(library, "chitchat", "default", DRAFT, CHITCHAT_V2, "default").messages == draft.messages
    assert resolve(library, "chitchat", "default", "1", CHITCHAT_V2, "default").version == 1
    with pytest.raises(PromptError, match=r"<editor>/default/chitchat.yaml: .*not declared"):
        draft_template(CHITCHAT_V2.replace("{{ domain }}", "{{ domian }}"), "chitchat", "default")
    with pytest.raises(PromptError, match="does not match the file name"):
        draft_template(CHITCHAT_V2, "recommend", "default")


def test_variables_for_keeps_declared_values_and_names_the_missing_required(library):
    template = draft_template(CHITCHAT_V2, "chitchat", "default")
    values, lacking = variables_for(template, {"user_message": "hi", "bot_name": "recbot", "known": ["x"]})
    assert values == {"user_message": "hi", "known": ["x"]} and lacking == ["domain"]
    text = render_text(template, {**values, "domain": "movies"})
    assert text == "### user\nReply in one short sentence about movies to: hi"


@pytest.mark.slow
def test_session_variables_render_every_packaged_template(ui_service):
    """What the lab fills in is enough for every template of every packaged set (the engine's mirror)."""
    state = SessionState()
    state.want_genres(["comedy"])
    retriever = ui_service.engine.catalogue  # test set-up: two cards as a turn would show them
    candidates = retriever.retrieve(Query(text="funny", genres=["comedy"], k=2))
    cards = [Recommendation.from_candidate(c).to_dict() for c in candidates]
    state.record_recommendations([c["id"] for c in cards])
    available = session_variables(ui_service, state, "something funny please", cards)
    assert available["known"] == ["wants genres: comedy"]
    assert [i["label"] for i in available["items"]] == [c["label"] for c in cards]
    assert available["item"]["label"] == cards[0]["label"] and "people" in available["item"]
    assert available["last_recommendations"] == [c["label"] for c in cards]
    library = PromptLibrary([DEFAULT_ROOT])
    rendered = 0
    for set_name in library.sets():
        for name in library.names(set_name):
            template = library.get(name, set_name)
            values, lacking = variables_for(template, available)
            assert lacking == [], f"{set_name}/{name} needs {lacking}"
            assert render_text(template, values).startswith("### ")
            rendered += 1
    assert rendered >= 8


@pytest.mark.slow
def test_compare_runs_both_versions_on_copies_of_the_state(ui_service, library):
    v1 = library.get("chitchat", "default")
    draft = draft_template(CHITCHAT_V2, "chitchat", "default")
    state = SessionState()
    before = state.model_dump_json()
    steps = list(compare(ui_service, library, "chitchat", [("A", "default", v1), ("B", "default", draft)], state,
                         "hello there!"))  # short: no LLM reading of it, so the chitchat template answers
    a, b = steps[-1]
    assert state.model_dump_json() == before  # each side ran on its own copy
    for side in (a, b):
        assert side.error is None and side.result is not None
        assert side.result.action == "chitchat" and side.text == side.result.text and side.text
        assert side.details().startswith(f"**{side.label}** — action `chitchat`")
    assert len(steps) > 2  # progress was yielded while the sides streamed

    cancel = threading.Event()
    cancel.set()
    a, b = list(compare(ui_service, library, "chitchat", [("A", "default", v1), ("B", "default", draft)], state,
                        "hello again", cancel))[-1]
    assert a.error == b.error == "stopped"
