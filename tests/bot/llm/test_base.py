"""The interface types and the stop-string filter shared by backends."""

from __future__ import annotations

import pytest

from bot.llm.base import ChatMessage, GenerationConfig, LLMError, StopStringFilter, check_messages


def test_chat_message_rejects_unknown_role():
    with pytest.raises(ValueError, match="role must be one of"):
        ChatMessage("tool", "x")  # type: ignore[arg-type]


def test_generation_config_defaults_are_independent_and_validated():
    a, b = GenerationConfig(), GenerationConfig()
    a.stop.append("x")
    assert b.stop == []
    with pytest.raises(ValueError, match="max_tokens"):
        GenerationConfig(max_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        GenerationConfig(temperature=-0.1)


def test_check_messages_gives_wire_form_and_rejects_bad_input():
    assert check_messages([ChatMessage("system", "s"), ChatMessage("user", "u")]) == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
    ]
    with pytest.raises(LLMError, match="at least one message"):
        check_messages([])
    with pytest.raises(LLMError, match=r"messages\[1\] is a dict"):
        bad = {"role": "user", "content": "x"}
        check_messages([ChatMessage("user", "u"), bad])  # type: ignore[list-item]


def _run(stops: list[str], pieces: list[str]) -> tuple[str, list[str], bool]:
    f = StopStringFilter(stops)
    emitted = [f.push(p) for p in pieces]
    emitted.append(f.flush())
    return "".join(emitted), emitted, f.stopped


def test_stop_filter_without_stops_passes_everything_through():
    text, emitted, stopped = _run([], ["a", "b<", "c"])
    assert (text, stopped) == ("ab<c", False)
    assert emitted[:3] == ["a", "b<", "c"]


def test_stop_filter_cuts_a_stop_string_split_across_pieces():
    text, emitted, stopped = _run(["</answer>"], ["Hello wor", "ld</ans", "wer> ignored", " more"])
    assert text == "Hello world"
    assert stopped
    assert "</" not in "".join(emitted)


def test_stop_filter_releases_held_text_that_turned_out_not_to_stop():
    f = StopStringFilter(["\n\nUser:"])
    assert f.push("one\n") == "one"  # "\n" might start the stop string: held back
    assert f.push("\ntwo") == "\n\ntwo"  # it did not
    assert f.push("\n\nUs") == ""
    assert f.flush() == "\n\nUs"  # stream ended without completing the stop string
    assert not f.stopped


def test_stop_filter_uses_the_earliest_of_several_stops():
    text, _, stopped = _run(["END", "##"], ["a##bEND"])
    assert (text, stopped) == ("a", True)
