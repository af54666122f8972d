"""Replies written without the LLM: answers from catalogue facts, honest "I can't", questions."""

from __future__ import annotations

import pytest

from bot.policy import Action
from bot.replies import answer_text, answer_values, fixed_reply, follow_up, pick_question
from bot.state import SessionState
from bot.understanding import Understander
from prompts.loader import PromptLibrary


@pytest.fixture(scope="module")
def movies() -> Understander:
    from tests.bot.test_titles import movie_catalogue

    return Understander.from_items(movie_catalogue())


def _by_label(u: Understander, label: str):
    return next(it for it in u.vocab.items.values() if it.label == label)


@pytest.mark.slow
def test_answers_come_from_the_real_catalogue(movies: Understander):
    lib = PromptLibrary()
    heat = _by_label(movies, "Ocean's Eleven (2001)")
    assert answer_values(heat, "director", movies.vocab) == ("director", ["Steven Soderbergh"])
    en = answer_text(lib, "default", heat, "director", movies.vocab, "en", "movie")
    assert en == "Ocean's Eleven (2001) was directed by Steven Soderbergh."
    zh = answer_text(lib, "default", heat, "director", movies.vocab, "zh", "movie")
    assert zh == "《Ocean's Eleven》的导演是Steven Soderbergh。"
    es = answer_text(lib, "default", heat, "duration", movies.vocab, "es", "movie")
    assert es == f"Ocean's Eleven (2001) dura {heat.facts['runtime']} minutos."
    rating = answer_text(lib, "default", heat, "rating", movies.vocab, "en", "movie")
    assert f"{heat.facts['rt_meter']}%" in rating
    # no plot text in this catalogue: said plainly, never invented
    assert answer_text(lib, "default", heat, "plot", movies.vocab, "en", "movie") == (
        "The catalogue doesn't say the plot of Ocean's Eleven (2001).")


def test_cant_and_questions_in_three_languages():
    lib = PromptLibrary()
    from tests.bot.test_titles import small_catalogue

    vocab = Understander.from_items(small_catalogue()).vocab
    for lang, start in (("en", "I can only help with movies"), ("es", "Solo puedo ayudarte con películas"),
                        ("zh", "我只能帮你找电影")):
        s = SessionState(language=lang)
        text = fixed_reply(lib, "default", s, Action("cant", "test", topic="off_topic"), vocab, None,
                           domain="movies", item_noun="movie")
        assert text is not None and text.startswith(start)
    s = SessionState(language="en")
    text = fixed_reply(lib, "default", s, Action("cant", "test", topic="year_after:2014"), vocab, None,
                       domain="movies", item_noun="movie")
    assert text is not None and "ends in 2014" in text
    asked = set()
    for _ in range(3):
        q = pick_question(lib, "default", s, "genre", "en", "movies", "movie")
        assert q and q not in asked
        asked.add(q)
        s.record_question("genre", q)
    assert pick_question(lib, "default", s, "genre", "en", "movies", "movie") == ""  # all asked: none again
    f1 = follow_up(lib, "default", s, domain="recipes", item_noun="recipe")
    f2 = follow_up(lib, "default", s, domain="recipes", item_noun="recipe")
    assert f1 and f2 and f1 != f2 and s.questions_in_a_row == 3  # follow-ups are not elicitation


def test_missing_items_are_named_with_the_catalogues_end():
    from tests.bot.test_titles import small_catalogue

    vocab = Understander.from_items(small_catalogue()).vocab
    text = fixed_reply(PromptLibrary(), "default", SessionState(), Action("cant", "t", topic="missing_item:Avatar 2"),
                       vocab, None, domain="movies", item_noun="movie")
    assert text == "Avatar 2 is not in this catalogue, which ends in 2017. Shall I find something similar?"
