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


def test_whitespace_alone_is_never_streamed_ahead_of_a_dropped_sentence(movie_checker):
    # the engine puts "1. " before the first piece of an item's line: a lone newline must not carry it
    titles, checker = movie_checker
    g = GroundedStream(titles, ["gb"], claims=checker)
    assert list(g.filter(["\n", "Ghostbusters was directed by Bill Murray."])) == []
    g = GroundedStream(titles, ["gb"], claims=checker)
    assert "".join(g.filter(["\n", "Ghostbusters was directed by Ivan Reitman."])) == (
        "\nGhostbusters was directed by Ivan Reitman.")


def test_a_diet_is_cited_by_name_and_exclusions_as_the_person_said_them():
    by_id = {it.id: it for it in RECIPES}
    state = SessionState(genres=["dinner"], diets=["vegetarian"], said_unwanted=["Mushrooms"],
                         unwanted_people=["Chicken breast", "Bacon", "Pickled mushrooms", "Mushrooms"])
    e = Explainer(by_id.get, "recipe", RECIPES).explain(by_id["dinner:lentil_stew"], state, "en")
    assert "vegetarian, as you asked" in e.reasons and "no Mushrooms, as you asked" in e.reasons
    assert "Pickled" not in e.why and "Bacon" not in e.why
    assert "素食" in Explainer(by_id.get, "recipe", RECIPES).explain(by_id["dinner:lentil_stew"], state, "zh").why


@pytest.mark.parametrize("language, at_limit, earlier", [
    ("en", "from 2000, within the limit you gave", "from 1998, 2000 or earlier"),
    ("es", "de 2000, dentro del límite", "de 1998, de 2000 o antes"),
    ("zh", "2000年的，在你要求的年份范围内", "2000年或更早")])
def test_an_inclusive_year_limit_is_not_worded_as_before(language, at_limit, earlier):
    films = [_film("mem", "Memento", 2000, ["thriller"], ["Christopher Nolan"], ["Christopher Nolan"], ["Guy Pearce"]),
             _film("fol", "Following", 1998, ["thriller"], ["Christopher Nolan"], ["Christopher Nolan"], ["Jeremy Theobald"])]
    explainer = Explainer({f.id: f for f in films}.get, "movie", films)
    state = SessionState(year=Range(max=2000))
    mem, fol = (explainer.explain(f, state, language).why for f in films)
    assert at_limit in mem and "before" not in mem and "2000 or earlier" not in mem
    assert earlier in fol and "before 2000" not in fol


def test_a_genre_word_in_a_reason_is_not_corrected_into_a_title():
    # "comedia" (a reserved genre word) once became *Comedian* and every Spanish rom-com line was dropped
    films = [_film("com", "Comedian", 2002, ["documentary", "comedy"], ["Christian Charles"], ["Jerry Seinfeld"],
                   ["Jerry Seinfeld"]),
             _film("rc", "Romantic Comedy", 1983, ["romance", "comedy"], ["Arthur Hiller"], ["Bernard Slade"],
                   ["Dudley Moore"])]
    by_id = {f.id: f for f in films}
    text = "1. Romantic Comedy (1983): romance y comedia, como pediste; dirigida por Arthur Hiller.\n"
    plain = TitleIndex(films)
    assert [m.item_id for m in plain.find_mentions("una comedia")] == ["com"]  # a typo fix without the word list
    titles = TitleIndex(films, reserved_words=["comedia", "romance"])
    assert titles.find_mentions("una comedia") == []
    out, report = ground_text(titles, ["rc"], text, claims=ClaimChecker(titles, by_id.get, films))
    assert out == text and not report.dropped


