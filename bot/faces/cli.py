"""The `recbot` command: one entry point, a sub-command per job. `recbot <command> --help` teaches each."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

DESCRIPTION = """\
recbot — a conversational recommender that runs on a laptop CPU.

A person chats; a small local LLM asks what they like; retrieval (embeddings in Chroma + BM25 +
neighbours of liked items) finds candidates in a catalogue; a reranker orders them; prompt templates
turn the winners into grounded recommendations.

Start with:  recbot search "funny 80s sci-fi" --not-genre horror
Settings:    recbot.toml in the working directory, or RECBOT_* environment variables
             (e.g. RECBOT_DATA_DIR, RECBOT_STORE__MODE=http, RECBOT_LLM__BACKEND=openai).
"""

# Each module exposes register(subparsers).
COMMAND_MODULES = [
    "bot.faces.commands.catalogue",
    "bot.faces.commands.bench",
    "bot.faces.commands.prompts",
    "bot.faces.commands.app",
    "bot.faces.commands.chat",
    "bot.faces.commands.serve",
    "bot.faces.commands.evaluate",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recbot", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
