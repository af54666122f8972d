"""The chat page in headless Chromium (Playwright): type, watch the reply stream, like and dislike cards,
settings that survive a reload, offline.

The page is served by the session's in-process app (real index, real tiny LLM). Every request the
page makes that does not go to that server is recorded and refused: the page must work offline.
"""

from __future__ import annotations

import re
import struct
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

MESSAGE = "Show me a funny comedy from the 1980s please"
WAIT_MS = 240_000

# Records every text the last bot message shows, as it changes (installed before the message is sent).
RECORD_BOT_TEXTS = """() => {
  window.__botTexts = [];
  const chat = document.querySelector('#chat');
  new MutationObserver(() => {
    const bots = chat.querySelectorAll('[data-testid="bot"]');
    if (!bots.length) return;
    const text = bots[bots.length - 1].innerText.trim();
    if (window.__botTexts[window.__botTexts.length - 1] !== text) window.__botTexts.push(text);
  }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _letters(text: str) -> str:
    """The letters and digits a person sees of markdown ``text`` (list markers are drawn by CSS)."""
    return re.sub(r"[^0-9A-Za-z]", "", re.sub(r"(?m)^\s*(\d+\.|[-*+])\s+", "", text))


def _session_of(store, message: str):
    """The one session whose first message is ``message`` (each test sends its own text)."""
    found = [sid for sid in store.list_sessions(limit=1000)
             if (msgs := store.messages(sid)) and msgs[0].text == message]
    assert len(found) == 1, found
    return found[0]


def _open_chat(chromium, url: str, pattern: str, handler):
    """A fresh browser context on the chat page, requests matching ``pattern`` routed to ``handler``."""
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        page.route(pattern, handler)
        page.goto(url)
        page.wait_for_selector("#msg textarea", timeout=60_000)
    except BaseException:
        context.close()
        raise
    return context, page


def _stored(page, store, sid: str, n: int) -> list:
    """The session's messages once at least ``n`` are stored (a turn ends when its reply is stored)."""
    stored = store.messages(sid)
    deadline = time.monotonic() + WAIT_MS / 1000
    while len(stored) < n:
        assert time.monotonic() < deadline, f"only {len(stored)} of {n} messages stored"
        page.wait_for_timeout(200)
        stored = store.messages(sid)
    return stored