def test_translated_genre_words_and_units_of_other_languages_are_checked_not_rejected():
    snack = Item(id="snack:seaweed", title="Seaweed Snack", genres=("snack",), people=("Seaweed", "Salt"),
                 text="Seaweed Snack. Snack. Ingredients: Seaweed, Salt.", facts={"calories": 40.0, "protein": 2.0})
    items = [*RECIPES, snack]
    by_id = {it.id: it for it in items}
    checker = ClaimChecker(TitleIndex(items), by_id.get, items)
    assert checker.check("Seaweed Snack：小吃，正如你所要求的。", ["snack:seaweed"]).ok  # 小吃 names snack and snacks
    assert not checker.check("Lentil Stew：小吃，正如你所要求的。", ["dinner:lentil_stew"]).ok
    assert checker.check("Lentil Stew: 21 g de proteína, al menos los 20 g de proteína que pediste.",
                         ["dinner:lentil_stew"], stated=[20]).ok
    assert not checker.check("Lentil Stew: 35 g de proteína.", ["dinner:lentil_stew"]).ok


def test_initials_in_a_title_and_a_runtime_in_spanish_keep_their_line():
    from bot.understanding import Vocabulary

    et = _film("et", "E.T. the Extra-Terrestrial", 1982, ["sci-fi", "family"], ["Steven Spielberg"], ["Melissa Mathison"],
               ["Henry Thomas"], runtime=115)
    lion = _film("lk", "The Lion King", 1994, ["animation"], ["Roger Allers"], ["Irene Mecchi"], ["Matthew Broderick"],
                 runtime=88)
    minutes = _film("88m", "88 Minutes", 2007, ["thriller"], ["Jon Avnet"], ["Gary Scott Thompson"], ["Al Pacino"],
                    runtime=108)
    films = [et, lion, minutes]
    by_id = {f.id: f for f in films}
    titles = Vocabulary.from_items(films).titles  # unit words of every language are reserved there
    checker = ClaimChecker(titles, by_id.get, films)
    text = ("1. E.T. the Extra-Terrestrial (1982): sci-fi, as you asked.\n"
            "2. The Lion King (1994): 88 minutos, dentro de tu límite de 90 minutos.\n")
    out, report = ground_text(titles, ["et", "lk"], text, claims=checker, stated=[90])
    assert out == text and not report.dropped
    assert TitleIndex(films).find_mentions("88 minutos")  # without the reserved unit words it is the film


def test_a_name_run_into_by_a_chinese_letter_is_still_the_person():
    gf2 = _film("gf2", "The Godfather Part II", 1974, ["crime", "drama"], ["Francis Ford Coppola"],
                ["Francis Ford Coppola", "Mario Puzo"], ["Al Pacino"])
    francis = _film("fr", "Francis", 1950, ["comedy"], ["Arthur Lubin"], ["David Stern"], ["Donald O'Connor"])
    films = [gf2, francis]
    by_id = {f.id: f for f in films}
    titles = TitleIndex(films)
    text = "3. The Godfather Part II (1974)：有Francis Ford Coppola和Mario Puzo；Francis Ford Coppola执导。"
    assert any(m.item_id == "fr" for m in titles.find_mentions(text))  # the index alone reads 有Francis as the film
    out, report = ground_text(titles, ["gf2"], text, claims=ClaimChecker(titles, by_id.get, films))
    assert out == text and not report.dropped


def test_a_number_in_a_title_is_no_claim():
    hrs = _film("hrs", "48 Hrs.", 1982, ["action", "comedy"], ["Walter Hill"], ["Walter Hill"], ["Nick Nolte"])
    films = [hrs, _film("alien", "Alien", 1979, ["horror"], ["Ridley Scott"], ["Dan O'Bannon"], ["Sigourney Weaver"])]
    by_id = {it.id: it for it in films}
    checker = ClaimChecker(TitleIndex(films), by_id.get, films)
    sentence = "48 Hrs. (1982): comedy, as you asked; from 1982, in the 1980s you asked for."
    assert checker.check(sentence, ["hrs"]).ok
    assert not checker.check("48 Hrs. (1982): comedy, 112 votes on 9.5 scales.", ["hrs"]).ok  # still checked


def test_a_film_from_the_first_year_of_a_decade_is_in_that_decade():
    films = [_film("sh", "The Shining", 1980, ["horror"], ["Stanley Kubrick"], ["Stephen King"], ["Jack Nicholson"])]
    explainer = Explainer({f.id: f for f in films}.get, "movie", films)
    why = explainer.explain(films[0], SessionState(year=Range(1980, 1989)), "en").why
    assert "from 1980, in the 1980s you asked for" in why and "limit" not in why
