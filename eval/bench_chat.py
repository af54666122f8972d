"""Chat latency benchmark: time to first text and full-reply time for elicitation and recommendation turns.

    recbot bench chat                       # default model (Qwen2.5-Coder-0.5B GGUF), bundled films
    recbot bench chat --model smollm2-135m --turns 10

Each scripted conversation has an elicitation turn (too little known: the bot asks) and a
recommendation turn (retrieval + rerank + a 3-item explained reply). The figures are p50 over the
turns, printed — never asserted. "First text" is the first grounded sentence the person sees (the
engine checks each sentence before showing it), measured from the moment the message arrives.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from bot import services
from bot.catalogues import ensure_indexed
from bot.settings import get_settings
from bot.state import SessionState

SCRIPTS = [
    ("I'd like a comedy", "I loved Ghostbusters"),
    ("something scary tonight", "The Shining is my favourite"),
    ("a good crime film", "like Heat (1995) please"),
    ("I want a romance", "When Harry Met Sally was great"),
    ("science fiction, please", "I really liked Blade Runner"),
]


def run(args: argparse.Namespace) -> dict:
    settings = get_settings()
    llm = settings.llm.model_copy(update={"model": args.model} if args.model else {})
    settings = settings.model_copy(update={"llm": llm})
    ensure_indexed(settings, args.catalogue)
    t0 = time.perf_counter()
    engine = services.engine(settings, args.catalogue, k=3)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; model {settings.llm.model} "
          f"({settings.llm.backend}); engine ready in {time.perf_counter() - t0:.1f} s")
    engine.run_turn(SessionState(), "I loved Ghostbusters")  # warm-up (model load, caches)
    figures: dict[str, list[tuple[float, float]]] = {"ask": [], "recommend": []}
    for i in range(args.turns):
        ask_msg, rec_msg = SCRIPTS[i % len(SCRIPTS)]
        state = SessionState()
        for msg in (ask_msg, rec_msg):
            r = engine.run_turn(state, msg)
            if r.action in figures:
                figures[r.action].append((r.timings["first_text_s"], r.timings["total_s"]))
            print(f"  [{r.action}] first text {r.timings['first_text_s']:.2f} s, full {r.timings['total_s']:.2f} s"
                  f" — {msg!r}")
    out = {}
    for action, rows in figures.items():
        if rows:
            out[action] = {"first_text_p50_s": statistics.median(x for x, _ in rows),
                           "full_p50_s": statistics.median(y for _, y in rows), "n": len(rows)}
            print(f"{action:>9} turns: p50 first text {out[action]['first_text_p50_s']:.2f} s, "
                  f"p50 full reply {out[action]['full_p50_s']:.2f} s (n={len(rows)})")
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--catalogue", default="movies")
    p.add_argument("--model", help="LLM model (default: settings, qwen2.5-coder-0.5b)")
    p.add_argument("--turns", type=int, default=10, help="scripted conversations (2 turns each; default 10)")
