"""Phrase books for explanations: every language renders every phrase, and gaps fall back to English."""

from __future__ import annotations

import re

import pytest

from prompts.loader import PromptError
from prompts.phrases import EXPLAIN_DIR, PhraseBook, facts_config, languages, phrase_book


def _keys(node, prefix=""):
    for k, v in node.items():
        if isinstance(v, dict) and k not in ("genres", "nouns", "fact_names", "roles"):
            yield from _keys(v, f"{prefix}{k}.")
        elif isinstance(v, str) and k not in ("language", "list_join", "last_join", "reason_join"):
            yield f"{prefix}{k}"


VALUES = {"noun": "x", "nouns": "xs", "count": 3, "n": 1, "label": "Alien (1979)", "reasons": "r",
          "genres": "horror", "name": "Ridley Scott", "names": "a", "year": 1979, "range": "r", "lo": 1970,
          "hi": 1979, "decade": 1970, "value": "v", "limit": "l", "liked": "Aliens (1986)", "shared": "s",
          "other": "o", "terms": "t", "description": "d", "score": "s", "director": "Ridley Scott",
          "ingredients": "i", "v": 7, "diets": "vegetarian"}


def test_the_three_languages_are_there():
    assert {"en", "zh", "es"} <= set(languages())


@pytest.mark.parametrize("language", ["en", "zh", "es"])
def test_every_phrase_renders_and_nothing_is_left_in_braces(language):
    book = phrase_book(language)
    for key in _keys(book.data):
        text = book.render(key, **VALUES)
        assert text and "{{" not in text and "{%" not in text, key


def test_chinese_and_spanish_are_written_in_their_language():
    zh, es = phrase_book("zh"), phrase_book("es")
    assert re.search(r"[\u4e00-\u9fff]", zh.render("reasons.genre_wish", genres="恐怖"))
    assert es.render("reasons.person_wish.director", name="Guillermo del Toro") == \
        "dirigida por Guillermo del Toro, como pediste"
    assert zh.genre("Sci-Fi") == "科幻" and es.genre("horror") == "terror" and phrase_book("en").genre("Horror") == "horror"
    assert zh.join(["a", "b", "c"]) == "a、b和c" and es.join(["a", "b"]) == "a y b"


def test_unknown_language_and_region_codes():
    assert phrase_book("fr").language == "en"
    assert phrase_book("zh-CN").language == "zh" and phrase_book("es_MX").language == "es"


def test_a_missing_phrase_falls_back_to_english(tmp_path):
    (tmp_path / "en.yaml").write_text((EXPLAIN_DIR / "en.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "xx.yaml").write_text("language: xx\nintro: {one: 'Voilà:'}\n", encoding="utf-8")
    book = phrase_book("xx", root=tmp_path)
    assert book.render("intro.one", noun="n") == "Voilà:"
    assert book.render("intro.many", count=2, nouns="films") == "Here are 2 films for you:"


def test_errors_name_the_file_and_the_phrase(tmp_path):
    (tmp_path / "en.yaml").write_text("language: en\nintro: {one: '{{ missing }}'}\nbad: [\n", encoding="utf-8")
    with pytest.raises(PromptError, match="en.yaml: not valid YAML"):
        phrase_book("en", root=tmp_path)
    book = PhraseBook({"language": "en", "intro": {"one": "{{ missing }}"}}, tmp_path / "en.yaml")
    with pytest.raises(PromptError, match=r"en.yaml: phrase 'intro.one'.*missing"):
        book.render("intro.one")
    with pytest.raises(PromptError, match="no phrase 'intro.two'"):
        book.render("intro.two")


def test_facts_rules_compile():
    cfg = facts_config()
    assert set(cfg["roles"]) >= {"director", "cast", "ingredient"}
    for spec in cfg["numbers"].values():
        for unit in spec["units"]:
            re.compile(unit)
    for c in cfg["comparisons"]:
        re.compile(c["pattern"])
