"""Whole catalogues: every format end to end, validation and reports, and the bundled catalogues."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from retrieval.catalogue import LoadedCatalogue, build_items, list_bundled, load_catalogue
from retrieval.errors import CatalogueError, MappingError
from retrieval.loaders import read_records
from retrieval.mapping import FieldMapping
from retrieval.schema import Item
from tests.retrieval.fixtures import FIXTURES, json_rows, write_parquet, write_sqlite

MAPPING = FIXTURES / "films.yaml"
FORMATS = ("csv", "jsonl", "json", "parquet", "sqlite")


def data_file(fmt: str, stem: str, tmp_path: Path) -> Path:
    """The fixture in one format: hand-written text files; Parquet/SQLite written from the JSON rows."""
    if fmt in ("csv", "jsonl", "json"):
        return FIXTURES / f"{stem}.{fmt}"
    rows = json_rows(f"{stem}.json")
    if fmt == "parquet":
        return write_parquet(rows, tmp_path / f"{stem}.parquet", text_columns=("year",))
    return write_sqlite(rows, tmp_path / f"{stem}.db")


# --- every format, good ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_gives_the_same_items(fmt: str, tmp_path: Path) -> None:
    cat = load_catalogue(data_file(fmt, "films", tmp_path), mapping=MAPPING)
    assert cat.name == "test-films"
    assert [i.id for i in cat.items] == ["m1", "m2", "m3", "m4"]
    heat = cat.items[0]
    assert heat == Item(
        id="m1",
        title="Heat",
        year=1995,
        genres=("crime", "drama", "thriller"),
        people=("Michael Mann", "Al Pacino", "Robert De Niro", "Val Kilmer"),
        facts={"runtime": 170, "imdb_rating": 8.3, "language": "English"},
        popularity=700000.0,
        text="Heat (1995). Crime, drama, thriller. A detective hunts a crew of professional thieves in "
        "Los Angeles. Directed by Michael Mann.",
    )
    amelie, spirited = cat.items[1], cat.items[3]
    assert amelie.title == "Amélie" and "Montmartre secretly improves" in amelie.text
    assert spirited.popularity is None  # no votes: no prior, not an error
    assert cat.report.rows == 4 and cat.report.items == 4 and cat.report.skipped == 0


def test_all_formats_agree_exactly(tmp_path: Path) -> None:
    loaded = {fmt: load_catalogue(data_file(fmt, "films", tmp_path), mapping=MAPPING).items
              for fmt in FORMATS}
    assert all(items == loaded["csv"] for items in loaded.values())


# --- every format, bad ----------------------------------------------------------------------------

# films_bad.*: a good film, then missing id, duplicate id, year "abc", blank title, empty text, a good film.
# Where each bad record is, in the numbering of each format (CSV: line numbers after the header).
FIRST_BAD_ROW = {"csv": 3, "jsonl": 2, "json": 2, "parquet": 2, "sqlite": 2}
EXPECTED_KINDS = [
    ("missing_id", "id"),
    ("duplicate_id", "id"),
    ("wrong_type", "year"),
    ("empty_title", "title"),
    ("empty_text", "text"),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_first_invalid_record_stops_the_load_naming_file_row_field(fmt: str, tmp_path: Path) -> None:
    path = data_file(fmt, "films_bad", tmp_path)
    with pytest.raises(CatalogueError) as e:
        load_catalogue(path, mapping=MAPPING)
    row = FIRST_BAD_ROW[fmt]
    assert str(e.value).startswith(f"{path.name}, row {row}, field 'id': no id")
    assert (e.value.source, e.value.row, e.value.field) == (path, row, "id")
    assert e.value.issues[0].kind == "missing_id"


@pytest.mark.parametrize("fmt", FORMATS)
def test_skip_invalid_counts_every_problem(fmt: str, tmp_path: Path) -> None:
    path = data_file(fmt, "films_bad", tmp_path)
    cat = load_catalogue(path, mapping=MAPPING, skip_invalid=True)
    assert [i.id for i in cat.items] == ["m1", "m3"]
    assert cat.items[0].year == 1995  # the first m1 is kept, the second is the duplicate
    report = cat.report
    assert (report.rows, report.items, report.skipped) == (7, 2, 5)
    assert report.issues == {kind: 1 for kind, _ in EXPECTED_KINDS}
    first = FIRST_BAD_ROW[fmt]
    assert len(report.messages) == 5
    for offset, (message, (kind, field)) in enumerate(zip(report.messages, EXPECTED_KINDS, strict=True)):
        assert message.startswith(f"{path.name}, row {first + offset}, field '{field}': ")
        assert message.endswith(f"[{kind}]")
    assert "duplicate id 'm1' (first at " in report.messages[1]
    assert "'abc' is not an integer" in report.messages[2]
    assert "5 skipped (duplicate_id: 1, empty_text: 1, empty_title: 1, missing_id: 1, wrong_type: 1)" in (
        report.summary()
    )


def test_messages_are_capped(tmp_path: Path) -> None:
    cat = load_catalogue(FIXTURES / "films_bad.csv", mapping=MAPPING, skip_invalid=True, max_messages=2)
    assert cat.report.skipped == 5 and len(cat.report.messages) == 2


def test_nothing_valid_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"title": "no id"}\n', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"no valid items.*missing_id: 1"):
        load_catalogue(path, mapping=MAPPING, skip_invalid=True)


def test_malformed_file_is_an_error_even_when_skipping(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=r"malformed\.jsonl, line 3"):
        load_catalogue(FIXTURES / "malformed.jsonl", mapping=MAPPING, skip_invalid=True)


# --- duplicates, limits, progress -----------------------------------------------------------------


def _dupes(tmp_path: Path, policy: str) -> FieldMapping:
    path = tmp_path / f"dupes-{policy}.yaml"
    path.write_text(f"id: id\ntitle: title\ntext: '{{{{ title }}}}'\nduplicates: {policy}\n",
                    encoding="utf-8")
    return FieldMapping.load(path)


def test_duplicate_policies(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    lines = [f'{{"id": "a", "title": "{t}"}}\n' for t in ("one", "two", "three")]
    data.write_text("".join(lines), encoding="utf-8")
    items, report = build_items(read_records(data), _dupes(tmp_path, "suffix"))
    assert [(i.id, i.title) for i in items] == [("a", "one"), ("a~2", "two"), ("a~3", "three")]
    assert report.renamed == 2 and report.skipped == 0
    items, report = build_items(read_records(data), _dupes(tmp_path, "keep_first"))
    assert [i.title for i in items] == ["one"] and report.issues == {"duplicate_id": 2}
    expected = r"d\.jsonl, row 2, field 'id': duplicate id 'a' \(first at d\.jsonl, row 1\)"
    with pytest.raises(CatalogueError, match=expected):
        build_items(read_records(data), _dupes(tmp_path, "error"))


def test_limit_stops_after_that_many_items() -> None:
    cat = load_catalogue(FIXTURES / "films.csv", mapping=MAPPING, limit=2)
    assert [i.id for i in cat.items] == ["m1", "m2"] and cat.report.rows == 2


def test_progress_bar_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    load_catalogue(FIXTURES / "films.csv", mapping=MAPPING, progress=True)
    assert "loading test-films" in capsys.readouterr().err
    load_catalogue(FIXTURES / "films.csv", mapping=MAPPING, progress=False)
    assert "loading" not in capsys.readouterr().err


# --- finding mappings and data --------------------------------------------------------------------


def test_mapping_file_with_relative_source(tmp_path: Path) -> None:
    cat = load_catalogue(MAPPING)
    assert len(cat.items) == 4 and "films.csv" in cat.source_desc and cat.description
    # the source is relative to the mapping file, not to the working directory
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.copy(MAPPING, moved / "films.yaml")
    shutil.copy(FIXTURES / "films.csv", moved / "films.csv")
    assert load_catalogue(moved / "films.yaml").items == cat.items


def test_glob_source(tmp_path: Path) -> None:
    for name in ("films.json", "films_bad.json"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    (tmp_path / "m.yaml").write_text(
        MAPPING.read_text(encoding="utf-8").replace("source: films.csv", 'source: "films*.json"'),
        encoding="utf-8",
    )
    cat = load_catalogue(tmp_path / "m.yaml", skip_invalid=True)
    # films.json gives m1-m4; from films_bad.json the m1s are duplicates and m3 is a duplicate too
    assert [i.id for i in cat.items] == ["m1", "m2", "m3", "m4"]
    assert cat.report.issues["duplicate_id"] == 3


def test_data_file_needs_a_mapping() -> None:
    with pytest.raises(CatalogueError, match=r"films\.csv: not a bundled catalogue .*pass mapping="):
        load_catalogue(FIXTURES / "films.csv")
    with pytest.raises(MappingError, match=r"nope\.yaml: no such mapping file or bundled catalogue"):
        load_catalogue(FIXTURES / "films.csv", mapping="nope.yaml")


def test_mapping_without_source_asks_for_the_data() -> None:
    with pytest.raises(MappingError, match=r"no_source\.yaml: this mapping names no data"):
        load_catalogue(FIXTURES / "no_source.yaml")
    cat = load_catalogue(FIXTURES / "films.jsonl", mapping=FIXTURES / "no_source.yaml")
    assert cat.name == "no-source" and cat.items[0].text.startswith("Heat. A detective")


def test_unknown_package_source(tmp_path: Path) -> None:
    path = tmp_path / "pkg.yaml"
    path.write_text("source: {package: no_such_package_here, glob: '*.json'}\nid: id\ntitle: t\ntext: x\n",
                    encoding="utf-8")
    with pytest.raises(MappingError, match=r"pkg\.yaml: source package 'no_such_package_here' is not in"):
        load_catalogue(path)


def test_redial_mapping_needs_its_data() -> None:
    with pytest.raises(MappingError, match=r"redial\.yaml: this mapping names no data"):
        load_catalogue("redial")


def test_list_bundled() -> None:
    bundled = dict(list_bundled())
    assert set(bundled) == {"movies", "recipes", "redial"}
    assert "17,472 films" in bundled["movies"] and "4,819 recipes" in bundled["recipes"]


# --- the bundled catalogues -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def movies() -> LoadedCatalogue:
    return load_catalogue("movies")


@pytest.fixture(scope="session")
def recipes() -> LoadedCatalogue:
    return load_catalogue("recipes")


def _one(cat: LoadedCatalogue, title: str, year: int | None = None) -> Item:
    found = [i for i in cat.items if i.title == title and (year is None or i.year == year)]
    assert len(found) == 1, found
    return found[0]


def test_movies(movies: LoadedCatalogue) -> None:
    assert movies.name == "movies"
    assert len(movies.items) == 17472 and movies.report.skipped == 0 and movies.report.renamed == 0
    assert len({i.id for i in movies.items}) == 17472
    assert movies.report.seconds < 30  # about 1-2 s on two shared cores

    heat = _one(movies, "Heat", 1995)
    assert heat.id == "42198"
    assert {"crime", "drama", "thriller"} <= set(heat.genres)
    assert heat.people[0] == "Michael Mann"
    assert {"Al Pacino", "Robert De Niro", "Val Kilmer"} <= set(heat.people)
    assert heat.facts["runtime"] == 170 and heat.facts["imdb_id"] == "tt0113277"
    assert heat.facts["rt_meter"] == 84 and heat.popularity == 154.0
    assert heat.text.startswith("Heat (1995). Thriller, mystery, drama, crime")
    assert "Directed by Michael Mann." in heat.text and "Robert De Niro" in heat.text

    godfather = _one(movies, "The Godfather", 1972)
    assert "Marlon Brando" in godfather.people and godfather.facts["rated"] == "R"
    assert godfather.facts["oscars"] == 2 and "Won 2 Oscars." in godfather.text

    # "(2011 film)" disambiguation suffixes are stripped from titles
    assert _one(movies, "Faust", 2011).title == "Faust"
    assert not [i for i in movies.items if i.title.endswith("film)")]


def test_movies_are_sane(movies: LoadedCatalogue) -> None:
    items = movies.items
    assert all(i.text and i.title and 1940 <= (i.year or 0) <= 2014 for i in items)
    assert all(g == g.lower() for i in items for g in i.genres)
    assert sum(1 for i in items if i.popularity is not None) > 17400
    assert sum(1 for i in items if "runtime" in i.facts) > 16000
    facts = {k: type(v) for i in items for k, v in i.facts.items()}
    assert facts["runtime"] is int and facts["box_office"] is float and facts["language"] is str
    genres = Counter(g for i in items for g in i.genres)
    assert genres["drama"] > 5000 and genres["documentary"] > 1000


def test_recipes(recipes: LoadedCatalogue) -> None:
    assert recipes.name == "recipes" and len(recipes.items) == 4819
    # 191 recipe ids repeat across the package's files; "<meal>:<id>" leaves 3 repeats, renamed "~2"
    assert recipes.report.renamed == 3 and recipes.report.skipped == 0
    assert {"lunch:borscht_meat~2", "lunch:april_salad~2", "snack:diet_okroshka_whey~2"} <= {
        i.id for i in recipes.items
    }
    meals = Counter(i.genres[0] for i in recipes.items)
    assert meals == {"breakfast": 1625, "lunch": 847, "dinner": 1302, "snack": 1045}

    oatmeal = next(i for i in recipes.items if i.id == "breakfast:oatmeal_apple")
    assert oatmeal.title == "Oatmeal with Apple" and oatmeal.genres == ("breakfast", "healthy")
    assert oatmeal.people == ("Oatmeal", "Apple", "Cinnamon", "Water")
    assert oatmeal.facts == {
        "calories": 232.0, "protein": 7.0, "fat": 3.0, "carbs": 48.0, "prep_minutes": 8, "weight_g": 250.0,
        "allergens": "gluten", "healthy": True,
    }
    assert oatmeal.text.startswith("Oatmeal with Apple. Breakfast, healthy eating. Ingredients: Oatmeal,")
    assert "Step 1." in oatmeal.text and oatmeal.text.endswith("Allergens: gluten.")
    # the same recipe id as a breakfast and as a snack are two different recipes
    quinoa = {i.id: i for i in recipes.items if i.id.endswith(":apple_cinnamon_quinoa")}
    assert set(quinoa) == {"breakfast:apple_cinnamon_quinoa", "snack:apple_cinnamon_quinoa"}
    assert all(len(i.text) < 800 for i in recipes.items)


def test_redial(shared_data: Path) -> None:
    cat = load_catalogue(shared_data / "redial" / "id2info.json", mapping="redial")
    assert cat.name == "redial" and len(cat.items) == 6583 and cat.report.skipped == 0
    by_id = {i.id: i for i in cat.items}
    assert len(by_id) == 6583 and all(i.isdigit() for i in by_id)

    fwb = by_id["100030"]
    assert (fwb.title, fwb.year, fwb.genres) == ("Friends with Benefits", 2011, ("comedy", "romance"))
    assert fwb.facts == {"imdb_id": "tt1632708", "name": "Friends with Benefits (2011)"}
    assert fwb.people[0] == "Will Gluck" and "Mila Kunis" in fwb.people
    assert fwb.text.startswith("Friends with Benefits (2011). Comedy, romance. A young man and woman")
    assert fwb.text.endswith("Directed by Will Gluck. Starring Mila Kunis, Justin Timberlake, "
                             "Patricia Clarkson.")

    bttf = by_id["100043"]  # named without a year in the data
    assert (bttf.title, bttf.year) == ("Back to the Future", None)
    assert sum(1 for i in cat.items if i.year is None) == 568
