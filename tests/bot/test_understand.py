"""Deterministic understanding of messages, and the checked merge of an LLM's JSON reading."""

from __future__ import annotations

import json
import time

import pytest

from bot.state import SessionState
from bot.understanding import (
    GENRE_SYNONYMS,
    LLMPreferences,
    Understander,
    Understanding,
    Vocabulary,
    llm_json_schema,
    merge_llm_output,
    parse_llm_json,
)
from prompts.loader import PromptLibrary
from retrieval.schema import Item, Range
from tests.bot.test_titles import movie_catalogue, small_catalogue


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.from_items(small_catalogue())


@pytest.fixture(scope="module")
def parser(vocab: Vocabulary) -> Understander:
    return Understander(vocab)


def parse(parser: Understander, text: str, state: SessionState | None = None) -> Understanding:
    return parser.parse(text, state)


# ------------------------------------------------------------------------------------ vocabulary
def test_vocabulary_is_built_from_the_catalogue(vocab: Vocabulary):
    assert "Sci-Fi" in vocab.genre_names and "Comedy" in vocab.genre_names
    assert vocab.resolve_genre("science fiction") == ["Sci-Fi"]  # the catalogue's own spelling
    assert vocab.resolve_genre("scary") == ["Horror"]
    assert vocab.resolve_genre("comedies") == ["Comedy"]
    assert vocab.resolve_genre("rom-com") == ["Romance", "Comedy"]
    assert vocab.resolve_genre("musical") == []  # no musicals in this catalogue: not a genre here
    assert vocab.resolve_person("tom hanks") == "Tom Hanks"
    assert vocab.resolve_person("Kubrick") == "Stanley Kubrick"  # a surname only one prolific person has
    assert vocab.resolve_person("Reiner") == "Rob Reiner"
    assert vocab.resolve_person("Scott") is None  # Ridley or Tony: no dominant Scott
    assert vocab.resolve_person("Nobody Atall") is None
    assert vocab.person_min_words == 2
    assert vocab.year_range == (1973, 2017)
    assert vocab.duration_fact() == "runtime"
    assert vocab.rating_fact(7, percent=False) == "rating"
    assert vocab.rating_fact(80, percent=True) == "meter"


def test_every_synonym_concept_is_a_real_concept():
    # a synonym table entry per concept; no phrase is listed under two concepts
    seen: dict[str, str] = {}
    for concept, phrases in GENRE_SYNONYMS.items():
        for p in phrases:
            assert p not in seen, f"{p!r} listed under {seen.get(p)} and {concept}"
            seen[p] = concept


# --------------------------------------------------------------------------------------- genres
@pytest.mark.parametrize("text, wanted, unwanted", [
    ("something scary", ["Horror"], []),
    ("I want something funny", ["Comedy"], []),
    ("any good sci-fi?", ["Sci-Fi"], []),
    ("science fiction please", ["Sci-Fi"], []),
    ("I like comedies and thrillers", ["Comedy", "Thriller"], []),
    ("a rom-com for tonight", ["Romance", "Comedy"], []),
    ("no horror", [], ["Horror"]),
    ("no horror or gore", [], ["Horror"]),
    ("funny but nothing scary", ["Comedy"], ["Horror"]),
    ("anything but romance", [], ["Romance"]),
    ("I don't want anything scary", [], ["Horror"]),
    ("I'm sick of action movies, something dramatic", ["Drama"], ["Action"]),
    ("I don't mind horror", ["Horror"], []),  # "don't mind" is not a negation
    ("horror is not my thing", [], ["Horror"]),  # a verdict after the genre
    ("I find westerns boring, give me sci-fi", ["Sci-Fi"], ["Western"]),
    ("comedy is fine, but no horror", ["Comedy"], ["Horror"]),
    ("Looking for some scary movies, but not gory", ["Horror"], []),  # milder horror, not none
    ("horror movies, but not too scary", ["Horror"], []),
    ("a thriller but not too scary", ["Thriller"], ["Horror"]),  # horror is not wanted here: none of it
])
def test_genres_and_negation(parser: Understander, text: str, wanted: list[str], unwanted: list[str]):
    u = parse(parser, text)
    assert u.genres == wanted
    assert u.unwanted_genres == unwanted
    assert u.intent == "recommend"


