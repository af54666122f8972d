"""Redaction of personal data in user text before it is stored or logged.

:func:`redact` replaces what identifies or could charge a person with a placeholder::

    >>> redact("mail me at ann.lee@example.org or call +44 20 7946 0958")
    'mail me at [email] or call [phone]'
    >>> redact("my card is 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00")
    'my card is [card], IBAN [iban]'

What counts:

- ``[email]``: ``local@domain.tld``.
- ``[iban]``: two letters, two check digits, then 11–30 letters/digits, optionally in groups of four
  separated by single spaces (15–34 characters in all: the IBAN lengths). Shape only, no mod-97
  check: an IBAN with a typo is still someone's account.
- ``[card]``: 13–19 digits, optionally separated by single spaces or dashes, that pass the Luhn
  checksum. A digit run that fails Luhn is not a card (it may still be a phone number), nor is a
  list of years ("1940 1980 2010 2029" happens to pass Luhn).
- ``[phone]``: international numbers (``+`` and 8–15 digits), North-American shapes
  (``(555) 123-4567``, ``555-123-4567``), national numbers starting with ``0`` in groups
  (``020 7946 0958``, ``06 12 34 56 78``) and bare runs of 10–11 digits.

Years, catalogue ids, ratings and runtimes ("Alien (1979)", "1995 1996 1997", "id 27411", "8.5/10",
"120 min") are left alone: the patterns ask for the shapes above, not for "many digits".

The chat service stores and logs only redacted user text; the engine (LLM and retrieval) sees the
original text of the current turn, so "my email is …" still gets a sensible reply, but nothing
personal outlives the turn.
"""

from __future__ import annotations

import re

EMAIL = "[email]"
PHONE = "[phone]"
CARD = "[card]"
IBAN = "[iban]"

_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b", re.IGNORECASE)
# 13-19 digits, single space or dash allowed between any two
_CARD_RE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE_RES = (
    # +44 20 7946 0958, +1 (555) 123-4567, +33612345678
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){1,6}(?!\d)"),
    # (555) 123-4567, 555-123-4567, 555.123.4567
    re.compile(r"(?<![\w(])(?:\(\d{3}\)[ ]?|\d{3}[-. ])\d{3}[-. ]\d{4}(?!\d)"),
    # 020 7946 0958, 06 12 34 56 78, 0151-1234567
    re.compile(r"(?<![\w.])0\d{1,4}(?:[ .-]\d{2,8}){1,4}(?![\d])"),
    # 07700900123, 5551234567
    re.compile(r"(?<![\w.])\d{10,11}(?![\w.])"),
)


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a string of digits (payment cards end with a Luhn check digit)."""
    total = 0
    for n, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if n % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _looks_like_years(text: str) -> bool:
    """"1940 1980 2010 2029": four-digit groups that are all plausible years (1800-2099) are a list of
    years, whatever Luhn says (card numbers start with 2-6, and none with a year-like group each)."""
    groups = re.split(r"[ -]", text)
    return len(groups) > 1 and all(len(g) == 4 and 1800 <= int(g) <= 2099 for g in groups)


def _card(m: re.Match[str]) -> str:
    digits = _digits(m.group(0))
    if 13 <= len(digits) <= 19 and luhn_ok(digits) and not _looks_like_years(m.group(0)):
        return CARD
    return m.group(0)


def _iban(m: re.Match[str]) -> str:
    compact = m.group(0).replace(" ", "")
    return IBAN if 15 <= len(compact) <= 34 and sum(c.isdigit() for c in compact) >= 8 else m.group(0)


def _phone(m: re.Match[str]) -> str:
    return PHONE if 8 <= len(_digits(m.group(0))) <= 15 else m.group(0)


REDACTED = "[redacted]"
_DIGIT_RUN_RE = re.compile(r"(?<![\d])\d(?:[ .-]?\d){5,}(?![\d])")
_MIN_ECHO_DIGITS = 6


def personal_data(text: str) -> list[str]:
    """The strings :func:`redact` would replace in ``text`` (to scrub echoes of them elsewhere)."""
    found: list[str] = []
    probe = redact(text, collect=found)
    return found if probe != text else []


def redact(text: str, known: list[str] | tuple[str, ...] = (), collect: list[str] | None = None) -> str:
    """``text`` with emails, IBANs, payment cards and phone numbers replaced by placeholders.

    ``known``: personal data found in the person's message of this turn (:func:`personal_data`).
    A reply may echo it mangled (the LLM copies "4111 1111 1111" of a 16-digit card: no longer a
    valid card), so any run of 6+ digits in ``text`` whose digits occur in a known item is replaced
    with ``[redacted]`` too. ``collect``, when given, receives the strings that were replaced."""
    if not text:
        return text

    def sub(pattern: re.Pattern[str], repl, text: str) -> str:  # noqa: ANN001
        def one(m: re.Match[str]) -> str:
            out = repl(m) if callable(repl) else repl
            if collect is not None and out != m.group(0):
                collect.append(m.group(0))
            return out

        return pattern.sub(one, text)

    text = sub(_EMAIL_RE, EMAIL, text)
    text = sub(_IBAN_RE, _iban, text)
    text = sub(_CARD_RE, _card, text)
    for pattern in _PHONE_RES:
        text = sub(pattern, _phone, text)
    known_digits = [d for d in (_digits(k) for k in known) if len(d) >= _MIN_ECHO_DIGITS]
    if known_digits:

        def echo(m: re.Match[str]) -> str:
            digits = _digits(m.group(0))
            return REDACTED if any(digits in k for k in known_digits) else m.group(0)

        text = sub(_DIGIT_RUN_RE, echo, text)
    return text


def redact_all(texts: list[str], known: list[str] | tuple[str, ...] = ()) -> list[str]:
    """:func:`redact` on each string (state fields that keep the person's own words)."""
    return [redact(t, known) for t in texts]