def test_chat_page_in_chromium(running_app, chromium, tmp_path):
    origin = running_app.url.rstrip("/")
    outside: list[str] = []

    def only_local(route):
        url = route.request.url
        if url.startswith((origin, "data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context, page = _open_chat(chromium, running_app.url, "**/*", only_local)
    try:
        page.evaluate(RECORD_BOT_TEXTS)

        page.fill("#msg textarea", MESSAGE)
        page.click("#send")
        page.wait_for_selector("#card-0 .rb-card", timeout=WAIT_MS)  # cards come before the text
        sid = _session_of(running_app.store, MESSAGE)
        stored = _stored(page, running_app.store, sid, 2)
        assert [m.role for m in stored] == ["user", "assistant"]
        reply = stored[1].text
        recs = stored[1].data["recommendations"]
        assert recs and reply.strip()

        # the reply streamed in: the placeholder, then text, ending with the stored reply
        deadline = time.monotonic() + 60
        while _letters(texts[-1] if (texts := [t for t in page.evaluate("window.__botTexts") if t]) else "") \
                != _letters(reply):
            assert time.monotonic() < deadline, f"the page shows {texts[-1:]!r}, the store has {reply!r}"
            page.wait_for_timeout(200)
        assert texts[0] == "…" and len(texts) >= 2, texts
        shown = page.inner_text('#chat [data-testid="bot"]')
        assert recs[0]["label"] in shown or recs[0]["title"] in shown

        # one card per recommendation, in order, with title, year and why
        cards = page.locator(".rb-card")
        assert cards.count() == len(recs)
        for i, rec in enumerate(recs):
            card = page.locator(f"#card-{i} .rb-card")
            assert card.get_attribute("data-item-id") == rec["id"]
            assert rec["title"] in card.inner_text() and rec["why"] in card.inner_text()
        assert not page.locator(f"#card-{len(recs)}").is_visible()

        # Like on the first card: stored, applied to the state, shown as a badge
        page.click("#card-0-like")
        page.wait_for_selector("#card-0 .rb-badge-like", timeout=60_000)
        feedback = [(f.kind, f.target) for f in running_app.store.feedback(sid)]
        assert ("like", recs[0]["id"]) in feedback
        assert recs[0]["id"] in running_app.store.get(sid).state.liked_ids
        assert "Noted:" in page.inner_text("#status")

        # thumbs up on the reply: stored against the reply's message id
        page.locator('#chat button[aria-label="Like"]').last.click()
        page.wait_for_function(
            "() => document.querySelector('#status').innerText.includes('Thanks for the feedback')",
            timeout=60_000)
        feedback = [(f.kind, f.target) for f in running_app.store.feedback(sid)]
        assert ("message_up", str(stored[1].id)) in feedback

        # each card's buttons sit inside its own box, under its card, in one line with the other cards'
        boxes = [page.locator(f"#card-{i}").bounding_box() for i in range(len(recs))]
        likes = [page.locator(f"#card-{i}-like").bounding_box() for i in range(len(recs))]
        seens = [page.locator(f"#card-{i}-seen").bounding_box() for i in range(len(recs))]
        for i, (box, like, seen) in enumerate(zip(boxes, likes, seens, strict=True)):
            card = page.locator(f"#card-{i} .rb-card").bounding_box()
            assert box["x"] <= like["x"] and seen["x"] + seen["width"] <= box["x"] + box["width"] + 1, i
            assert like["y"] >= card["y"] + card["height"] - 1 and like["y"] + like["height"] <= box["y"] + box["height"] + 1
            assert abs(like["y"] - seen["y"]) < 2  # one row
        same_row = [like["y"] for box, like in zip(boxes, likes, strict=True) if abs(box["y"] - boxes[0]["y"]) < 2]
        assert max(same_row) - min(same_row) < 2, same_row  # button rows line up across a row of cards

        # Dislike on the last card: it leaves the view, the others stay
        if len(recs) > 1:
            last = len(recs) - 1
            page.click(f"#card-{last}-dislike")
            page.wait_for_function(f"() => document.querySelectorAll('.rb-card').length === {last}", timeout=60_000)
            ids = [page.locator(f"#card-{i} .rb-card").get_attribute("data-item-id") for i in range(last)]
            assert recs[last]["id"] not in ids and ids == [r["id"] for r in recs[:last]]
            assert recs[last]["id"] in running_app.store.get(sid).state.disliked_ids

        shot = tmp_path / "chat.png"
        page.screenshot(path=str(shot), full_page=True)
        width, height = _png_size(shot)
        assert shot.stat().st_size > 10_000 and width >= 1280 and height >= 600

        # a reload brings the conversation and the card's feedback back (BrowserState + session store)
        page.reload()
        page.wait_for_selector("#card-0 .rb-badge-like", timeout=60_000)
        assert MESSAGE in page.inner_text('#chat [data-testid="user"]')

        # settings applied on the page survive a reload (kept in the browser)
        page.fill("#k-slider input[type=number]", "2")
        page.click("#apply")
        page.wait_for_function("() => document.querySelector('#settings-status')?.innerText?.includes('Applied')",
                               timeout=WAIT_MS)
        page.reload()
        page.wait_for_function(
            "() => document.querySelector('#settings-status')?.innerText?.includes('Settings kept')", timeout=WAIT_MS)
        assert page.input_value("#k-slider input[type=number]") == "2"
        assert MESSAGE in page.inner_text('#chat [data-testid="user"]')

        assert outside == [], f"the page tried to reach the internet: {outside}"
    finally:
        context.close()


def test_a_message_sent_before_the_page_finished_loading_keeps_its_conversation(running_app, chromium):
    """On a first visit the page's load event ends only once the chat service is built (tens of seconds);
    a person may send a message before that. The load must not drop the session that message started:
    it had done so, and the next message began a new, empty conversation ("something funnier" lost the
    liked film and the decade). Here the load event is held back until the first turn has finished."""
    first, second = "Show me a scary horror film from the 1980s please, quickly", "something funnier"
    held: list = []

    def hold_first_join(route):
        if not held:  # the first event the page sends is its load event
            held.append(route)
        else:
            route.continue_()

    context, page = _open_chat(chromium, running_app.url, "**/queue/join*", hold_first_join)
    try:
        deadline = time.monotonic() + 30
        while not held and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert held, "the page's load event was never seen"
        assert "Ranking" not in page.inner_text("#runtime")  # the load has not run: it fills this line

        page.fill("#msg textarea", first)
        page.click("#send")
        page.wait_for_selector("#card-0 .rb-card", timeout=WAIT_MS)
        sid = _session_of(running_app.store, first)
        page.wait_for_function("() => document.querySelectorAll('#chat [data-testid=\"bot\"]').length === 1 && "
                               "!document.querySelector('#chat [data-testid=\"bot\"]').innerText.trim()"
                               ".startsWith('…')", timeout=WAIT_MS)
        _stored(page, running_app.store, sid, 2)

        held[0].continue_()  # now the load event runs and its outputs reach the page
        page.wait_for_function("() => document.querySelector('#runtime')?.innerText?.includes('Ranking')",
                               timeout=WAIT_MS)
        page.fill("#msg textarea", second)
        page.click("#send")
        assert [m.text for m in _stored(page, running_app.store, sid, 4)[::2]] == [first, second]
        state = running_app.store.get(sid).state
        assert state.year is not None and state.year.min == 1980  # the decade asked for first still holds
    finally:
        context.close()
