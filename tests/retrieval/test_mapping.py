"""Field mappings: rules, typing, templates, and errors that name the file, row and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retrieval.errors import CatalogueError, IssueKind, MappingError
from retrieval.loaders import Record, read_records
from retrieval.mapping import FieldMapping, get_path
from tests.retrieval.fixtures import FIXTURES

SOURCE = Path("catalogue.jsonl")


def mapping(**rules: Any) -> FieldMapping:
    base: dict[str, Any] = {"id": "id", "title": "title", "text": "{{ title }}"}
    return FieldMapping.from_dict(base | rules)


def record(data: dict[str, Any], row: int = 7, key: str | None = None) -> Record:
    return Record(SOURCE, row, data, key)


def issue_of(m: FieldMapping, data: dict[str, Any]) -> CatalogueError:
    with pytest.raises(CatalogueError) as e:
        m.to_item(record(data))
    return e.value


# --- paths ---------------------------------------------------------------------------------------


def test_get_path_reaches_into_nested_values() -> None:
    data = {"name": {"en": "Oatmeal"}, "steps": [{"t": "boil"}, {"t": "stir"}], "recipe.en": "flat"}
    assert get_path(data, "name.en") == "Oatmeal"
    assert get_path(data, "steps.1.t") == "stir"
    assert get_path(data, "steps.-1.t") == "stir"
    assert get_path(data, "recipe.en") == "flat"  # a key with a dot in it
    assert get_path(data, "name.ru") is None
    assert get_path(data, "steps.5.t") is None
    assert get_path(data, "name.en.x") is None


def test_nested_fields_and_the_parent_key() -> None:
    [first, *_] = read_records(FIXTURES / "shop.json", records="catalogue.sections.*")
    m = mapping(
        id={"template": "{{ _key }}-{{ sku }}"},
        title="name.en",
        genres={"field": ["_key", "tags"], "item": None},
        facts={"price_eur": {"field": "price.eur", "type": "float"}, "in_stock": "stock.count"},
        text="{{ name.en }} ({{ name.de }}), {{ _key }}. Price {{ price.eur }} EUR.",
    )
    with pytest.raises(CatalogueError, match=r"shop\.json, row 1, key 'tools', field '_key'.*set `item`"):
        m.to_item(first)  # tags are objects: the rule must say which key to take

    m = mapping(
        id={"template": "{{ _key }}-{{ sku }}"},
        title="name.en",
        genres={"field": "tags", "item": "label"},
        facts={"price_eur": {"field": "price.eur", "type": "float"}, "in_stock": "stock.count"},
        text="{{ name.en }} ({{ name.de }}), {{ _key }}. Price {{ price.eur }} EUR.",
    )
    item = m.to_item(first)
    assert item.id == "tools-101"
    assert item.title == "Claw hammer"
    assert item.genres == ("hand tools", "carpentry")
    assert item.facts == {"price_eur": 19.5, "in_stock": 12}
    assert item.text == "Claw hammer (Klauenhammer), tools. Price 19.5 EUR."


# --- values --------------------------------------------------------------------------------------


def test_year_and_title_parsed_from_a_name() -> None:
    m = mapping(
        title={"field": "name", "strip": r"\s*\(\d{4}\)\s*$"},
        year={"field": "name", "pattern": r"\((\d{4})\)\s*$"},
        text="{{ item.title }} / {{ item.year }} / {{ name }}",
    )
    item = m.to_item(record({"id": 1, "name": "Heat (1995)"}))
    assert (item.title, item.year, item.text) == ("Heat", 1995, "Heat / 1995 / Heat (1995)")
    no_year = m.to_item(record({"id": 2, "name": "Back to the Future"}))
    assert (no_year.title, no_year.year) == ("Back to the Future", None)
    # a name that is only a year is kept whole rather than stripped to nothing
    only_year = m.to_item(record({"id": 3, "name": "(2015)"}))
    assert (only_year.title, only_year.year) == ("(2015)", 2015)


def test_first_non_empty_of_several_fields() -> None:
    m = mapping(title={"field": ["name.en", "name.ru"]}, text="{{ item.title }}")
    assert m.to_item(record({"id": 1, "name": {"en": " ", "ru": "Борщ"}})).title == "Борщ"
    assert m.to_item(record({"id": 1, "name": {"en": "Borscht", "ru": "Борщ"}})).title == "Borscht"


def test_ids_become_strings() -> None:
    m = mapping()
    assert m.to_item(record({"id": 42, "title": "x"})).id == "42"
    assert m.to_item(record({"id": 42.0, "title": "x"})).id == "42"  # pandas/CSV floats
    err = issue_of(m, {"id": {"a": 1}, "title": "x"})
    assert err.issues[0].kind is IssueKind.WRONG_TYPE


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("int", "170", 170),
        ("int", 170.0, 170),
        ("int", " 95 ", 95),
        ("float", "7.25", 7.25),
        ("float", 8, 8.0),
        ("float", float("nan"), None),
        ("float", "", None),
        ("bool", "yes", True),
        ("bool", "0", False),
        ("bool", True, True),
        ("str", 1995, "1995"),
        ("str", ["gluten", "eggs"], "gluten, eggs"),
        ("auto", ["a", "b"], "a, b"),
        ("auto", 3.5, 3.5),
        ("auto", False, False),
    ],
)
def test_fact_types(type_: str, raw: Any, expected: Any) -> None:
    m = mapping(facts={"x": {"field": "raw", "type": type_}})
    facts = m.to_item(record({"id": 1, "title": "t", "raw": raw})).facts
    if expected is None:
        assert "x" not in facts  # missing values are left out, never stored as None
    else:
        assert facts["x"] == expected and type(facts["x"]) is type(expected)


@pytest.mark.parametrize(
    ("type_", "raw"), [("int", "abc"), ("int", 7.5), ("float", "7,5"), ("bool", "maybe"), ("int", True),
                       ("auto", {"a": 1}), ("float", float("inf"))]
)
def test_wrong_fact_types_name_the_field(type_: str, raw: Any) -> None:
    m = mapping(facts={"runtime": {"field": "minutes", "type": type_}})
    err = issue_of(m, {"id": 1, "title": "t", "minutes": raw})
    [issue] = err.issues
    assert issue.kind is IssueKind.WRONG_TYPE and issue.field == "minutes" and issue.row == 7
    assert "catalogue.jsonl, row 7, field 'minutes'" in str(err)


def test_wrong_year_type() -> None:
    err = issue_of(mapping(year="year"), {"id": 1, "title": "t", "year": "abc"})
    assert str(err) == "catalogue.jsonl, row 7, field 'year': 'abc' is not an integer [wrong_type]"
    assert (err.source, err.row, err.field) == (SOURCE, 7, "year")


def test_popularity_field_or_expression() -> None:
    data = {"id": 1, "title": "t", "votes": "1200", "fresh": 30, "rotten": None}
    assert mapping(popularity="votes").to_item(record(data)).popularity == 1200.0
    expr = mapping(popularity={"expression": "(fresh or 0) + (rotten or 0)"})
    assert expr.to_item(record(data)).popularity == 30.0
    assert mapping(popularity="missing").to_item(record(data)).popularity is None
    err = issue_of(mapping(popularity={"expression": "fresh + rotten"}), data)
    assert err.issues[0].kind is IssueKind.TEMPLATE_ERROR and err.issues[0].field == "popularity"


def test_lists_split_lower_dedupe_and_limit() -> None:
    m = mapping(
        genres={"field": ["genre", "extra"], "split": ","},
        people={"field": ["director", "cast"], "split": ",", "limit": 3},
    )
    item = m.to_item(record({
        "id": 1, "title": "t", "genre": "Drama, Crime,  drama,", "extra": ["War"],
        "director": "Michael Mann", "cast": "Al Pacino, Robert De Niro, Val Kilmer",
    }))
    assert item.genres == ("drama", "crime", "war")
    assert item.people == ("Michael Mann", "Al Pacino", "Robert De Niro")
    kept_case = mapping(genres={"field": "genre", "split": "|", "lower": False})
    kept = kept_case.to_item(record({"id": 1, "title": "t", "genre": "Sci-Fi|Drama"}))
    assert kept.genres == ("Sci-Fi", "Drama")
    templated = mapping(genres={"template": "{{ _key }}{% if is_pp %}, healthy{% endif %}", "split": ","})
    assert templated.to_item(record({"id": 1, "title": "t", "is_pp": True}, key="Snack")).genres == (
        "snack", "healthy"
    )


def test_text_template_sees_record_item_and_filters() -> None:
    m = mapping(
        year="year",
        genres={"field": "genre", "split": "|"},
        text="""
            {{ item.title }} ({{ item.year }}).
            {{ item.genres | join(', ') | capitalize }}.
            Starring {{ cast | split | take(2) | join(', ') }}.
            {{ plot | clip(20) }} {{ missing.deeply.nested }}{{ nothing }}
            {{ record["odd key"] }}
        """,
    )
    item = m.to_item(record({
        "id": 1, "title": "Heat", "year": 1995, "genre": "Crime|Drama",
        "cast": "Al Pacino, Robert De Niro, Val",
        "plot": "A detective hunts a crew of professional thieves.", "nothing": None, "odd key": "Odd.",
    }))
    assert item.text == (
        "Heat (1995). Crime, drama. Starring Al Pacino, Robert De Niro. A detective hunts a… Odd."
    )


def test_empty_title_and_empty_text() -> None:
    m = mapping(text="{{ plot }}")
    err = issue_of(m, {"id": 1, "title": "   ", "plot": "x"})
    assert err.issues[0].kind is IssueKind.EMPTY_TITLE and err.field == "title"
    err = issue_of(m, {"id": 1, "title": "Heat", "plot": "  \n "})
    assert err.issues[0].kind is IssueKind.EMPTY_TEXT and err.field == "text"
    assert "catalogue.jsonl, row 7, field 'text'" in str(err)


def test_missing_id() -> None:
    for data in ({"title": "t"}, {"id": "", "title": "t"}, {"id": None, "title": "t"}):
        err = issue_of(mapping(), data)
        assert err.issues[0].kind is IssueKind.MISSING_ID and err.field == "id"


def test_templates_cannot_change_the_record() -> None:
    m = mapping(text="{{ title }}{{ tags.append('x') }}")
    err = issue_of(m, {"id": 1, "title": "Heat", "tags": ["a"]})
    assert err.issues[0].kind is IssueKind.TEMPLATE_ERROR and "SecurityError" in str(err)


def test_template_runtime_error_is_a_record_issue() -> None:
    m = mapping(text="{{ title }} {{ runtime // 60 }}h")
    assert m.to_item(record({"id": 1, "title": "Heat", "runtime": 170})).text == "Heat 2h"
    err = issue_of(m, {"id": 1, "title": "Heat", "runtime": "long"})
    assert err.issues[0].kind is IssueKind.TEMPLATE_ERROR and err.field == "text"


# --- the mapping file itself ---------------------------------------------------------------------


def test_mapping_file_loads_and_knows_its_path() -> None:
    m = FieldMapping.load(FIXTURES / "films.yaml")
    assert m.name == "test-films" and m.path == FIXTURES / "films.yaml"
    assert m.source is not None and m.source.path == "films.csv"


def test_unknown_keys_name_the_mapping_file() -> None:
    with pytest.raises(MappingError) as e:
        FieldMapping.load(FIXTURES / "unknown_key.yaml")
    message = str(e.value)
    assert "unknown_key.yaml" in message
    assert "generes: unknown key" in message and "facts.runtime.typ: unknown key" in message
    assert e.value.source == FIXTURES / "unknown_key.yaml"


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({"text": "{{ title "}, "text: invalid template"),
        ({"name": "My Films"}, "name: must be 3-62 characters"),
        ({"name": "ab"}, "name: must be 3-62 characters"),
        ({"title": {"field": "name", "strip": "(["}}, "title: `strip` is not a valid regular expression"),
        ({"facts": {"year": "year"}}, "fact name 'year' is an item field"),
        ({"facts": {"box office": "gross"}}, "must be an identifier"),
        ({"id": {"field": "id", "template": "{{ id }}"}}, "give exactly one of"),
        ({"genres": {"split": ","}}, "give exactly one of `field` or `template`"),
        ({"format": "xml"}, "format: Input should be"),
        ({"duplicates": "merge"}, "duplicates: Input should be"),
        ({"source": {"package": "x"}}, "give exactly one of `attribute`, `glob` or `path`"),
        ({"popularity": {"expression": "votes *"}}, "popularity: invalid template or expression"),
        ({"format": "csv", "options": {"table": "films"}}, "unknown csv option(s) table; known: delimiter"),
    ],
)
def test_invalid_mappings(rules: dict[str, Any], expected: str) -> None:
    base: dict[str, Any] = {"id": "id", "title": "title", "text": "{{ title }}"}
    with pytest.raises(MappingError, match="^films.yaml: invalid mapping: ") as e:
        FieldMapping.from_dict(base | rules, path="films.yaml")
    assert expected in str(e.value)


def test_required_rules(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("name: empty-one\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"empty\.yaml: invalid mapping: id: Field required; "
                                           r"title: Field required; text: Field required"):
        FieldMapping.load(path)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: id\ntitle: title\ntext: [unclosed\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"broken\.yaml, line \d+: invalid YAML"):
        FieldMapping.load(path)
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(MappingError, match="must be a YAML mapping"):
        FieldMapping.load(path)


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "My_Shop.yaml"
    path.write_text("id: id\ntitle: title\ntext: '{{ title }}'\n", encoding="utf-8")
    m = FieldMapping.load(path)
    assert m.name == "my-shop"
    assert m.to_item(record({"id": 3, "title": "Hammer"})).text == "Hammer"
