"""Plot summaries from a package joined onto items by title + year, with their attribution."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from retrieval.loaders import Record
from retrieval.mapping import FieldMapping
from retrieval.summaries import load_summaries, summary_key


def test_summary_keys_take_the_year_from_the_title_or_the_first_sentence():
    assert summary_key("Heat (1995 film)", "Heat is an American crime film.") == "heat|1995"
    assert summary_key("Vertigo (film)", "Vertigo is a 1958 American film noir.") == "vertigo|1958"
    assert summary_key("Citizen Kane", "Citizen Kane is a 1941 American drama film.") == "citizen kane|1941"
    assert summary_key("Up (2009 American film)", "Up is ...") == "up|2009"
    assert summary_key("Nameless", "No year anywhere.") is None


@pytest.fixture
def summary_package(tmp_path, monkeypatch):
    pkg = tmp_path / "plots_pkg_for_test"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('never imported: only located')\n")
    (pkg / "data" / "s.json").write_text(json.dumps({
        "Alien (film)": "Alien is a 1979 science fiction horror film. " + "A crew meets a creature. " * 40,
        "Heat (1995 film)": "A heist crew and a detective in Los Angeles.",
    }), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    load_summaries.cache_clear()
    yield "plots_pkg_for_test"
    load_summaries.cache_clear()
    sys.modules.pop("plots_pkg_for_test", None)


def test_mapping_joins_summaries_and_credits_them(summary_package):
    summaries = load_summaries(summary_package, "data/s.json", 200)
    assert set(summaries) == {"alien|1979", "heat|1995"}
    assert len(summaries["alien|1979"]) <= 200 and summaries["alien|1979"].endswith(".")
    mapping = FieldMapping.from_dict({
        "id": "id", "title": "title", "year": "year",
        "summaries": {"package": summary_package, "path": "data/s.json", "attribution": "Wikipedia, CC BY-SA"},
        "text": "{{ item.title }}. {% if item.summary %}{{ item.summary }}{% endif %}",
    })
    heat = mapping.to_item(Record(Path("films.json"), 1, {"id": "1", "title": "Heat", "year": 1995}))
    assert "heist crew" in heat.text and heat.facts["summary_source"] == "Wikipedia, CC BY-SA"
    other = mapping.to_item(Record(Path("films.json"), 2, {"id": "2", "title": "Heat", "year": 1986}))  # same title, another film
    assert "heist" not in other.text and "summary_source" not in other.facts


def test_a_missing_package_means_no_summaries():
    assert load_summaries("no_such_package_anywhere", "data/s.json") == {}