# ------------------------------------------------------------------------------- years / decades
@pytest.mark.parametrize("text, expected", [
    ("something from the 80s", Range(1980, 1989)),
    ("'90s thrillers", Range(1990, 1999)),
    ("1970s sci-fi", Range(1970, 1979)),
    ("from the nineties", Range(1990, 1999)),
    ("late 80s", Range(1986, 1989)),
    ("early 2000s", Range(2000, 2003)),
    ("after 2000", Range(2001, None)),
    ("since 1995", Range(1995, None)),
    ("before 1990", Range(None, 1989)),
    ("before the 80s", Range(None, 1979)),
    ("between 1990 and 1995", Range(1990, 1995)),
    ("1985-1990", Range(1985, 1990)),
    ("80s or 90s", Range(1980, 1999)),
    ("something from 1994", Range(1994, 1994)),
    ("nothing before 1980", Range(1980, None)),  # a negated bound flips
    ("an old classic western", Range(None, 1997)),  # 20 years before the catalogue's newest year (2017)
    ("some older classics please", Range(None, 1997)),
    # "classic" alone is praise ("Heat is a classic!") or a canon as likely from the 80s: no year bound
    ("Heat is a classic!", None),
    ("I love classic movies", None),
    ("that one is a modern classic", None),
    ("I don't tend to watch newer movies", None),  # a negated shift in time is no wish
    ("something recent", Range(2007, None)),  # the last decade of the catalogue (newest year 2017)
    ("I am looking for new movies to watch", None),  # new to me, not recent
    ("after 2000 but before 2010", Range(2001, 2009)),
])
def test_years_and_decades(parser: Understander, text: str, expected: Range | None):
    assert parse(parser, text).year == expected


def test_no_year_from_a_title_or_plain_numbers(parser: Understander):
    assert parse(parser, "I loved 2012 and inception").year is None  # "2012" is the film here
    assert parse(parser, "show me 3 comedies").year is None


# ---------------------------------------------------------------------------------------- people
def test_people_multi_word_names_with_negation(parser: Understander):
    u = parse(parser, "I like Tom Hanks but not Tom Cruise")
    assert u.people == ["Tom Hanks"]
    assert u.unwanted_people == ["Tom Cruise"]
    assert u.liked_ids == [] and u.disliked_ids == []  # "Cruise" is not the film "The Cruise"


def test_people_in_lower_case_and_names_inside_titles(parser: Understander):
    assert parse(parser, "anything with meg ryan").people == ["Meg Ryan"]
    assert parse(parser, "I hate Tom Cruise but love Nicole Kidman").people == ["Nicole Kidman"]
    assert parse(parser, "Ryan is my friend").people == []  # one word: not a person here


# ---------------------------------------------------------------------------------------- titles
def test_liked_disliked_and_reference_titles(parser: Understander):
    u = parse(parser, "I loved the babadook and heat")
    assert u.liked_ids == ["babadook", "heat95"] and u.intent == "recommend"
    assert u.ambiguous == {"heat95": ["heat86"]}
    assert parse(parser, "something like The Matrix").liked_ids == ["matrix"]
    assert parse(parser, "I hated Saw").disliked_ids == ["saw"]
    assert parse(parser, "I didn't like Inception").disliked_ids == ["inception"]
    assert parse(parser, "Inception wasn't good").disliked_ids == ["inception"]
    u = parse(parser, "I loved Heat but Alien was boring")
    assert u.liked_ids == ["heat95"] and u.disliked_ids == ["alien"]
    assert u.wishes == []  # nothing left to search for once titles and sentiment are taken out
    assert parse(parser, "I've already seen Drive").seen_ids == ["drive"]
    assert parse(parser, "heat").liked_ids == ["heat95"]  # a bare title answers "a film you liked?"


