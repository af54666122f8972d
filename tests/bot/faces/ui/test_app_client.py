"""The chat page driven over its API with ``gradio_client``: real app, real index, real tiny LLM.

Each test uses its own ``Client``, so its own browser-like session (``gr.State``) and its own
conversation in the session store.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.faces.ui.settings_events import RANKERS

pytestmark = pytest.mark.slow

MESSAGE = "I want a funny comedy from the 1980s"
TIMEOUT = 300


def _client(running_app):
    from gradio_client import Client

    return Client(running_app.url, verbose=False)


def _index(client, api_name: str, label: str) -> int:
    returns = client.view_api(print_info=False, return_format="dict")["named_endpoints"][api_name]["returns"]
    return [r.get("label") for r in returns].index(label)


def _text(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def _chat(client, text: str = MESSAGE):
    """Send ``text``; returns (final outputs, every streamed output, the turn JSON)."""
    job = client.submit(text, api_name="/chat")
    final = job.result(timeout=TIMEOUT)
    return final, job.outputs(), final[_index(client, "/chat", "Last turn")]


def test_chat_streams_a_reply_with_cards(running_app, ui_items):
    client = _client(running_app)
    final, outputs, turn = _chat(client)
    conv = _index(client, "/chat", "Conversation")

    assert turn["action"] == "recommend"
    recs = turn["recommendations"]
    catalogue = {it.id: it for it in ui_items}
    assert 1 <= len(recs) <= 3
    for r in recs:
        item = catalogue[r["id"]]
        assert (r["title"], r["year"]) == (item.title, item.year)
        assert 1980 <= r["year"] <= 1989, r  # "from the 1980s" is a constraint
        assert "comedy" in [g.casefold() for g in item.genres] and r["why"]

    chat = final[conv]
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert _text(chat[0]) == MESSAGE
    reply = _text(chat[1])
    assert reply == turn["text"] and reply.strip()
    assert any(r["label"] in reply for r in recs)  # the reply names what the cards show

    # streamed: the placeholder first, then growing text, the final reply last
    replies = [_text(o[conv][-1]) for o in outputs if isinstance(o[conv], list) and len(o[conv]) == 2]
    assert replies[0] == "…" and replies[-1] == reply and len(set(replies)) >= 2

    stored = running_app.store.messages(turn["session_id"])
    assert [(m.role, m.text) for m in stored] == [("user", MESSAGE), ("assistant", turn["text"])]
    assert [r["id"] for r in stored[1].data["recommendations"]] == [r["id"] for r in recs]
    assert running_app.store.get(turn["session_id"]).state.shown_ids == [r["id"] for r in recs]


def test_stop_ends_the_running_turn(running_app):
    client = _client(running_app)
    # small talk: the LLM reads it and words the reply (recommendation turns are template-fast, nothing to stop)
    job = client.submit("hello there, how are you doing today?", api_name="/chat")
    deadline = time.monotonic() + TIMEOUT
    while not job.outputs():  # the message is shown: the turn (and its cancel event) is running
        assert time.monotonic() < deadline and not job.done()
        time.sleep(0.02)
    assert client.predict(api_name="/stop") == "Stopping…"
    stopped = time.monotonic()
    final = job.result(timeout=TIMEOUT)
    assert time.monotonic() - stopped < 20  # the LLM checks the event between tokens
    turn = final[_index(client, "/chat", "Last turn")]
    assert turn["cancelled"] is True
    conv = final[_index(client, "/chat", "Conversation")]
    assert _text(conv[-1]).endswith("*(stopped)*")
    stored = running_app.store.messages(turn["session_id"])
    assert stored[-1].role == "assistant" and stored[-1].data["cancelled"] is True
    assert client.predict(api_name="/stop") == "Nothing is running."


def test_retry_reruns_the_last_message_from_the_state_before_it_with_a_different_list(running_app):
    client = _client(running_app)
    _, _, first = _chat(client)
    sid = first["session_id"]
    job = client.submit(api_name="/retry")
    final = job.result(timeout=TIMEOUT)
    again = final[_index(client, "/retry", "Last turn")]
    assert again["session_id"] == sid
    # the state before the message comes back (turn 1 again), and the cards it showed count as shown:
    # the same wishes, a different list
    first_ids = [r["id"] for r in first["recommendations"]]
    again_ids = [r["id"] for r in again["recommendations"]]
    assert again["action"] == "recommend" and again_ids and not set(again_ids) & set(first_ids)
    for r in again["recommendations"]:
        assert 1980 <= r["year"] <= 1989 and r["why"]
    state = running_app.store.get(sid).state
    assert state.turn == 1 and state.shown_ids[:len(first_ids)] == first_ids
    chat = final[_index(client, "/retry", "Conversation")]
    assert [m["role"] for m in chat] == ["user", "assistant"] and _text(chat[1]) == again["text"]
    assert [m.role for m in running_app.store.messages(sid)] == ["user", "assistant", "user", "assistant"]


def test_reset_forgets_preferences_and_keeps_the_history(running_app):
    client = _client(running_app)
    _, _, turn = _chat(client)
    sid = turn["session_id"]
    assert running_app.store.get(sid).state.genres
    final = client.predict(api_name="/reset")
    assert final[_index(client, "/reset", "Conversation")] == []
    assert final[_index(client, "/reset", "Status")].startswith("Preferences forgotten")
    assert running_app.store.get(sid).state == running_app.store.get(sid).state.__class__()
    assert len(running_app.store.messages(sid)) == 2


def test_settings_change_the_number_of_recommendations(running_app, ui_settings):
    client = _client(running_app)
    llm = ui_settings.llm
    apply = ("movies", 2, "llamacpp", "no-such-model", llm.base_url, "default")
    out = client.predict(*apply, api_name="/apply_settings")
    assert out[_index(client, "/apply_settings", "Settings status")].startswith("**Not applied:**")

    out = client.predict("movies", 2, llm.backend, llm.model, llm.base_url, "default",
                         api_name="/apply_settings")
    assert out[_index(client, "/apply_settings", "Settings status")].startswith("Applied: movies, 2 per turn")
    runtime = out[_index(client, "/apply_settings", "Runtime")]  # which ranker and model serve the page
    assert runtime.startswith("Ranking: **") and f"LLM: llamacpp:{llm.model}, ready" in runtime
    assert any(name in runtime for name in RANKERS.values())
    _, _, turn = _chat(client)
    assert turn["action"] == "recommend" and len(turn["recommendations"]) == 2


def test_prompt_lab_fills_renders_compares_and_saves(running_app, ui_settings):
    client = _client(running_app)
    _, _, turn = _chat(client)
    sid = turn["session_id"]
    library = running_app.controller.library
    source = library.get("recommend_item", "default").source()

    variables, note = client.predict(source, "default", "recommend_item", api_name="/lab_fill")
    values = json.loads(variables)
    assert note == "variables filled from this session"
    assert values["user_message"] == MESSAGE
    assert values["item"]["label"] == turn["recommendations"][0]["label"]

    rendered, note = client.predict(source, "default", "recommend_item", variables, api_name="/lab_render")
    assert note.startswith("rendered `recommend_item`") and MESSAGE in rendered
    assert turn["recommendations"][0]["label"] in rendered and rendered.startswith("### ")

    broken = source.replace("{{ user_message }}", "{{ user_mesage }}", 1)
    assert broken != source
    _, note = client.predict(broken, "default", "recommend_item", variables, api_name="/lab_render")
    assert note.startswith("error: <editor>/default/recommend_item.yaml") and "user_mesage" in note

    state_before = running_app.store.get(sid).state.model_dump_json()
    draft = source.replace("description:", "description: (shorter)", 1)
    job = client.submit(draft, "default", "recommend_item", "default", "1", "default", "editor draft", "",
                        api_name="/lab_compare")
    reply_a, reply_b, details_a, details_b = job.result(timeout=TIMEOUT)
    assert details_a.startswith("**A: default v1** — action `recommend`")
    assert details_b.startswith("**B: default veditor draft** — action `recommend`")
    labels = [r["label"] for r in turn["recommendations"]]
    for reply, details in ((reply_a, details_a), (reply_b, details_b)):
        assert reply.strip() and all(label in details for label in labels)  # same state, same retrieval
    assert running_app.store.get(sid).state.model_dump_json() == state_before  # the lab ran on copies

    saved = client.predict(draft, "default", "recommend_item", api_name="/lab_save")
    path = ui_settings.data_dir / "prompts" / "default" / "recommend_item.v2.yaml"
    assert saved[_index(client, "/lab_save", "Lab status")] == f"saved version 2 to `{path}`"
    assert path.is_file() and "description: (shorter)" in path.read_text()
    assert library.get("recommend_item", "default").version == 2  # live for the chat's next turn
    assert running_app.service.prompt_library.get("recommend_item", "default").path == path
