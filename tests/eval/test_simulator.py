"""The user simulator on real ReDial dialogues, the real catalogue matcher and the real engine (SmolLM2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from eval.simulator import PHRASES_PATH, Phrases, SimulatorError, classify_question
from tests.eval.support import main_on_small_redial

# -- phrases (no models) ---------------------------------------------------------------------------


def test_the_packaged_phrases_load_and_cover_every_topic():
    phrases = Phrases.load()
    assert set(phrases.question_topics) == {"genre", "liked_example", "people", "era", "mood"}
    assert phrases.options("opening.genre_and_title") and phrases.ordinals[:3] == ["first", "second", "third"]


def test_a_phrasing_with_the_wrong_placeholders_is_rejected_naming_file_and_key(tmp_path):
    text = PHRASES_PATH.read_text(encoding="utf-8").replace(
        '"I really enjoyed {title}."', '"I really enjoyed {titel}."', 1
    )
    bad = tmp_path / "phrases.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(SimulatorError, match=r"phrases\.yaml: answer\.liked_example\[0\].*titel"):
        Phrases.load(bad)


def test_an_unknown_topic_is_rejected(tmp_path):
    text = PHRASES_PATH.read_text(encoding="utf-8").replace(
        "question_topics:\n", "question_topics:\n  plot: [story]\n"
    )
    bad = tmp_path / "phrases.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(SimulatorError, match="question_topics.*plot"):
        Phrases.load(bad)


@pytest.mark.parametrize(
    "question, topic",
    [
        ("What kind of movies are you in the mood for?", "genre"),  # "mood" too, but the tie goes to genre
        ("Can you tell me one movie you enjoyed recently?", "liked_example"),
        ("Do you prefer recent movies or older ones?", "era"),
        ("What mood are you in: light and fun, or dark and intense?", "mood"),
        ("Any favourite actors or directors?", "people"),
        ("Hello! How are you today?", None),
    ],
)
def test_questions_are_read_for_their_topic(question, topic):
    assert classify_question(question, Phrases.load()) == topic


# -- seekers from the real raw dialogues -----------------------------------------------------------


@pytest.fixture(scope="module")
def redial(small_redial, small_redial_dialogues):
    """The small catalogue, its title matcher (what the bot uses) and the seekers' dialogues."""
    from bot.understanding import Understander
    from eval.redial_catalogue import load_catalogue
    from eval.redial_dialogues import read_dialogues
    from eval.simulator import read_seeker_mentions

    catalogue = load_catalogue(small_redial.catalogue_path)
    titles = Understander.from_items(small_redial.snapshot.table.items).vocab.titles
    dialogues = {d.dialog_id: d for d in read_dialogues(small_redial_dialogues, catalogue)}
    return catalogue, titles, dialogues, read_seeker_mentions(small_redial_dialogues)


@pytest.fixture(scope="module")
def profiles(redial):
    from eval.simulator import select_profiles

    catalogue, titles, dialogues, mentions = redial
    selected, skipped = select_profiles(
        list(dialogues.values()), catalogue, Phrases.load(), titles, mentions, None
    )
    return {p.dialog_id: p for p in selected}, skipped


def _seeker(redial, profile, seed=0, phrases=None):
    from eval.simulator import SimulatedSeeker, TargetGuard

    catalogue, titles, _, _ = redial
    return SimulatedSeeker(
        profile, phrases or Phrases.load(), catalogue, TargetGuard(titles, catalogue, profile.targets), seed
    )


@pytest.mark.slow
def test_profiles_come_from_the_seekers_answers(redial, profiles):
    from eval.simulator import Films

    catalogue, _, dialogues, _ = redial
    films = Films(catalogue)
    by_id, skipped = profiles
    assert skipped == {"no target in the catalogue": 1}  # 9819: the seeker liked nothing it was suggested
    horror = by_id["16162"]  # "a good horroe movie like The Babadook"; liked Babadook and It Follows
    names = {catalogue.movies[i].name for i in horror.targets}
    suggested_and_liked = {
        "The Shining (1980)",
        "The Exorcist (1973)",
        "The Others (2001)",
        "What Lies Beneath (2000)",
    }
    assert names == {n for n in suggested_and_liked if catalogue.resolve(n)}  # the small catalogue lacks one
    assert len(names) == 3
    assert [catalogue.movies[i].name for i in horror.likes] == ["The Babadook (2014)", "It Follows (2014)"]
    assert horror.genres[0] == "horror" and horror.era == "recent movies" and horror.mood == "something scary"
    for p in by_id.values():
        assert not set(p.targets) & set(p.likes)
        d = dialogues[p.dialog_id]
        for t in p.targets:  # suggested by the recommender, liked by the seeker
            assert any(
                films.of(i) == t and d.answer(i).suggested and d.answer(i).liked for i in d.movie_mentions
            )