def test_a_negation_ends_where_a_new_sentence_visibly_starts(parser: Understander):
    # chat text often runs sentences together without a stop
    u = parse(parser, "I have not Are there by chance any good comedies?")
    assert u.genres == ["Comedy"] and u.unwanted_genres == []
    u = parse(parser, "I like everything but fantasy movies I especially like comedies")
    assert u.genres == ["Comedy"] and u.unwanted_genres == ["Fantasy"]
    u = parse(parser, "I haven't seen Heat I think I liked Alien")
    assert u.liked_ids == ["alien"] and u.disliked_ids == []
    assert parse(parser, "I don't think I like horror").unwanted_genres == ["Horror"]  # one sentence
    u = parse(parser, "I'd love something funny. If nothing comes to mind, a drama")
    assert u.unwanted_genres == [] and "Comedy" in u.genres


def test_a_film_not_seen_is_named_not_disliked(parser: Understander):
    u = parse(parser, "I haven't seen Heat")
    assert u.mentioned_ids == ["heat95"] and u.disliked_ids == [] and u.liked_ids == []
    u = parse(parser, "I have not seen Heat, is it good?")
    assert u.intent == "ask_about" and u.about_id == "heat95" and u.disliked_ids == []
    assert parse(parser, "I haven't seen Heat and I hate it").disliked_ids == ["heat95"]


def test_the_words_of_a_title_say_nothing_about_it(parser: Understander):
    items = [*small_catalogue(), Item(id="badmoms", title="Bad Moms", text="Bad Moms (2016). Comedy.", year=2016,
                                      genres=("Comedy",), people=("Mila Kunis",), popularity=100),
             Item(id="notteen", title="Not Another Teen Movie", text="Not Another Teen Movie (2001). Comedy.",
                  year=2001, genres=("Comedy",), people=("Chyler Leigh",), popularity=60)]
    own = Understander(Vocabulary.from_items(items))
    u = own.parse("I like Bad Moms (2016) I like Pulp Fiction")  # "Bad" is the title's word, not a verdict
    assert set(u.liked_ids) == {"badmoms", "pulp"} and u.disliked_ids == []
    u = own.parse("I really like Spaceballs. And I also enjoyed Not Another Teen Movie (2001).")
    assert u.liked_ids == ["notteen"] and u.disliked_ids == []  # its "Not" negates nothing
    u = parse(parser, "Inception was good I haven't seen the others")  # the negation comes after the praise
    assert u.liked_ids == ["inception"] and u.disliked_ids == []
    assert parse(parser, "Inception wasn't good").disliked_ids == ["inception"]


@pytest.mark.parametrize("text", [
    "I haven't heard of Inception, it sounds good", "I did not see Inception yet",
    "I haven't gotten around to Inception",
])
def test_a_film_not_heard_of_or_not_seen_is_only_named(parser: Understander, text: str):
    u = parse(parser, text)
    assert u.disliked_ids == [] and "inception" in u.mentioned_ids


def test_not_caring_about_the_genre_is_no_negation(parser: Understander):
    u = parse(parser, "I don't care about the genre maybe something like Inception")
    assert u.liked_ids == ["inception"] and u.disliked_ids == []


def test_negated_titles_and_words_never_become_wishes(parser: Understander):
    u = parse(parser, "I don't want anything like Saw or gory, something with a twist ending")
    assert u.disliked_ids == ["saw"]
    assert u.unwanted_genres == ["Horror"]
    assert u.wishes == ["something with a twist ending"]
    assert "saw" not in " ".join(u.wishes).casefold()


def test_free_text_wishes_and_moods(parser: Understander):
    u = parse(parser, "something dark and gritty set in space")
    assert u.moods == ["dark", "gritty"]
    assert u.wishes == ["something dark and gritty set in space"]
    assert parse(parser, "recommend me something").wishes == []


