"""Reading raw records from every supported format, with row numbers a person can find in the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from retrieval.errors import CatalogueError
from retrieval.loaders import detect_format, read_records, resolve_paths
from tests.retrieval.fixtures import FIXTURES, json_rows, write_parquet, write_sqlite


def test_jsonl_rows_are_line_numbers_and_blank_lines_are_skipped() -> None:
    records = list(read_records(FIXTURES / "films.jsonl"))
    # line 2 of films.jsonl is blank
    assert [(r.row, r.data["id"]) for r in records] == [(1, "m1"), (3, "m2"), (4, "m3"), (5, "m4")]
    assert records[0].source == FIXTURES / "films.jsonl"
    assert records[0].data["cast"] == ["Al Pacino", "Robert De Niro", "Val Kilmer"]


def test_csv_rows_are_the_line_where_the_record_starts() -> None:
    records = list(read_records(FIXTURES / "films.csv"))
    # m2's description is quoted over two lines (3 and 4), so m3 starts on line 5
    assert [(r.row, r.data["id"]) for r in records] == [(2, "m1"), (3, "m2"), (5, "m3"), (6, "m4")]
    assert records[1].data["description"].startswith("A shy waitress in Montmartre\nsecretly")
    assert records[0].data["cast"] == "Al Pacino, Robert De Niro, Val Kilmer"
    assert records[3].data["votes"] == ""  # CSV values stay raw strings; the mapping types them


def test_tsv_suffix_means_tab_delimited() -> None:
    [record] = read_records(FIXTURES / "films.tsv")
    assert record.data["title"] == "Heat" and record.data["cast"] == "Al Pacino, Robert De Niro, Val Kilmer"
    assert record.row == 2


def test_json_array_rows_are_positions() -> None:
    records = list(read_records(FIXTURES / "films.json"))
    assert [(r.row, r.data["id"], r.key) for r in records] == [
        (1, "m1", None), (2, "m2", None), (3, "m3", None), (4, "m4", None)
    ]


def test_json_records_path_with_star_keeps_the_parent_key() -> None:
    records = list(read_records(FIXTURES / "shop.json", records="catalogue.sections.*"))
    assert [(r.row, r.key, r.data["sku"]) for r in records] == [
        (1, "tools", 101), (2, "tools", 102), (3, "garden", 201)
    ]
    assert records[0].data["name"]["en"] == "Claw hammer"


def test_json_object_of_records(tmp_path: Path) -> None:
    path = tmp_path / "by_id.json"
    path.write_text('{"17": {"name": "Heat (1995)"}, "42": {"name": "Alien (1979)"}}', encoding="utf-8")
    records = list(read_records(path, records="*"))
    assert [(r.row, r.key, r.data["name"]) for r in records] == [
        (1, "17", "Heat (1995)"), (2, "42", "Alien (1979)")
    ]


def test_json_object_without_records_option_is_explained() -> None:
    with pytest.raises(CatalogueError, match=r"shop\.json.*JSON object.*`records`"):
        list(read_records(FIXTURES / "shop.json"))


def test_json_records_path_that_does_not_exist() -> None:
    with pytest.raises(CatalogueError, match=r"shop\.json.*'sektions'"):
        list(read_records(FIXTURES / "shop.json", records="catalogue.sektions.*"))


def test_parquet(tmp_path: Path) -> None:
    path = write_parquet(json_rows("films.json"), tmp_path / "films.parquet")
    records = list(read_records(path))
    assert [(r.row, r.data["id"]) for r in records] == [(1, "m1"), (2, "m2"), (3, "m3"), (4, "m4")]
    assert records[3].data["votes"] is None and records[0].data["runtime"] == 170
    only = list(read_records(path, columns=["id", "title"]))
    assert only[1].data == {"id": "m2", "title": "Amélie"}


def test_parquet_unknown_column(tmp_path: Path) -> None:
    path = write_parquet(json_rows("films.json"), tmp_path / "films.parquet")
    with pytest.raises(CatalogueError, match=r"films\.parquet.*'nope'"):
        list(read_records(path, columns=["nope"]))


def test_sqlite_table_rows_are_rowids(tmp_path: Path) -> None:
    path = write_sqlite(json_rows("films.json"), tmp_path / "films.db")
    con = sqlite3.connect(path)
    with con:
        con.execute("DELETE FROM films WHERE id = 'm2'")
    con.close()
    records = list(read_records(path))  # one table: no option needed
    assert [(r.row, r.data["id"]) for r in records] == [(1, "m1"), (3, "m3"), (4, "m4")]
    assert "__rowid__" not in records[0].data


def test_sqlite_query_can_join_tables(tmp_path: Path) -> None:
    path = write_sqlite(json_rows("films.json"), tmp_path / "films.db")
    write_sqlite([{"film": "m1", "award": "none"}, {"film": "m3", "award": "Oscar"}], path, table="awards")
    query = "SELECT f.id, f.title, a.award FROM films f LEFT JOIN awards a ON a.film = f.id ORDER BY f.id"
    records = list(read_records(path, query=query))
    assert [(r.row, r.data["id"], r.data["award"]) for r in records] == [
        (1, "m1", "none"), (2, "m2", None), (3, "m3", "Oscar"), (4, "m4", None)
    ]
    assert [r.data["id"] for r in read_records(path, table="films")] == ["m1", "m2", "m3", "m4"]
    with pytest.raises(CatalogueError, match=r"films\.db.*2 tables.*`table` or `query`"):
        list(read_records(path))
    with pytest.raises(CatalogueError, match=r"films\.db.*no table 'movies'"):
        list(read_records(path, table="movies"))
    with pytest.raises(CatalogueError, match=r"films\.db.*query failed"):
        list(read_records(path, query="SELECT nope FROM films"))


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "fake.db"
    path.write_text("this is not SQLite", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"fake\.db.*not a readable SQLite database"):
        list(read_records(path))


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.parquet"
    path.write_text("this is not Parquet", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"fake\.parquet.*not a readable Parquet file"):
        list(read_records(path))


def test_malformed_jsonl_names_file_and_line() -> None:
    records = read_records(FIXTURES / "malformed.jsonl")
    assert next(records).data["id"] == "m1"
    assert next(records).data["id"] == "m2"
    with pytest.raises(CatalogueError, match=r"malformed\.jsonl, line 3: invalid JSON") as e:
        next(records)
    assert e.value.row == 3 and e.value.source == FIXTURES / "malformed.jsonl"


def test_malformed_csv_names_file_and_line() -> None:
    with pytest.raises(CatalogueError, match=r"malformed\.csv, line 4: 6 fields, but the header has 3") as e:
        list(read_records(FIXTURES / "malformed.csv"))
    assert e.value.row == 4


def test_malformed_json_names_file_and_line() -> None:
    with pytest.raises(CatalogueError, match=r"malformed\.json: invalid JSON at line 3") as e:
        list(read_records(FIXTURES / "malformed.json"))
    assert e.value.row == 3


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text('{"id": 1}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"list\.jsonl, line 2: a JSON array, not an object"):
        list(read_records(path))


def test_undecodable_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,title\n1,Amélie\n".encode("latin-1"))
    with pytest.raises(CatalogueError, match=r"latin1\.csv: cannot read"):
        list(read_records(path))
    [record] = read_records(path, encoding="latin-1")
    assert record.data["title"] == "Amélie"


def test_globs_and_several_files(tmp_path: Path) -> None:
    for name in ("b.jsonl", "a.jsonl"):
        (tmp_path / name).write_text(f'{{"id": "{name}"}}\n', encoding="utf-8")
    records = list(read_records(str(tmp_path / "*.jsonl")))
    assert [r.data["id"] for r in records] == ["a.jsonl", "b.jsonl"]  # sorted file order
    mixed = list(read_records([FIXTURES / "films.json", FIXTURES / "films.csv"]))
    assert len(mixed) == 8 and mixed[4].source.name == "films.csv"
    with pytest.raises(CatalogueError, match="matches no files"):
        resolve_paths(str(tmp_path / "*.csv"))
    with pytest.raises(CatalogueError, match="no such file"):
        resolve_paths(tmp_path / "missing.json")


def test_format_detection_and_options() -> None:
    assert detect_format("x.NDJSON") == "jsonl" and detect_format("x.sqlite3") == "sqlite"
    with pytest.raises(CatalogueError, match=r"data\.xml.*suffix '\.xml'"):
        detect_format("data.xml")
    with pytest.raises(CatalogueError, match=r"films\.csv: unknown csv option\(s\) table"):
        list(read_records(FIXTURES / "films.csv", table="films"))
    with pytest.raises(CatalogueError, match="unknown format 'xml'"):
        list(read_records(FIXTURES / "films.csv", "xml"))
    # an explicit format wins over the suffix
    rows = list(read_records(FIXTURES / "films.tsv", "csv", delimiter="\t"))
    assert rows[0].data["id"] == "m1"
