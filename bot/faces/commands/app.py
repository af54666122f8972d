"""`recbot app`: the chat web page (Gradio) on this machine."""

from __future__ import annotations

import argparse
import sys

APP_HELP = """\
Open the recbot chat page in a browser: chat with streamed replies, recommendation cards with
Like / Dislike / Seen it, Stop / Retry / Reset, a settings panel (catalogue, recommendations per
turn, LLM backend and model, prompt set) and a prompt lab to edit, render, compare and save prompt
template versions (saved under <data_dir>/prompts).

The first start of a bundled catalogue indexes it once (a minute or so on a laptop); later starts
are instant. Everything runs locally: no analytics, no fonts or scripts from the internet, and no
public share link. Bind to another address than 127.0.0.1 only on a network you trust: the page has
no login.

examples:
  recbot app                                   # http://127.0.0.1:7860
  recbot app --catalogue recipes --port 7861
  RECBOT_LLM__MODEL=smollm2-135m recbot app    # a tiny model, for a quick try
"""

DEFAULT_PORT = 7860


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="the chat web page (Gradio) on this machine", description=APP_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--catalogue", "-c", help="catalogue to chat about (default: settings.catalogue)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.set_defaults(func=cmd_app)


def cmd_app(args: argparse.Namespace) -> int:
    from bot import services
    from bot.faces.commands.catalogue import ensure_indexed
    from bot.llm.base import LLMError
    from bot.settings import get_settings
    from prompts.loader import PromptError
    from retrieval.errors import CatalogueError
    from retrieval.index import IndexUnavailable

    settings = get_settings()
    if args.catalogue:
        settings = settings.model_copy(update={"catalogue": args.catalogue})
    # ValueError also covers a catalogue name the index cannot take
    try:
        ensure_indexed(settings, settings.catalogue)
        (settings.data_dir / "prompts").mkdir(parents=True, exist_ok=True)  # saved prompt versions go here
        chat_service = services.chat_service(settings, settings.catalogue)  # loads the index and the LLM now
    except (IndexUnavailable, CatalogueError, LLMError, PromptError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    from bot.faces.ui import launch  # imports Gradio: only now

    print(f"recbot app on http://{args.host}:{args.port} (catalogue {settings.catalogue}); Ctrl+C stops it",
          file=sys.stderr)
    launch(settings, host=args.host, port=args.port, chat_service=chat_service)
    return 0
