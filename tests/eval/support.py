"""Helpers shared by the benchmark tests: running the real CLI and checking its --help."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.faces.cli import main


def assert_help_lists(
    capsys: pytest.CaptureFixture[str], argv: Sequence[str], expected: Sequence[str]
) -> None:
    """``recbot ARGV`` (ending in ``--help``) exits 0 and its help names every one of ``expected``."""
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    assert exc.value.code == 0, argv
    out = capsys.readouterr().out
    for option in expected:
        assert option in out, (argv, option)


def main_on_data_dir(monkeypatch: pytest.MonkeyPatch, data_dir: Path, argv: Sequence[str]) -> int:
    """``recbot ARGV`` with ``RECBOT_DATA_DIR=data_dir``; the settings cache is cleared around the run."""
    from bot.settings import get_settings

    monkeypatch.setenv("RECBOT_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    try:
        return main(list(argv))
    finally:
        get_settings.cache_clear()


def main_on_small_redial(
    monkeypatch: pytest.MonkeyPatch,
    small_redial,
    dialogues: Path,
    out: Path,
    argv: Sequence[str],
    *,
    with_turns: bool = False,
) -> int:
    """``recbot ARGV`` on the ``small_redial`` setup (tests/eval/conftest.py): its data dir, catalogue and
    raw ``dialogues`` (and its turns with ``with_turns``), writing to ``out``."""
    data = ["--dialogues-file", str(dialogues), "--catalogue", str(small_redial.catalogue_path)]
    if with_turns:
        data += ["--turns", str(small_redial.turns_path)]
    return main_on_data_dir(monkeypatch, small_redial.settings.data_dir, [*argv, *data, "--out", str(out)])
