"""The grounding check: replies name only recommended items (or the person's own), and claim only what is
true of them; explanations built from checked reasons."""

from __future__ import annotations

import pytest

from bot.claims import ClaimChecker
from bot.explain import Explainer, stated_numbers
from bot.grounding import GroundedStream, ground_text
from bot.item_facts import ItemFacts
from bot.state import SessionState
from bot.titles import TitleIndex
from retrieval.schema import Item, Range


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


# -- claims: what a sentence says about an item must be true of it ------------------------------------
# Films written the way the bundled catalogue indexes them ("Directed by …. Cast: …."), with its facts.

def _film(id_, title, year, genres, director, writers, cast, **facts):
    people = tuple(dict.fromkeys([*director, *writers, *cast]))
    text = (f"{title} ({year}). {', '.join(genres).capitalize()}. Directed by {', '.join(director)}. "
            f"Written by {', '.join(writers)}. Cast: {', '.join(sorted(cast))}.")
    return Item(id=id_, title=title, year=year, genres=tuple(genres), people=people, text=text, facts=facts)


MOVIES = [
    _film("gb", "Ghostbusters", 1984, ["sci-fi", "horror", "comedy", "fantasy"], ["Ivan Reitman"],
          ["Dan Aykroyd", "Harold Ramis"], ["Bill Murray", "Dan Aykroyd", "Harold Ramis", "Sigourney Weaver"],
          runtime=105, metacritic=71, rt_rating=8.1, rt_meter=95, oscars=0),
    _film("o11", "Ocean's Eleven", 2001, ["crime", "comedy", "mystery"], ["Steven Soderbergh"], ["Ted Griffin"],
          ["George Clooney", "Brad Pitt", "Julia Roberts", "Matt Damon"], runtime=112, rt_rating=7.0, oscars=0),
    _film("o12", "Ocean's Twelve", 2004, ["crime", "comedy", "thriller"], ["Steven Soderbergh"], ["George Nolfi"],
          ["George Clooney", "Brad Pitt", "Catherine Zeta-Jones"], runtime=125, rt_rating=5.8, oscars=0),
    _film("int", "Interstellar", 2014, ["sci-fi", "drama", "adventure"], ["Christopher Nolan"],
          ["Christopher Nolan", "Jonathan Nolan"], ["Matthew McConaughey", "Anne Hathaway", "Michael Caine"],
          runtime=169, rt_rating=7.1, rt_meter=73, oscars=1),
    _film("hap", "The Happening", 2008, ["sci-fi", "thriller", "drama"], ["M. Night Shyamalan"],
          ["M. Night Shyamalan"], ["Mark Wahlberg", "Zooey Deschanel", "M. Night Shyamalan"], runtime=91,
          rt_rating=4.0, oscars=0),
    _film("thing", "The Thing", 1982, ["horror", "sci-fi", "mystery"], ["John Carpenter"], ["Bill Lancaster"],
          ["Kurt Russell", "Wilford Brimley", "Keith David"], runtime=109, rt_rating=7.2, oscars=0),
]
RECIPES = [
    Item(id="dinner:cabbage_rolls", title="Vegetarian Cabbage Rolls with Rice and Mushrooms", genres=("dinner", "healthy"),
         people=("Cabbage", "Rice", "Champignon mushrooms", "Onion"),
         text="Vegetarian Cabbage Rolls with Rice and Mushrooms. Dinner, healthy eating. Ingredients: Cabbage, "
              "Rice, Champignon mushrooms, Onion. Step 1. Boil the rice.",
         facts={"calories": 180.0, "protein": 6.0, "prep_minutes": 40}),
    Item(id="dinner:lentil_stew", title="Lentil Stew", genres=("dinner", "healthy"),
         people=("Lentils", "Carrot", "Onion", "Tomatoes"),
         text="Lentil Stew. Dinner, healthy eating. Ingredients: Lentils, Carrot, Onion, Tomatoes. Step 1. Rinse.",
         facts={"calories": 320.0, "protein": 21.0, "prep_minutes": 35}),
]


@pytest.fixture(scope="module")
def movie_checker():
    by_id = {it.id: it for it in MOVIES}
    titles = TitleIndex(MOVIES)
    return titles, ClaimChecker(titles, by_id.get, MOVIES)


