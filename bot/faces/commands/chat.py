"""`recbot chat`: talk to recbot in the terminal, with streamed replies and feedback commands."""

from __future__ import annotations

import argparse
import json
import sys
import threading

from bot import services
from bot.settings import get_settings
from bot.state import SessionState

HELP = """\
Chat with recbot in the terminal. It asks what you like, recommends items from the catalogue with a
reason for each, and learns from your feedback. Replies stream as they are written; Ctrl-C stops a
reply (a second Ctrl-C quits).

commands while chatting:
  /like N      you like recommendation N of the last list (more like it next time)
  /dislike N   you dislike recommendation N (it and things like it are pushed away)
  /seen N      you have seen N already (never shown again)
  /state       what recbot knows about your taste
  /reset       forget everything and start over
  /help        this list
  /quit        leave (or Ctrl-D)

examples:
  recbot chat
  recbot chat --catalogue recipes -k 5
  recbot chat --backend openai --base-url http://127.0.0.1:8080/v1
  recbot chat --model smollm2-135m        # the tiny model: fast, but it writes poorly
"""

COMMANDS = {"/like": "like", "/dislike": "dislike", "/seen": "seen"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="chat in the terminal (streamed replies, /like /dislike /reset)",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--catalogue", "-c", help="catalogue name (default: settings.catalogue, 'movies')")
    p.add_argument("--backend", choices=["llamacpp", "transformers", "openai"], help="LLM backend")
    p.add_argument("--model", help="model: qwen2.5-coder-0.5b (default), qwen2.5-coder-1.5b, smollm2-135m, a GGUF path or an HF path")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint for --backend openai")
    p.add_argument("--prompt-set", help="template set (default, customer_service, …)")
    p.add_argument("-k", type=int, help="recommendations per turn (default 3)")
    p.set_defaults(func=cmd_chat)


def _print_recs(recs) -> None:  # noqa: ANN001
    for n, r in enumerate(recs, 1):
        genres = ", ".join(r.genres[:3])
        print(f"  [{n}] {r.label}" + (f" — {genres}" if genres else ""))
        print(f"      why: {r.why}")


def cmd_chat(args: argparse.Namespace) -> int:
    settings = get_settings()
    llm = settings.llm.model_copy(update={k: v for k, v in (("backend", args.backend), ("model", args.model),
                                                              ("base_url", args.base_url)) if v})
    settings = settings.model_copy(update={"llm": llm})
    name = args.catalogue or settings.catalogue
    from bot.faces.commands.catalogue import ensure_indexed

    try:
        ensure_indexed(settings, name)
        print(f"Loading the {settings.llm.model} model…", file=sys.stderr)
        # the conversation lives in this process only (``state``): no session store
        service = services.chat_service(settings, name, prompt_set=args.prompt_set, k=args.k,
                                        keep_sessions=False)
    except Exception as exc:  # an actionable message beats a traceback here
        print(f"error: {exc}", file=sys.stderr)
        return 1
    state = SessionState()
    last = []
    print(f"recbot ({name}). Tell me what you like; /help for commands, /quit to leave.")
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            return 0
        if not line:
            continue
        cmd, _, arg = line.partition(" ")
        if cmd in ("/quit", "/exit"):
            return 0
        if cmd == "/help":
            print(HELP.split("commands while chatting:")[1].split("examples:")[0].rstrip())
            continue
        if cmd == "/reset":
            state, last = SessionState(), []
            print("Forgotten. What are you in the mood for?")
            continue
        if cmd == "/state":
            print(json.dumps(state.model_dump(mode="json"), indent=2))
            continue
        if cmd in COMMANDS:
            if not arg.strip().isdigit() or not 1 <= int(arg) <= len(last):
                print(f"usage: {cmd} N, with N between 1 and {len(last)} (the last list)" if last
                      else "no recommendations yet to give feedback on")
                continue
            rec = last[int(arg) - 1]
            service.apply_feedback(state, COMMANDS[cmd], rec.id)
            print(f"Noted: {COMMANDS[cmd]} {rec.label}. Ask for more whenever you like.")
            continue
        if cmd.startswith("/"):
            print(f"unknown command {cmd}; /help lists them")
            continue

        cancel = threading.Event()
        print("bot> ", end="", flush=True)
        try:
            for event in service.stream_unsaved(state, line, cancel):
                if event.kind == "text":
                    print(event.text, end="", flush=True)
                elif event.kind == "done" and event.result is not None:
                    print()
                    if event.result.recommendations:
                        last = event.result.recommendations
                        _print_recs(last)
                    if event.result.degraded:
                        print(f"(note: {event.result.degraded})")
        except KeyboardInterrupt:
            cancel.set()
            print("\n(stopped)")