@pytest.mark.slow
def test_a_liked_movie_sharing_a_targets_title_is_never_said(redial, profiles):
    catalogue, _, _, _ = redial
    jumanji = profiles[0]["15266"]  # liked "Jumanji (2017)"; "Jumanji (1995)" is one of its targets
    assert "Jumanji (1995)" in {catalogue.movies[i].name for i in jumanji.targets}
    assert jumanji.dropped == ("Jumanji (2017)",)
    assert "Jumanji (2017)" not in {catalogue.movies[i].name for i in jumanji.likes}


def _names_a_target(text: str, catalogue, targets) -> str | None:
    """An independent check: a target's "Title (Year)" or its title as whole words (any length)."""
    low = " " + re.sub(r"[^\w]+", " ", text.casefold()) + " "
    for t in targets:
        movie = catalogue.movies[t]
        title = re.sub(r"[^\w]+", " ", movie.title.casefold()).strip()
        if movie.name.casefold() in text.casefold() or (len(title) > 3 and f" {title} " in low):
            return movie.name
    return None


@pytest.mark.slow
def test_no_simulated_message_names_a_target(redial, profiles):
    """Every move of every seeker, with several seeds and every card position: no target is named."""
    catalogue, _, _, _ = redial
    others = [i for i in catalogue.canonical_ids]
    for profile in profiles[0].values():
        for seed in range(4):
            seeker = _seeker(redial, profile, seed)
            said = [seeker.opening()]
            for question in (
                "What kind of movies do you like?",
                "Can you name one movie you enjoyed?",
                "Any favourite actors?",
                "Recent movies or older ones?",
                "What mood are you in?",
            ):
                said.append(seeker.answer(question, None).text)
            non_targets = [i for i in others if i not in profile.targets][:60]
            for n in range(0, 60, 3):  # cards without a target, some seen or disliked
                cards = [(i, i) for i in non_targets[n : n + 3]]
                said.append(seeker.react(cards).text)
            said.append(seeker.react([(profile.targets[0], profile.targets[0])]).text)
            said.append(seeker.follow_up().text)
            for text in said:
                assert _names_a_target(text, catalogue, profile.targets) is None, (profile.dialog_id, text)
            assert seeker.blocked == 0


@pytest.mark.slow
def test_answers_come_from_the_seekers_own_facts(redial, profiles):
    horror, cars = profiles[0]["16162"], profiles[0]["15326"]
    genre_q, liked_q, era_q = (
        "What kind of movies do you like?",
        "Tell me a movie you enjoyed recently.",
        "Do you like older movies or recent ones?",
    )
    a, b = _seeker(redial, horror), _seeker(redial, cars)
    assert "horror" in a.answer(genre_q, None).text and "action" in b.answer(genre_q, None).text
    assert "The Babadook (2014)" in a.answer(liked_q, None).text
    assert "Gone in 60 Seconds (2000)" in b.answer(liked_q, None).text
    assert "recent movies" in a.answer(era_q, None).text and "2000s" in b.answer(era_q, None).text
    # each fact is said once: a second liked-example answer gives the next like, then "can't think of one"
    assert "It Follows (2014)" in a.answer(liked_q, None).text
    assert a.answer(liked_q, None).text in Phrases.load().answer["liked_example_unknown"]
    # no keyword in the question: the engine's slot decides
    reply = _seeker(redial, horror).answer("Hmm?", "era")
    assert (reply.topic, reply.topic_from) == ("era", "slot") and "recent movies" in reply.text


@pytest.mark.slow
def test_seen_and_disliked_cards_get_feedback_and_phrasing_is_seeded(redial, profiles):
    catalogue = redial[0]
    p = profiles[0]["15326"]  # it had seen "Fast & Furious (2009)"
    seen = next(i for i in p.seen if i not in p.targets)
    other = next(
        i for i in catalogue.canonical_ids if i not in p.seen and i not in p.targets and i not in p.disliked
    )
    reply = _seeker(redial, p).react([(other, other), (seen, seen)])
    assert reply.feedback == [("seen", seen)] and "seen the second one" in reply.text
    assert "Gone in 60 Seconds (2000)" in reply.text  # plus one more preference fact: its first like
    disliked = (
        _seeker(redial, p).react([(next(iter(p.disliked)), next(iter(p.disliked)))]) if p.disliked else None
    )
    if disliked is not None:
        assert disliked.feedback[0][0] == "dislike" and "didn't like the first one" in disliked.text
    openings = [_seeker(redial, p, seed).opening() for seed in (0, 0, 1, 2, 3, 4, 5)]
    assert openings[0] == openings[1]  # same seed, same words
    assert len(set(openings)) > 1  # other seeds pick other phrasings


# -- whole conversations with the real engine ------------------------------------------------------


