"""The conversational suite: its file format, its checks on real catalogue items, and a slice run through
the real HTTP API (a `recbot serve` child started by the suite, real index, real tiny LLM)."""

from __future__ import annotations

import pytest

from bot.claims import ClaimChecker
from bot.titles import TitleIndex
from eval.dialogue import SUITE_DIR, SuiteError, load_suite
from eval.dialogue_checks import (
    Faithfulness,
    TurnView,
    check_answer,
    check_cards,
    check_faithfulness,
    detect_language,
)
from tests.bot.test_grounding import MOVIES, RECIPES

BY_ID = {it.id: it for it in [*MOVIES, *RECIPES]}
WORDS = {"en": {"the", "and", "you", "a", "for", "as", "asked"}, "es": {"el", "la", "de", "como", "pediste", "una"}}


def _view(ids, text="", previous=(), **kw):
    items = [BY_ID[i] for i in ids]
    cards = [{"id": it.id, "label": it.label, "title": it.title, "why": kw.pop("why", "")} for it in items]
    return TurnView(text=text, action="recommend" if ids else "answer", cards=cards, items=items,
                    language=kw.pop("language", "en"), previous_cards=[[BY_ID[i] for i in p] for p in previous], **kw)


def test_the_packaged_suite_loads_in_three_languages_and_two_catalogues():
    convs = load_suite()
    assert {c.language for c in convs} == {"en", "zh", "es"}
    assert {c.catalogue for c in convs} == {"movies", "recipes"}
    assert len(convs) >= 20 and sum(1 for c in convs for t in c.turns if t.say) >= 40
    assert {c.id for c in load_suite(tags=["slice"])} >= {"en-horror-80s-funnier", "zh-scifi-director",
                                                          "es-terror-80s", "rec-veg-no-mushrooms"}


