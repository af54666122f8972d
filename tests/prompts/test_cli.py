"""`recbot prompts list|show|render|validate`, run through argparse as the real CLI does."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.faces.commands.prompts import register

REPO = Path(__file__).resolve().parents[2]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="recbot")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["prompts", *argv])
    return args.func(args)


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user prompt folder from the developer's data dir leaks into these tests."""
    from bot.settings import get_settings

    monkeypatch.setenv("RECBOT_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_list(capsys: pytest.CaptureFixture[str]):
    assert run(["list"]) == 0
    out = capsys.readouterr().out
    assert "customer_service  (inherits from default)" in out
    assert "[from default]" in out
    for name in ("system", "elicit", "recommend", "answer", "chitchat", "understand"):
        assert f"  {name} " in out


def test_show(capsys: pytest.CaptureFixture[str]):
    assert run(["show", "system", "--set", "customer_service"]) == 0
    out = capsys.readouterr().out
    assert "customer_service/system.yaml" in out and "courteous customer-service assistant" in out


def test_render_with_vars_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "vars.json"
    path.write_text(json.dumps({"slot": "genre", "known": ["liked: Heat (1995)"]}))
    assert run(["render", "elicit", "--vars", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[user]\n") and "liked: Heat (1995)" in out
    assert run(["render", "elicit", "--vars", str(path), "--json"]) == 0
    messages = json.loads(capsys.readouterr().out)
    assert messages[0]["role"] == "user" and "genre" in messages[0]["content"]


def test_render_errors_name_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert run(["render", "elicit"]) == 2
    err = capsys.readouterr().err
    assert "elicit.yaml" in err and "missing required variable(s) ['slot']" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert run(["render", "elicit", "--vars", str(bad)]) == 2
    assert "bad.json: invalid JSON" in capsys.readouterr().err
    assert run(["show", "nope"]) == 2
    assert "no template 'nope'" in capsys.readouterr().err


def test_extra_dir_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "system.yaml").write_text(
        "name: system\nversion: 1\nmessages:\n  - role: system\n    content: Pirate persona.\n")
    assert run(["render", "system", "--set", "mine", "--dir", str(tmp_path)]) == 0
    assert "Pirate persona." in capsys.readouterr().out
    assert run(["validate", "--dir", str(tmp_path)]) == 0
    assert "valid in 3 set(s)" in capsys.readouterr().out


def test_through_the_recbot_entry_point(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "bot.faces.cli", "prompts", "render", "chitchat", "--vars", "-"],
                          input='{"user_message": "hi"}', capture_output=True, text=True, cwd=REPO,
                          env={"PATH": "", "RECBOT_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"},
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '"hi"' in proc.stdout