@pytest.fixture(scope="module")
def engine(small_redial):
    from bot.understanding import Understander
    from eval.templates_ab import TemplateVersion, evaluation_llm
    from eval.version_runs import version_engine
    from prompts.loader import PromptLibrary

    settings = small_redial.settings.model_copy(
        update={
            "llm": small_redial.settings.llm.model_copy(
                update={"model": "smollm2-135m", "backend": "llamacpp"}
            )
        }
    )
    version = TemplateVersion("default", "default", PromptLibrary(), "set")
    understander = Understander.from_items(small_redial.snapshot.table.items)
    return version_engine(
        version,
        small_redial.snapshot,
        understander,
        evaluation_llm(settings),
        settings,
        k=3,
        understanding="auto",
        seed=0,
        for_simulation=True,
    )


@pytest.mark.slow
def test_a_target_among_the_cards_is_a_success(redial, profiles, engine):
    """15326: "something like Gone in 60 Seconds (2000)" — the bot's first cards hold "Drive Angry",
    which the ReDial recommender suggested and the seeker liked."""
    from eval.simulator import conversation_units, run_conversation

    catalogue, _, _, _ = redial
    p = profiles[0]["15326"]
    conv = run_conversation(engine, _seeker(redial, p), max_turns=3)
    first = conv.turns[0]
    assert "Gone in 60 Seconds (2000)" in first.user and first.action == "recommend"
    drive_angry = catalogue.resolve("Drive Angry")
    assert drive_angry in p.targets and drive_angry in first.cards
    assert first.hits == [first.cards.index(drive_angry) + 1]
    assert ("like", drive_angry) in first.feedback  # the seeker pressed Like
    assert conv.turns[1].user in Phrases.load().feedback["success"]
    assert drive_angry not in [c for t in conv.turns[1:] for c in t.cards]  # a liked item is not shown again
    assert conv.first_success(3) == 1 and len(conv.turns) == 3
    units = conversation_units([conv], 3, 3)
    assert units["success@3 (≤3 turns)"] == [(1.0, 1.0)] and units["turns to success@3"] == [(1.0, 1.0)]
    assert units["target recall@3"] == [(len(conv.targets_shown(3)) / len(p.targets), 1.0)]


@pytest.mark.slow
def test_a_conversation_without_a_target_is_no_success(redial, profiles, engine):
    from eval.simulator import Conversation, conversation_units

    conv = Conversation("x", ["t1", "t2"], [], {})
    units = conversation_units([conv], 3, 5)
    assert units["success@1 (≤5 turns)"] == [(0.0, 1.0)] and units["turns to success@3"] == [(0.0, 0.0)]


@pytest.mark.slow
def test_the_seeker_answers_what_the_bot_asked(redial, profiles, engine):
    """A seeker with only a genre, opening without asking for suggestions: the policy asks (a genre alone
    is not enough) and the seeker answers from its facts; the question text is the model's, the
    transcript says how it was read."""
    from eval.simulator import SeekerProfile, run_conversation

    phrases = Phrases.load()
    wish = "Hello, I'd like to watch {genre} movies tonight."
    assert wish in phrases.opening["genre"]
    phrases = phrases.model_copy(update={"opening": {**phrases.opening, "genre": [wish]}})
    p = SeekerProfile(
        dialog_id="genre-only",
        targets=profiles[0]["16162"].targets,
        likes=(),
        genres=("horror",),
        people=(),
        era="movies from the 1980s",
        mood=None,
    )
    conv = run_conversation(engine, _seeker(redial, p, phrases=phrases), max_turns=3)
    asks = [t for t in conv.turns if t.action == "ask"]
    assert asks, [t.action for t in conv.turns]
    for t in asks:
        assert t.text and t.slot and t.topic in ("genre", "liked_example", "people", "era", "mood")
    nxt = conv.turns[conv.turns.index(asks[0]) + 1].user
    if asks[0].topic == "era":  # its one fact left
        assert "1980s" in nxt
    else:  # nothing for that topic: it says so instead of inventing a fact
        assert nxt in Phrases.load().answer[f"{asks[0].topic}_unknown"]


@pytest.mark.slow
def test_eval_simulate_cli_writes_the_report(
    small_redial, small_redial_dialogues, tmp_path, monkeypatch, capsys
):
    import json

    argv = ["eval", "simulate", "--dialogues", "3", "--max-turns", "2", "--model", "smollm2-135m", "--quiet", "--bootstrap", "200"]
    code = main_on_small_redial(monkeypatch, small_redial, small_redial_dialogues, tmp_path / "sim", argv)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "success@3 (≤2 turns)" in out and "turns to success@3" in out
    payload = json.loads((tmp_path / "sim" / "result.json").read_text())
    assert payload["run"]["dialogues"] == 3 and payload["units"]["ids"] == ["16162", "15266", "15326"]
    lines = Path(tmp_path / "sim" / "conversations.jsonl").read_text().splitlines()
    assert len(lines) == 3 and all(len(json.loads(x)["turns"]) == 2 for x in lines)
    assert "# User simulator" in (tmp_path / "sim" / "report.md").read_text()
