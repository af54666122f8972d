"""A small real ReDial setup shared by the benchmark tests: a few dialogues of the dev turns, the
movies they mention plus some others, ingested once per session into a private data dir."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

N_DIALOGUES = 12  # the first dialogues of valid_turns.jsonl
N_OTHER_MOVIES = 250  # catalogue movies nobody mentions in those dialogues: distractors


@dataclass(frozen=True)
class SmallRedial:
    turns_path: Path
    catalogue_path: Path
    settings: object  # bot.settings.Settings with a private data dir
    snapshot: object  # retrieval.index.IndexSnapshot of the ingested catalogue


def _write_subset(shared: Path, out: Path) -> tuple[Path, Path]:
    from eval.redial_catalogue import load_catalogue

    src_turns = shared / "redial" / "valid_turns.jsonl"
    src_info = shared / "redial" / "id2info.json"
    catalogue = load_catalogue(src_info)
    rows, dialogues = [], []
    with src_turns.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["dialog_id"] not in dialogues:
                if len(dialogues) == N_DIALOGUES:
                    break
                dialogues.append(row["dialog_id"])
            rows.append(row)
    info = json.loads(src_info.read_text(encoding="utf-8"))
    needed = {catalogue.resolve(n) for r in rows for n in (*r["entity"], *r["rec"])} - {None}
    # keep every id of a needed name (duplicates in id2info share a name)
    names = {info[i]["name"] for i in needed}
    keep = [i for i in info if info[i]["name"] in names]
    kept = set(keep)
    keep += [i for i in info if i not in kept][:N_OTHER_MOVIES]
    turns_path = out / "turns.jsonl"
    turns_path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    catalogue_path = out / "id2info.json"
    catalogue_path.write_text(json.dumps({i: info[i] for i in keep}), encoding="utf-8")
    return turns_path, catalogue_path


@pytest.fixture(scope="session")
def small_redial(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> SmallRedial:
    """~40 turns of 12 dialogues and a ~330-movie catalogue, ingested as the index ``redial``."""
    from bot.settings import Settings
    from eval.redial_setup import open_redial_index

    root = tmp_path_factory.mktemp("small-redial")
    turns_path, catalogue_path = _write_subset(shared_data, root)
    settings = Settings(data_dir=root / "data")
    snapshot = open_redial_index(settings, catalogue_path, progress=False)
    return SmallRedial(turns_path, catalogue_path, settings, snapshot)


@pytest.fixture(scope="session")
def small_redial_dialogues(small_redial: SmallRedial, shared_data: Path) -> Path:
    """The raw dialogues (``valid_dialogues_raw.jsonl``) of the ``small_redial`` dialogues, in the turns'
    order: the seekers a user simulator plays. ``conversationId`` there is ``dialog_id`` in the turns."""
    ids: list[str] = []
    with small_redial.turns_path.open(encoding="utf-8") as fh:
        for line in fh:
            dialog_id = json.loads(line)["dialog_id"]
            if dialog_id not in ids:
                ids.append(dialog_id)
    rows: dict[str, str] = {}
    with (shared_data / "redial" / "valid_dialogues_raw.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["conversationId"] in ids:
                rows[row["conversationId"]] = line if line.endswith("\n") else line + "\n"
    missing = [i for i in ids if i not in rows]
    assert not missing, f"dialogues {missing} of the turns file are not in the raw dialogues file"
    path = small_redial.turns_path.parent / "dialogues_raw.jsonl"
    path.write_text("".join(rows[i] for i in ids), encoding="utf-8")
    return path