@pytest.mark.parametrize("text,says", [
    ("catalogue: movies\nlanguage: en\nconversations:\n  - id: a\n    turns:\n      - {say: hi, expect: {cardz: {}}}\n",
     r"x\.yaml: conversation 'a', turn 1: unknown expect key\(s\) \['cardz'\]"),
    ("catalogue: movies\nlanguage: en\nconversations:\n  - id: a\n    turns:\n      - {feedback: {kind: love, card: 1}}\n",
     r"conversation 'a', turn 1: feedback needs kind"),
    ("language: en\nconversations: []\n", r"x\.yaml: needs 'catalogue'"),
    ("catalogue: movies\nlanguage: en\nconversations:\n  - turns: []\n", r"x\.yaml: conversation 1: needs an 'id'"),
])
def test_bad_files_are_named_with_conversation_turn_and_field(tmp_path, text, says):
    (tmp_path / "x.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SuiteError, match=says):
        load_suite([tmp_path])


def test_card_checks_read_the_catalogue_facts():
    ok = check_cards(_view(["thing", "gb"]), {"genres_any": ["horror"], "year": [1980, 1989],
                                              "facts": {"runtime": {"max": 110}}})
    assert all(passed for _, passed, _ in ok)
    bad = check_cards(_view(["thing", "int"], feedback={"int"}, shown={"thing"}),
                      {"people_any": ["John Carpenter"], "role": "director"})
    notes = {note: passed for _, passed, note in bad}
    assert notes["director John Carpenter: 1/2 (not: ['Interstellar (2014)'])"] is False
    assert not notes["new items (['The Thing (1982)'] again)"]
    assert not notes["feedback items stay out (['Interstellar (2014)'] back)"]
    no_mushrooms = check_cards(_view(["dinner:cabbage_rolls"]), {"exclude_people": ["mushroom"]})
    assert next(passed for _, passed, _ in no_mushrooms) is False


def test_answer_checks_want_the_true_fact_of_the_referenced_card():
    prev = [["o12", "hap", "thing"]]
    assert check_answer(_view([], "Steven Soderbergh directed it.", prev), {"fact": "director", "card": 1},
                        BY_ID.get)[0][1]
    assert not check_answer(_view([], "Bill Murray directed it.", prev), {"fact": "director", "card": 1},
                            BY_ID.get)[0][1]
    assert check_answer(_view([], "The Happening is the shortest, at 91 minutes.", prev),
                        {"fact": "title", "card": "shortest"}, BY_ID.get)[0][1]


def test_a_fact_the_catalogue_lacks_must_be_said_to_be_missing():
    prev = [["o12", "hap", "thing"]]
    cannot = {"en": ["no information", "not in the catalogue"], "zh": ["没有"]}
    assert "writer" not in BY_ID["o12"].facts
    said = _view([], "The catalogue has no information about its budget.", prev)
    assert check_answer(said, {"fact": "box_office", "card": 1}, BY_ID.get, cannot)[0][1]
    invented = _view([], "It made 300 million dollars.", prev)
    assert not check_answer(invented, {"fact": "box_office", "card": 1}, BY_ID.get, cannot)[0][1]


def test_an_initial_does_not_end_a_sentence_for_the_faithfulness_check():
    from tests.bot.test_grounding import _film

    west = _film("west", "The Way West", 1967, ["western"], ["Andrew V. McLaglen"], ["Ben Maddow"], ["Kirk Douglas"])
    films = [*MOVIES, west]
    by_id = {f.id: f for f in films}
    claims = ClaimChecker(TitleIndex(films), by_id.get, films)
    view = TurnView(text="1. The Way West (1967): western, como pediste; dirigida por Andrew V. McLaglen.",
                    action="recommend", cards=[{"id": "west", "label": west.label, "title": west.title, "why": ""}],
                    items=[west], language="es", previous_cards=[])
    assert check_faithfulness(view, claims, Faithfulness())[0][1]


def test_a_recommendation_reply_needs_one_line_per_card_in_one_list_style():
    claims = ClaimChecker(TitleIndex(MOVIES), BY_ID.get, MOVIES)
    whole = _view(["gb", "thing"], "Here are 2 films for you:\n1. Ghostbusters (1984): comedy.\n2. The Thing (1982): horror.")
    assert check_faithfulness(whole, claims, Faithfulness())[0][1]
    lost = _view(["gb", "thing"], "Here are 2 films for you:\n2. The Thing (1982): horror.")
    assert "no line for Ghostbusters (1984)" in check_faithfulness(lost, claims, Faithfulness())[0][2]
    mixed = _view(["gb", "thing"], "Here are 2 films for you:\n1. 2. The Thing (1982): horror.\n"
                  "- Ghostbusters (1984): comedy.")
    assert "mixed" in check_faithfulness(mixed, claims, Faithfulness())[0][2]


def test_faithfulness_counts_false_claims_and_unfinished_sentences():
    claims = ClaimChecker(TitleIndex(MOVIES), BY_ID.get, MOVIES)
    tally = Faithfulness()
    good = _view(["gb"], "Here is a film for you:\n1. Ghostbusters (1984): directed by Ivan Reitman.",
                 why="a comedy film from 1984")
    assert check_faithfulness(good, claims, tally)[0][1] and tally.false == 0 and tally.sentences == 2
    bad = _view(["gb"], "1. Ghostbusters (1984): directed by Bill Murray. It keeps you on the edge of")
    verdict = check_faithfulness(bad, claims, tally, forbid=["11 Oscars"])[0]
    assert not verdict[1] and "unfinished" in verdict[2] and tally.false == 1


def test_language_is_told_without_titles_and_names():
    strip = ["Ghostbusters (1984)", "Ivan Reitman"]
    assert detect_language("1. Ghostbusters (1984)：由Ivan Reitman执导，正如你所要求的。", strip, WORDS) == "zh"
    assert detect_language("1. Ghostbusters (1984): dirigida por Ivan Reitman, como pediste.", strip, WORDS) == "es"
    assert detect_language("1. Ghostbusters (1984): directed by Ivan Reitman, as you asked.", strip, WORDS) == "en"


# -- the slice, through the real API ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def suite_settings(tmp_path_factory):
    """A data dir with the films the slice talks about and 800 recipes, ingested."""
    from bot import services
    from bot.settings import Settings
    from retrieval.catalogue import load_catalogue

    data = tmp_path_factory.mktemp("dialogue-suite")
    (data / "prompts").mkdir()
    settings = Settings(data_dir=data, catalogue="movies",
                        llm={"backend": "llamacpp", "model": "smollm2-135m", "max_tokens": 40})
    def wanted(it) -> bool:  # ~1,300 films: well reviewed ones, the 1980s, 90s comedies, two directors
        reviews = it.facts.get("rt_reviews") or 0
        nineties_comedy = bool(it.year and 1990 <= it.year <= 1999 and "comedy" in {g.casefold() for g in it.genres})
        return reviews >= 170 or bool(it.year and 1980 <= it.year <= 1989 and reviews >= 45) or (
            nineties_comedy and reviews >= 45) or any(p in it.people for p in ("Christopher Nolan", "John Carpenter"))

    films = [it for it in load_catalogue("movies", progress=False).items if wanted(it)]
    recipes = load_catalogue("recipes", progress=False).items[:800]
    for name, items in (("movies", films), ("recipes", recipes)):
        services.catalogue_index(settings, name).ingest(items, services.embedder(settings), progress=False)
    return settings


@pytest.mark.slow
def test_the_slice_runs_through_the_api_and_explanations_hold(suite_settings):
    from eval.dialogue import run

    convs = load_suite([SUITE_DIR], tags=["slice"])
    result = run(suite_settings, convs, progress=False)
    said = sum(1 for c in convs for t in c.turns if t.say)
    assert len(result.turns) == said
    rates = result.rates()
    assert {"category: cards", "category: faithfulness", "category: language", "turns", "conversations",
            "language: en", "language: zh", "language: es", "catalogue: recipes"} <= set(rates)
    # explanations are built from checked reasons: no false claim, no unfinished sentence
    assert result.faithfulness.sentences >= 6 and result.faithfulness.false == 0, result.faithfulness.examples
    ok, total = rates["category: faithfulness"]
    assert ok == total, result.failures()
    first = next(t for t in result.turns if t.conversation == "en-horror-80s-funnier")
    assert first.action == "recommend" and first.passed, result.failures()
    shifted = [t for t in result.turns if t.conversation == "en-alien-funnier"]  # a liked film vs "funnier"
    assert len(shifted) == 2 and all(t.passed for t in shifted), result.failures()
    # a liked film that the held decade and genre do not fit leads: sci-fi like Interstellar, not 90s comedies
    new_topic = [t for t in result.turns if t.conversation == "zh-comedy-then-interstellar"]
    assert len(new_topic) == 2 and all(t.passed for t in new_topic), result.failures()
    assert "category: cards" in result.table() and "false claims / 100" in result.table()