# -------------------------------------------------------------------------------- numeric facts
def test_numeric_constraints_on_catalogue_facts(parser: Understander):
    u = parse(parser, "a movie under 2 hours rated above 7")
    assert u.facts == {"runtime": Range(None, 120), "rating": Range(7, None)}
    assert parse(parser, "at least 90 minutes").facts == {"runtime": Range(90, None)}
    assert parse(parser, "rated at least 80%").facts == {"meter": Range(80, None)}


def test_single_word_people_and_unit_facts_for_a_recipe_catalogue():
    recipes = [
        Item(id="r1", title="Peanut Noodles", text="noodles", genres=("dinner",),
             people=("peanuts", "noodles", "soy sauce"), facts={"calories": 650.0, "prep_minutes": 20}),
        Item(id="r2", title="Tomato Soup", text="soup", genres=("lunch", "healthy"),
             people=("tomatoes", "onion", "garlic"), facts={"calories": 220.0, "prep_minutes": 35}),
        Item(id="r3", title="Garlic Bread", text="bread", genres=("snack",),
             people=("bread", "garlic", "butter"), facts={"calories": 400.0, "prep_minutes": 10}),
    ]
    vocab = Vocabulary.from_items(recipes)
    assert vocab.person_min_words == 1  # ingredients are mostly one word
    u = Understander(vocab).parse("a healthy lunch with garlic, no peanuts, under 500 calories")
    assert u.genres == ["healthy", "lunch"]
    assert u.people == ["garlic"] and u.unwanted_people == ["peanuts"]
    assert u.facts == {"calories": Range(None, 500)}
    assert Understander(vocab).parse("ready in under 30 minutes").facts == {"prep_minutes": Range(None, 30)}


# ---------------------------------------------------------------------------------------- intents
@pytest.mark.parametrize("text, intent, about", [
    ("who directed Pulp Fiction?", "ask_about", "pulp"),
    ("Is Heat any good?", "ask_about", "heat95"),
    ("Have you seen Alien?", "ask_about", "alien"),
    ("hi there", "chitchat", None),
    ("thanks!", "chitchat", None),
    ("yes", "chitchat", None),
    ("recommend me something", "recommend", None),
    ("can you suggest something like Alien?", "recommend", None),  # a request, not a question about Alien
    ("what about something funny?", "recommend", None),
])
def test_intents(parser: Understander, text: str, intent: str, about: str | None):
    u = parse(parser, text)
    assert u.intent == intent
    assert u.about_id == about


def test_explicit_requests(parser: Understander):
    for text in ("recommend me something", "surprise me", "any ideas?", "give me another one",
                 "what should I watch tonight?"):
        assert parse(parser, text).asks_for_recommendation, text
    assert not parse(parser, "I like comedies").asks_for_recommendation


# -------------------------------------------------------------------------------------- feedback
@pytest.fixture
def shown() -> SessionState:
    state = SessionState()
    state.record_recommendations(["heat95", "drive", "pulp"])
    return state


def test_feedback_by_ordinal_and_title(parser: Understander, shown: SessionState):
    u = parse(parser, "I've seen the first one", shown)
    assert [(f.kind, f.item_id) for f in u.feedback] == [("seen", "heat95")]
    assert u.intent == "feedback"
    u = parse(parser, "loved the second one but the last one looks boring", shown)
    assert [(f.kind, f.item_id) for f in u.feedback] == [("like", "drive"), ("dislike", "pulp")]
    u = parse(parser, "Drive looks great", shown)
    assert [(f.kind, f.item_id) for f in u.feedback] == [("like", "drive")]
    u = parse(parser, "seen all of them", shown)
    assert {f.item_id for f in u.feedback} == {"heat95", "drive", "pulp"}
    assert all(f.kind == "seen" for f in u.feedback)
    u = parse(parser, "none of them, sorry", shown)
    assert {(f.kind, f.item_id) for f in u.feedback} == {("dislike", i) for i in ("heat95", "drive", "pulp")}


