"""The grounding check: replies name only recommended items (or the person's own)."""

from __future__ import annotations

import pytest

from bot.grounding import GroundedStream, ground_text
from bot.titles import TitleIndex


@pytest.fixture(scope="module")
def titles(films):
    return TitleIndex(films)


def test_sentence_naming_an_unrecommended_catalogue_item_is_dropped(titles):
    text = "You will love Spaceballs, a silly parody. The Godfather is also great. Enjoy!"
    out, report = ground_text(titles, ["m4"], text)
    assert "Spaceballs" in out and "Enjoy!" in out
    assert "Godfather" not in out
    assert report.dropped == ["The Godfather is also great."]
    assert report.named == {"m4"}


def test_invented_title_with_year_is_dropped(titles):
    out, report = ground_text(titles, ["m4"], "Spaceballs (1987) is fun. Try Inception (2010) too.")
    assert out.strip() == "Spaceballs (1987) is fun."
    assert report.dropped and "Inception" in report.dropped[0]


def test_the_persons_own_items_may_be_referred_to(titles):
    text = "Since you liked Alien, Galaxy Quest (1999) is a funny take on space adventures."
    out, report = ground_text(titles, ["m5"], text, context_ids=["m1"])
    assert out == text and not report.dropped
    out, report = ground_text(titles, ["m5"], text)  # without the context, Alien is not allowed
    assert out == ""


def test_streamed_pieces_give_the_same_result_as_whole_text(titles):
    text = "Galaxy Quest (1999) is hilarious. The Godfather is a classic.\nGhostbusters is fun too."
    whole, _ = ground_text(titles, ["m5", "m7"], text)
    stream = GroundedStream(titles, ["m5", "m7"])
    pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
    assert "".join(stream.filter(pieces)) == whole
    assert "Godfather" not in whole and "Ghostbusters" in whole


def test_title_with_year_after_other_capitalised_words(titles):
    out, report = ground_text(titles, ["m1"], 'Watch Alien (1979) tonight. Then "The Matrix" (1999).')
    assert out.strip() == "Watch Alien (1979) tonight."
    assert report.named == {"m1"} and len(report.dropped) == 1
