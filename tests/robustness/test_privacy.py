"""Privacy: personal data is redacted before it is stored or logged; export and delete are complete.

``redact`` is tested on its own (fast); the rest runs the real API (TestClient over the real engine,
tiny LLM) and reads the SQLite file directly, so nothing depends on the store reporting on itself.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.privacy import CARD, EMAIL, IBAN, PHONE, luhn_ok, personal_data, redact

EMAIL_ADDR = "ann.lee+films@example.org"
PHONE_NO = "+44 20 7946 0958"
CARD_NO = "4111 1111 1111 1111"
IBAN_NO = "DE89 3704 0044 0532 0130 00"
SECRETS = (EMAIL_ADDR, PHONE_NO, CARD_NO, IBAN_NO, "7946 0958", "1111 1111", "0532 0130", "ann.lee")
PII_MESSAGE = (
    f"I want a funny comedy from the 90s. Email me at {EMAIL_ADDR} or call {PHONE_NO}; "
    f"my card is {CARD_NO} and my IBAN {IBAN_NO}"
)


# ------------------------------------------------------------------------------------- redact()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to ann.lee@example.org please", f"write to {EMAIL} please"),
        ("A@B.CO", EMAIL),
        ("call +44 20 7946 0958 now", f"call {PHONE} now"),
        ("call +1 (555) 123-4567", f"call {PHONE}"),
        ("(555) 123-4567 or 555.123.4567", f"{PHONE} or {PHONE}"),
        ("020 7946 0958", PHONE),
        ("06 12 34 56 78", PHONE),
        ("07700900123", PHONE),
        ("card 4111 1111 1111 1111.", f"card {CARD}."),
        ("card 4111-1111-1111-1111", f"card {CARD}"),
        ("5500005555555559", CARD),
        ("amex 3782 822463 10005", f"amex {CARD}"),
        ("IBAN DE89 3704 0044 0532 0130 00", f"IBAN {IBAN}"),
        ("GB82WEST12345698765432", IBAN),
    ],
)
def test_redact_replaces_personal_data(text: str, expected: str):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Alien (1979) and 2001: A Space Odyssey (1968)",
        "movies from 1995 1996 1997 or 1990-2000",
        "between 1980 and 1999, rated 7.5/10, under 120 min, id 27411",
        "4111 1111 1111 1112",  # fails Luhn: not a card (and not a phone shape)
        "Top 10 films of the 2000s",
        "no personal data here at all",
        "",
    ],
)
def test_redact_leaves_ordinary_text_alone(text: str):
    assert redact(text) == text


def test_mangled_echoes_of_this_turns_personal_data_are_redacted():
    said = f"card {CARD_NO}, phone {PHONE_NO}"
    found = personal_data(said)
    assert found == [CARD_NO, PHONE_NO]
    echo = "Sure! Your card 4111 1111 1111 and 20 7946 0958 are noted. Heat (1995) runs 170 min."
    scrubbed = "Sure! Your card [redacted] and [redacted] are noted. Heat (1995) runs 170 min."
    assert redact(echo, found) == scrubbed
    assert redact(echo) == echo  # without the turn's data, neither fragment is recognisable
    assert personal_data("a comedy from 1995 please") == []


def _luhn_complete(body: str) -> str:
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


@settings(max_examples=60, deadline=None)
@given(
    body=st.text("0123456789", min_size=11, max_size=17).map(lambda s: "4" + s),  # Visa-like prefix
    sep=st.sampled_from(["", " ", "-"]),
    group=st.integers(3, 5),
)
def test_any_luhn_valid_card_number_is_redacted(body: str, sep: str, group: int):
    number = _luhn_complete(body)
    shown = sep.join(number[i : i + group] for i in range(0, len(number), group))
    out = redact(f"pay with {shown} thanks")
    assert out == f"pay with {CARD} thanks"


@settings(max_examples=60, deadline=None)
@given(years=st.lists(st.integers(1900, 2029), min_size=1, max_size=5))
def test_lists_of_years_are_never_redacted(years: list[int]):
    text = "films from " + " ".join(map(str, years)) + f" like Heat ({years[0]})"
    assert redact(text) == text


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_redact_is_idempotent_and_total(text: str):
    once = redact(text)
    assert redact(once) == once


# --------------------------------------------------------------------------------- through the API



def _rows(db: Path, session_id: str) -> dict[str, list[tuple]]:
    con = sqlite3.connect(db)
    try:
        return {
            "sessions": con.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchall(),
            "messages": con.execute("SELECT * FROM messages WHERE session_id = ?", (session_id,)).fetchall(),
            "feedback": con.execute("SELECT * FROM feedback WHERE session_id = ?", (session_id,)).fetchall(),
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def pii_session(client) -> dict:  # noqa: ANN001
    """A session whose one message carries an email, a phone, a card and an IBAN, plus a like."""
    sid = client.post("/v1/sessions").json()["session_id"]
    r = client.post(f"/v1/sessions/{sid}/messages", json={"text": PII_MESSAGE})
    assert r.status_code == 200, r.text
    reply = r.json()
    liked = reply["recommendations"][0]["id"]
    r = client.post(f"/v1/sessions/{sid}/feedback", json={"item_id": liked, "kind": "like"})
    assert r.status_code == 200, r.text
    return {"sid": sid, "reply": reply, "liked": liked}


@pytest.mark.slow
def test_stored_messages_and_state_are_redacted(client, pii_session, sessions_db: Path):  # noqa: ANN001
    sid = pii_session["sid"]
    # the engine saw the original text: it understood the wish and recommended items
    assert pii_session["reply"]["recommendations"]
    detail = client.get(f"/v1/sessions/{sid}").json()
    user = detail["messages"][0]
    assert user["role"] == "user"
    for placeholder in (EMAIL, PHONE, CARD, IBAN):
        assert placeholder in user["text"]
    assert user["text"].startswith("I want a funny comedy from the 90s.")
    # every stored byte of the session, read from the SQLite file itself
    dump = json.dumps(_rows(sessions_db, sid))
    for secret in SECRETS:
        assert secret not in dump, (secret, dump[max(0, dump.find(secret) - 100) : dump.find(secret) + 300])


@pytest.mark.slow
def test_no_log_line_at_info_or_above_carries_personal_data(client, caplog):  # noqa: ANN001
    sid = client.post("/v1/sessions").json()["session_id"]
    with caplog.at_level(logging.INFO):
        r = client.post(f"/v1/sessions/{sid}/messages", json={"text": PII_MESSAGE + " 1999 before 1980"})
    assert r.status_code == 200
    assert caplog.records  # the turn does log (turn/action lines)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    for secret in SECRETS:
        assert secret not in logged, secret


@pytest.mark.slow
def test_export_returns_state_messages_and_feedback(client, pii_session):  # noqa: ANN001
    sid, liked = pii_session["sid"], pii_session["liked"]
    r = client.get(f"/v1/sessions/{sid}/export")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    data = r.json()
    fields = {"session_id", "catalogue", "created", "updated", "meta", "state", "messages", "feedback"}
    assert set(data) == fields
    detail = client.get(f"/v1/sessions/{sid}").json()
    assert data["session_id"] == sid and data["catalogue"] == "movies"
    assert data["state"] == detail["state"] and data["state"]["liked_ids"] == [liked]
    assert [(m["role"], m["text"]) for m in data["messages"]] == [
        (m["role"], m["text"]) for m in detail["messages"]
    ]
    assert [(f["kind"], f["target"]) for f in data["feedback"]] == [("like", liked)]
    assert data["messages"][1]["data"]["recommendations"][0]["id"] == liked
    assert not any(secret in r.text for secret in SECRETS)


@pytest.mark.slow
def test_export_of_an_unknown_session_is_a_json_404(client):  # noqa: ANN001
    r = client.get("/v1/sessions/no-such-session/export")
    assert r.status_code == 404 and r.json()["error"]["code"] == "session_not_found"


@pytest.mark.slow
def test_delete_removes_every_row_of_the_session(client, sessions_db: Path):  # noqa: ANN001
    keep = client.post("/v1/sessions").json()["session_id"]
    sid = client.post("/v1/sessions").json()["session_id"]
    for s in (keep, sid):
        r = client.post(f"/v1/sessions/{s}/messages", json={"text": "I like sci-fi movies from the 80s"})
        assert r.status_code == 200
    item = r.json()["recommendations"][0]["id"]
    r = client.post(f"/v1/sessions/{sid}/feedback", json={"item_id": item, "kind": "seen"})
    assert r.status_code == 200, r.text
    before = _rows(sessions_db, sid)
    assert len(before["sessions"]) == 1 and len(before["messages"]) == 2 and len(before["feedback"]) == 1

    assert client.delete(f"/v1/sessions/{sid}").json() == {"session_id": sid, "deleted": True}
    assert _rows(sessions_db, sid) == {"sessions": [], "messages": [], "feedback": []}
    con = sqlite3.connect(sessions_db)
    try:  # nothing anywhere in the file still names the session
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            rows = con.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 -- names from the schema
            for row in rows:
                assert sid not in json.dumps(row, default=str), table
    finally:
        con.close()
    assert client.get(f"/v1/sessions/{sid}").status_code == 404
    assert client.get(f"/v1/sessions/{sid}/export").status_code == 404
    # the other session is untouched
    assert len(_rows(sessions_db, keep)["messages"]) == 2