@pytest.mark.parametrize("allowed,sentence", [
    (["gb"], "Ghostbusters is a hilarious comedy directed by Bill Murray."),
    (["gb"], "Critics gave it 8.1 out of 100."),
    (["gb"], "It has a 39-meter rating."),
    (["gb"], "It won 11 Oscars."),
    (["gb"], "An Oscar-winning ghost story."),
    (["gb"], "Ghostbusters is a 1985 classic."),
    (["o12", "o11"], "Ocean's Twelve is older than Ocean's Eleven."),
    (["hap"], "The Happening is a western."),
    (["int"], "Interstellar was directed by Steven Spielberg."),
    (["int"], "Interstellar is a tense 150-minute ride."),
])
def test_false_claims_are_dropped(movie_checker, allowed, sentence):
    titles, checker = movie_checker
    out, report = ground_text(titles, allowed, sentence, claims=checker)
    assert out == "" and report.dropped == [sentence] and report.false_claims


@pytest.mark.parametrize("allowed,sentence", [
    (["gb"], "Ghostbusters is a hilarious comedy directed by Ivan Reitman."),
    (["gb"], "Ghostbusters (1984) stars Bill Murray and Sigourney Weaver."),
    (["gb"], "Critics gave it 8.1/10, and 95% of reviews were positive."),
    (["o12", "o11"], "Ocean's Eleven is older than Ocean's Twelve."),
    (["int"], "Interstellar won an Oscar and runs 169 minutes."),
    (["hap"], "The Happening, directed by M. Night Shyamalan, stars Mark Wahlberg."),
    (["thing"], "A 1980s horror film with 3 great leads."),
])
def test_true_claims_pass(movie_checker, allowed, sentence):
    titles, checker = movie_checker
    out, report = ground_text(titles, allowed, sentence, claims=checker)
    assert out == sentence and not report.dropped


def test_the_person_becomes_you_and_stated_numbers_may_be_repeated(movie_checker):
    titles, checker = movie_checker
    out, report = ground_text(titles, ["gb"], "It fits the person's wish for something under 110 minutes.",
                              claims=checker, stated=[110])
    assert out == "It fits your wish for something under 110 minutes." and report.repaired == 1
    out, _ = ground_text(titles, ["gb"], "It fits the person's wish for something under 110 minutes.", claims=checker)
    assert out == ""  # 110 is neither a fact of the film nor something the person said


def test_an_unfinished_sentence_is_dropped_and_a_finished_one_keeps_going(movie_checker):
    titles, checker = movie_checker
    out, report = ground_text(titles, ["gb"], "Ghostbusters is great fun. It will keep you on the edge of",
                              claims=checker)
    assert out == "Ghostbusters is great fun. " and report.dropped == ["It will keep you on the edge of"]
    out, _ = ground_text(titles, ["gb"], "Ghostbusters is great fun", claims=checker)
    assert out == "Ghostbusters is great fun."


def test_recipe_claimed_without_an_ingredient_it_has_is_dropped():
    by_id = {it.id: it for it in RECIPES}
    titles = TitleIndex(RECIPES)
    checker = ClaimChecker(titles, by_id.get, RECIPES)
    assert not checker.check("A light dinner without mushrooms.", ["dinner:cabbage_rolls"]).ok
    assert checker.check("A light dinner without mushrooms.", ["dinner:lentil_stew"]).ok
    assert checker.check("It has 21 g of protein.", ["dinner:lentil_stew"]).ok
    assert not checker.check("It has 30 g of protein.", ["dinner:lentil_stew"]).ok


# -- explanations: checked reasons citing the person's own wishes, in their language -------------------

def test_item_facts_read_roles_only_for_people_the_item_has():
    f = ItemFacts.of(MOVIES[4])
    assert f.roles["director"] == ("M. Night Shyamalan",) and "Mark Wahlberg" in f.roles["cast"]
    assert f.roles_of("M. Night Shyamalan") == {"director", "writer", "cast"}
    assert ItemFacts.of(RECIPES[0]).roles["ingredient"][2] == "Champignon mushrooms"


@pytest.mark.parametrize("language", ["en", "zh", "es"])
def test_explanations_cite_the_wishes_each_item_meets_and_hold_up(movie_checker, language):
    titles, checker = movie_checker
    by_id = {it.id: it for it in MOVIES}
    explainer = Explainer(by_id.get, "movie", MOVIES)
    state = SessionState(genres=["horror"], people=["John Carpenter"], year=Range(min=1980, max=1989),
                         facts={"runtime": Range(max=120)}, liked_ids=["int"], unwanted_genres=["romance"])
    thing = explainer.explain(by_id["thing"], state, language)
    gb = explainer.explain(by_id["gb"], state, language)
    assert thing.kinds[:3] == ["person_wish", "genre_wish", "year_wish"]
    assert "John Carpenter" in thing.why and "1982" in thing.why
    assert "person_wish" not in gb.kinds and gb.why != thing.why  # Carpenter did not make Ghostbusters
    assert thing.people["director"] == ["John Carpenter"]
    reply = explainer.reply([thing, gb], language)
    lines = reply.strip().split("\n")
    assert len(lines) == 3 and lines[1].startswith("1. The Thing (1982)") and lines[2].startswith("2. Ghostbusters")
    _, report = ground_text(titles, ["thing", "gb"], reply, claims=checker, stated=stated_numbers(state))
    assert not report.dropped, report.false_claims
    if language == "zh":
        assert "恐怖" in thing.why and "执导" in thing.why
    elif language == "es":
        assert "terror" in thing.why and "dirigida por" in thing.why
    else:
        assert "horror, as you asked" in thing.why and "directed by John Carpenter" in thing.why


