"""Chat models side by side: load time, time to first token, decoding speed, and a JSON answer.

    recbot bench llm                                          # every packaged model that is installed
    recbot bench llm --models qwen2.5-coder-0.5b,qwen2.5-coder-1.5b --runs 5
    recbot bench llm --threads 2                              # on a machine with nothing else running

Each model runs in its own supervised llama.cpp server process (the ``llamacpp`` backend the chat
uses). "load" is from starting the process to the model answering; "first token" is the median over
``--runs`` of a fresh prompt (no prompt cache) up to the first streamed piece; "tokens/s" is the
decoding rate after it (streamed pieces per second: llama.cpp streams one token per piece); "JSON"
is a grammar-constrained answer to the understanding schema, end to end. Figures are printed, with
the machine they ran on; nothing is asserted. ``recbot bench chat --model NAME`` measures whole turns.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from bot.llm.base import ChatMessage, GenerationConfig, LLMError
from bot.llm.llamacpp import LlamaCppLLM, default_threads
from bot.llm.models import PACKAGED_MODELS
from bot.settings import get_settings

PROMPT = [
    ChatMessage("system", "You are a friendly film recommender. Answer in two or three sentences."),
    ChatMessage("user", "I loved Alien and The Thing. Why might I enjoy The Fly (1986)?"),
]
SCHEMA = {
    "type": "object",
    "properties": {"genres": {"type": "array", "items": {"type": "string"}},
                   "liked_titles": {"type": "array", "items": {"type": "string"}}},
    "required": ["genres", "liked_titles"],
}
JSON_PROMPT = [ChatMessage("user", "Extract genres and liked film titles as JSON from: "
                                   "'I loved Heat and want a tense crime thriller from the 90s'")]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", help="comma-separated model names or GGUF paths (default: every packaged "
                                    "model that is installed)")
    p.add_argument("--runs", type=int, default=3, help="generations per model (default 3)")
    p.add_argument("--tokens", type=int, default=96, help="tokens to generate per run (default 96)")
    p.add_argument("--threads", type=int, default=None, help=f"llama.cpp threads (default {default_threads()})")


def measure(name: str, runs: int, tokens: int, threads: int | None, cache_dir) -> dict:
    t0 = time.perf_counter()
    llm = LlamaCppLLM(name, cache_dir=cache_dir, n_threads=threads, cache_prompt=False)
    llm.complete([ChatMessage("user", "hi")], GenerationConfig(max_tokens=1, temperature=0.0))
    load_s = time.perf_counter() - t0
    firsts, rates = [], []
    for i in range(runs):
        config = GenerationConfig(max_tokens=tokens, temperature=0.7, seed=i)
        start = time.perf_counter()
        first, n = None, 0
        for _ in llm.stream(PROMPT, config):
            n += 1
            if first is None:
                first = time.perf_counter()
        end = time.perf_counter()
        if first is not None:
            firsts.append(first - start)
            if n > 1:
                rates.append((n - 1) / (end - first))
    start = time.perf_counter()
    answer = llm.complete(JSON_PROMPT, GenerationConfig(max_tokens=80, temperature=0.0, json_schema=SCHEMA))
    json_s = time.perf_counter() - start
    llm.server.close()
    return {"model": name, "size_mb": llm.path.stat().st_size / 1e6, "load_s": load_s,
            "first_token_s": statistics.median(firsts) if firsts else None,
            "tokens_per_s": statistics.median(rates) if rates else None, "json_s": json_s, "json": answer}


def run(args: argparse.Namespace) -> list[dict]:
    settings = get_settings()
    names = args.models.split(",") if args.models else list(PACKAGED_MODELS)
    threads = args.threads or default_threads()
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores; "
          f"{threads} llama.cpp thread(s); {args.runs} runs x {args.tokens} tokens")
    rows = []
    for name in names:
        try:
            row = measure(name, args.runs, args.tokens, threads, settings.cache_dir)
        except LLMError as exc:
            print(f"{name}: skipped: {exc}")
            continue
        rows.append(row)
        print(f"{name}: JSON answer {row['json'][:120]!r}")
    print("\n| model | size MB | load s | first token s | tokens/s | JSON answer s |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['size_mb']:.0f} | {r['load_s']:.2f} | {r['first_token_s']:.2f} | "
              f"{r['tokens_per_s']:.1f} | {r['json_s']:.2f} |")
    return rows