def test_pronoun_feedback_needs_a_single_shown_item(parser: Understander):
    one = SessionState()
    one.record_recommendations(["drive"])
    u = parse(parser, "already seen it", one)
    assert [(f.kind, f.item_id) for f in u.feedback] == [("seen", "drive")]
    three = SessionState()
    three.record_recommendations(["heat95", "drive", "pulp"])
    assert parse(parser, "already seen it", three).feedback == []  # which one? not guessed
    assert parse(parser, "who is in the second one?", three).about_id == "drive"


# ------------------------------------------------------------------------------------ LLM merge
def test_llm_schema_and_the_prompt_example_agree():
    schema = json.loads(llm_json_schema())
    assert set(schema["properties"]) == set(LLMPreferences.model_fields)
    # the few-shot answer inside the understand prompt must itself be valid output
    messages = PromptLibrary().get("understand").render(user_message="x", json_schema=llm_json_schema())
    example = next(m["content"] for m in messages if m["role"] == "assistant")
    prefs = LLMPreferences.model_validate(parse_llm_json(example))
    assert prefs.liked_titles == ["Heat"] and prefs.unwanted_genres == ["Horror"]
    assert llm_json_schema() in messages[0]["content"]


def test_parse_llm_json_tolerates_fences_and_trailing_text():
    raw = 'Sure!\n```json\n{"intent": "recommend", "wishes": ["a heist"]}\n```\nHope that helps {'
    assert parse_llm_json(raw) == {"intent": "recommend", "wishes": ["a heist"]}
    with pytest.raises(ValueError):
        parse_llm_json("no json here")


def test_merge_adds_only_what_resolves_and_is_grounded(parser: Understander, vocab: Vocabulary):
    text = "my favourite is the shining, show me something with Uma Thurman from the 90s"
    base = parse(parser, text)
    assert base.liked_ids == []  # "the shining" in lower case: too ordinary for the rules
    llm = {
        "intent": "recommend",
        "liked_titles": ["The Shining", "Alien"],  # the second is not in the message
        "disliked_titles": [],
        "wanted_genres": ["crime", "space westerns"],  # the second is no catalogue genre
        "wanted_people": ["Uma Thurman", "Brad Pitt"],  # Brad Pitt is neither in the message nor here
        "year_min": 1990, "year_max": 1999,
        "wishes": ["crime with dialogue", "not too violent"],  # a negated wish is dropped
    }
    merged = merge_llm_output(base, llm, vocab)
    assert merged.llm_used and merged.llm_error is None
    assert merged.liked_ids == ["shining"]
    assert merged.genres == ["Crime"]
    assert merged.people == ["Uma Thurman"]
    assert merged.year == Range(1990, 1999)
    assert "crime with dialogue" in merged.wishes
    assert not any("violent" in w for w in merged.wishes)
    assert base.liked_ids != merged.liked_ids  # the input is not modified


def test_merge_ignores_ungrounded_and_noisy_genres(parser: Understander, vocab: Vocabulary):
    # what qwen2.5-0.5b really answered for this message: genres it was shown, not genres it was told
    text = "my girlfriend loves tearjerkers but I can't stand anything with Tom Cruise"
    base = parse(parser, text)
    merged = merge_llm_output(base, {"wanted_genres": ["Action", "Romance"],
                                     "unwanted_genres": ["Horror", "Sci-Fi"]}, vocab)
    assert merged.genres == [] and merged.unwanted_genres == []  # unwanted genres are hard filters
    assert merge_llm_output(base, {"wanted_genres": ["Drama"]}, vocab).genres == ["Drama"]  # one guess
    every = merge_llm_output(base, {"wanted_genres": vocab.genre_names}, vocab)
    assert every.genres == []
    # named in the message (here by a synonym): kept, even if the rules had missed it
    grounded = merge_llm_output(Understanding(text="spooky stuff gives me nightmares"),
                                {"unwanted_genres": ["horror"]}, vocab)
    assert grounded.unwanted_genres == ["Horror"]


