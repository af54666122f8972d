"""`recbot app`: its options, and a clear error before any server starts."""

from __future__ import annotations

import argparse

import pytest

from bot.faces.commands import app as app_command
from bot.settings import get_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recbot")
    app_command.register(parser.add_subparsers(dest="command"))
    return parser


def test_options_and_defaults():
    args = _parser().parse_args(["app"])
    assert (args.catalogue, args.host, args.port, args.func) == (None, "127.0.0.1", 7860, app_command.cmd_app)
    args = _parser().parse_args(["app", "-c", "recipes", "--host", "0.0.0.0", "--port", "7861"])
    assert (args.catalogue, args.host, args.port) == ("recipes", "0.0.0.0", 7861)


def test_no_public_share_link(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["app", "--share"])
    assert "unrecognized arguments: --share" in capsys.readouterr().err


@pytest.mark.parametrize("name,says", [("no-such-catalogue", "recbot ingest"),
                                       ("No Such!", "must be 3-62 chars")])
def test_unusable_catalogue_is_an_error_not_a_traceback(name, says, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RECBOT_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        args = _parser().parse_args(["app", "--catalogue", name])
        assert args.func(args) == 1
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.startswith("error: ") and name in err and says in err