def test_an_item_matching_no_wish_is_described_from_its_facts():
    by_id = {it.id: it for it in MOVIES}
    e = Explainer(by_id.get, "movie", MOVIES).explain(by_id["int"], SessionState(), "en")
    assert e.kinds == ["about", "quality"]
    assert e.why == "a sci-fi and drama film from 2014, directed by Christopher Nolan; 7.1/10 from critics"


def test_recipe_reasons_name_the_excluded_ingredient_and_the_limit():
    by_id = {it.id: it for it in RECIPES}
    e = Explainer(by_id.get, "recipe", RECIPES).explain(
        by_id["dinner:lentil_stew"], SessionState(genres=["dinner"], unwanted_people=["mushrooms"],
                                                  facts={"protein": Range(min=15)}), "en")
    assert e.reasons == ["dinner, as you asked", "21 g of protein, at least the 15 g of protein you asked for",
                         "no mushrooms, as you asked"]


def test_negated_genres_titles_with_abbreviations_and_list_markers(movie_checker):
    titles, checker = movie_checker
    assert checker.check("Ocean's Eleven: no horror, as you asked.", ["o11"]).ok
    assert not checker.check("Ghostbusters: no horror, as you asked.", ["gb"]).ok
    assert checker.check("The Thing (1982): like Interstellar (2014), which you liked.", ["thing"], ["int"]).ok
    # a dropped line takes its number with it; "M. Night" does not end a sentence
    text = ("Here are 2 films for you:\n1. Ghostbusters (1984): directed by Bill Murray.\n"
            "2. The Happening (2008): directed by M. Night Shyamalan, as you asked.\n")
    out, report = ground_text(titles, ["gb", "hap"], text, claims=checker)
    assert out == "Here are 2 films for you:\n2. The Happening (2008): directed by M. Night Shyamalan, as you asked.\n"
    assert report.dropped == ["1. Ghostbusters (1984): directed by Bill Murray."]


def test_a_name_next_to_chinese_text_is_a_person_not_a_film_of_that_name():
    robots = _film("rob", "Robots", 2005, ["sci-fi", "animation"], ["Carlos Saldanha", "Chris Wedge"], ["Lowell Ganz"],
                   ["Ewan McGregor", "Halle Berry"], runtime=91)
    carlos = _film("car", "Carlos", 2010, ["biography", "crime"], ["Olivier Assayas"], ["Dan Franck"], ["Edgar Ramírez"])
    films = [robots, carlos]
    by_id = {it.id: it for it in films}
    titles = TitleIndex(films)
    text = "2. Robots (2005)：2005年的科幻和动画电影，Carlos Saldanha和Chris Wedge执导。"
    out, report = ground_text(titles, ["rob"], text, claims=ClaimChecker(titles, by_id.get, films))
    assert out == text and not report.dropped
    wrong = "2. Robots (2005)：Ewan McGregor执导。"
    assert ground_text(titles, ["rob"], wrong, claims=ClaimChecker(titles, by_id.get, films))[0] == ""


def test_a_label_whose_title_has_a_colon_is_one_title():
    h5 = _film("h5", "Halloween 5: The Revenge of Michael Myers", 1989, ["horror"], ["Dominique Othenin-Girard"],
               ["John Carpenter"], ["Donald Pleasence"], runtime=96)
    films = [h5, _film("h", "Halloween", 1978, ["horror"], ["John Carpenter"], ["John Carpenter"], ["Jamie Lee Curtis"])]
    by_id = {it.id: it for it in films}
    titles = TitleIndex(films)
    text = "3. Halloween 5: The Revenge of Michael Myers (1989): written by John Carpenter, as you asked."
    out, report = ground_text(titles, ["h5"], text, claims=ClaimChecker(titles, by_id.get, films))
    assert out == text and report.named == {"h5"}