def test_merge_keeps_the_rules_on_conflicts(parser: Understander, vocab: Vocabulary):
    base = parse(parser, "no horror, I hated Saw")
    llm = {"intent": "recommend", "liked_titles": ["Saw"], "wanted_genres": ["horror"]}
    merged = merge_llm_output(base, llm, vocab)
    assert merged.disliked_ids == ["saw"] and merged.liked_ids == []
    assert merged.unwanted_genres == ["Horror"] and merged.genres == []


def test_merge_rejects_invalid_output(parser: Understander, vocab: Vocabulary):
    base = parse(parser, "something funny")
    for bad in ('{"intent": "dance"}', '{"year_min": "last year"}', "not json", '[1, 2]'):
        merged = merge_llm_output(base, bad, vocab)
        assert merged.llm_error and not merged.llm_used, bad
        assert merged.genres == base.genres
    implausible = merge_llm_output(base, {"year_min": 1500, "year_max": 1400}, vocab)
    assert implausible.year is None


def test_merge_ignores_a_year_copied_from_a_title(parser: Understander, vocab: Vocabulary):
    # what small models answer for ReDial messages: the film's year read as "films from then on"
    text = "I loved The Babadook (2014), anything like that?"
    base = parse(parser, text)
    assert base.year is None
    assert merge_llm_output(base, {"year_min": 2014}, vocab).year is None
    assert merge_llm_output(base, {"year_min": 2014, "year_max": 2014}, vocab).year is None
    # a year said as a year still counts, also next to a title with its own
    base = parse(parser, "I loved The Babadook (2014); 1990 or newer please")
    assert base.year is None  # the rules miss this phrasing; the LLM's reading is kept
    assert merge_llm_output(base, {"year_min": 1990}, vocab).year == Range(1990, None)


def test_merge_uses_llm_intent_and_about_title(parser: Understander, vocab: Vocabulary):
    base = parse(parser, "tell me more about the babadook")
    assert base.intent == "ask_about" and base.about_id == "babadook"
    base = parse(parser, "hmm, babadook, what is that")
    merged = merge_llm_output(base, '{"intent": "ask_about", "about_title": "Babadook"}', vocab)
    assert merged.intent == "ask_about" and merged.about_id == "babadook"
    chat = merge_llm_output(parse(parser, "good morning"), {"intent": "chitchat"}, vocab)
    assert chat.intent == "chitchat"


def test_merge_turns_llm_likes_of_shown_items_into_feedback(parser: Understander, vocab: Vocabulary,
                                                            shown: SessionState):
    base = parse(parser, "that pulp fiction pick is spot on", shown)
    merged = merge_llm_output(base, {"intent": "feedback", "liked_titles": ["Pulp Fiction"]}, vocab, shown)
    assert ("like", "pulp") in [(f.kind, f.item_id) for f in merged.feedback]
    assert merged.intent == "feedback"


# ------------------------------------------------------------------------------ real catalogue
@pytest.mark.slow
def test_real_catalogue_understanding():
    vocab = Vocabulary.from_items(movie_catalogue())
    parser = Understander(vocab)
    assert vocab.resolve_genre("sci fi") == ["sci-fi"]  # the bundled catalogue writes genres in lower case
    u = parser.parse("I loved the babadook and heat, something scary from the 80s but not Tom Cruise")
    assert [vocab.titles.label(i) for i in u.liked_ids] == ["The Babadook (2014)", "Heat (1995)"]
    assert u.genres == ["horror"] and u.year == Range(1980, 1989)
    assert u.unwanted_people == ["Tom Cruise"]
    u = parser.parse("a funny movie under 2 hours with Tom Hanks, no horror")
    assert u.genres == ["comedy"] and u.unwanted_genres == ["horror"] and u.people == ["Tom Hanks"]
    assert u.facts == {"runtime": Range(None, 120)}
    u = parser.parse("who directed Pulp Fiction?")
    assert u.intent == "ask_about" and vocab.titles.label(u.about_id) == "Pulp Fiction (1994)"
    # names made of everyday words ("The Game", a rapper) count only when capitalised
    assert parser.parse("I like the game").people == []
    assert parser.parse("I like The Game").people == ["The Game"]
    assert parser.parse("something set in new york").liked_ids == []
    text = "I loved the babadook and heat but hated Saw; something scary from the 80s, not Tom Cruise"
    parser.parse(text)
    start = time.perf_counter()
    for _ in range(20):
        parser.parse(text)
    per_call = (time.perf_counter() - start) / 20
    assert per_call < 0.05, f"parse took {per_call * 1000:.1f} ms"


def test_titles_named_as_the_reference_of_a_question_are_liked(parser: Understander):
    """A question about a title is no verdict ("Did you like Heat?"), but a request that names its
    reference is: "anything similar to Pulp Fiction?", "I love Drive do you know any movies like that?"."""
    assert parse(parser, "Do you know any movies similar to Pulp Fiction?").liked_ids == ["pulp"]
    u = parse(parser, "I'm looking for something like The Matrix or Aliens any suggestions?")
    assert u.liked_ids == ["matrix", "aliens"] and u.asks_for_recommendation
    assert parse(parser, "I love Drive do you know any movies like that?").liked_ids == ["drive"]
    u = parse(parser, "Did you like Heat?")
    assert u.liked_ids == [] and u.intent == "ask_about"
    assert parse(parser, "Have you seen Alien?").liked_ids == []


def test_a_title_with_its_year_is_not_ambiguous_and_its_words_are_no_request(parser: Understander):
    u = parse(parser, "I loved Heat (1986)")
    assert u.liked_ids == ["heat86"] and u.ambiguous == {}  # the year says which Heat
    assert parse(parser, "I loved Heat").ambiguous == {"heat95": ["heat86"]}
    items = [*small_catalogue(), Item(id="ff", title="Fast & Furious", text="Fast & Furious (2009). Action.",
                                      year=2009, genres=("Action",), people=("Vin Diesel",), popularity=100)]
    u = Understander(Vocabulary.from_items(items)).parse("I love Fast & Furious (2009), anything like it?")
    assert u.liked_ids == ["ff"]
    assert u.modifiers == [] and u.year is None  # "fast" is the title's word, "(2009)" its year: no wishes


def test_a_bracketed_year_after_a_title_the_catalogue_lacks_is_no_year_wish(parser: Understander):
    assert parse(parser, "I loved Zorgon Returns (2009), anything like it?").year is None
    assert parse(parser, "I loved Zorgon Returns! (2009)").year is None
    assert parse(parser, "a comedy from 2009").year == Range(min=2009, max=2009)
    assert parse(parser, "something (2009) please").year is None  # cited like a title: no constraint


def test_a_cited_title_beats_the_reference_words_inside_it_and_contractions_are_no_titles(parser: Understander):
    items = [*small_catalogue(),
             Item(id="dates", title="50 First Dates", text="50 First Dates (2004). Comedy, Romance.", year=2004,
                  genres=("Comedy", "Romance"), people=("Adam Sandler",), popularity=100),
             Item(id="haven", title="Haven", text="Haven (2004). Drama.", year=2004, genres=("Drama",),
                  people=("Bill Paxton",), popularity=5)]
    p = Understander(Vocabulary.from_items(items))
    assert p.parse("a romantic comedy like 50 First Dates (2004) please").liked_ids == ["dates"]  # "first" is no ordinal
    u = p.parse("Did you see Alien? No I haven't.")
    assert "haven" not in [*u.liked_ids, *u.disliked_ids, *u.seen_ids, *u.mentioned_ids]
