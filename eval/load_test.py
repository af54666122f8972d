"""Load test of a recbot HTTP server: N concurrent conversations of M messages each, on loopback.

    python -m eval.load_test --url http://127.0.0.1:8765 --concurrency 1,4,16 --messages 2
    python -m eval.load_test --start --model smollm2-135m --concurrency 1,4,16 --messages 2
    python -m eval.load_test --compare --model smollm2-135m --concurrency 1,4,16 --slots 8 --replicas 2

``--compare`` runs both serving setups in one run (:mod:`eval.load_compare`: in-process llama.cpp in one
replica, then a llama.cpp server with parallel slots behind two replicas, on a shared Chroma server and
PostgreSQL) and prints one table. ``--start`` runs ``recbot serve`` itself (API only, on a free loopback
port, rate limit off) with the current settings (``RECBOT_*``, recbot.toml) and stops it at the end;
``--url`` targets a server that is already running (repeat it for replicas that share one session store). Only loopback addresses are accepted: this is a bench for one machine, not a tool
to load someone else's service.

For each N, N threads each create a session and send M messages one after the other (a person waits
for the reply before writing again); the N conversations run at the same time. Reported per N:

- ``turns_per_s``: replies received / wall time of the round,
- ``p50_s`` / ``p95_s``: per-message latency (request sent to full JSON reply),
- ``errors``: requests that failed (HTTP status other than 200/201, or a transport error),
- ``degr``: replies the server marked ``degraded`` (the LLM failed or timed out: a plain reply instead),
- ``lost``: messages the server acknowledged but does not hold: for each session, the user messages
  sent with a 200 reply minus those ``GET /v1/sessions/{id}`` returns (in order, same text), plus the
  replies missing.

In-process, the LLM serves one generation at a time (the llama.cpp backend holds a lock), so extra
concurrency should queue — latency grows with N, throughput stays flat — and never fail. Behind a
llama.cpp server with parallel slots, concurrent generations are batched and throughput rises with N. The run stops by itself:
after M messages per session, or when ``--max-duration`` seconds have passed (no new message is sent
after that; the ones in flight finish).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from eval.load_rounds import format_table, loopback_urls, run
from eval.serve_process import recbot_serve


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", action="append",
                        help="a running recbot server on this machine (http://127.0.0.1:8765); repeat it for "
                             "replicas sharing one session store (conversations are spread over them)")
    target.add_argument("--start", action="store_true", help="run `recbot serve` for the run, then stop it")
    target.add_argument("--compare", action="store_true",
                        help="in-process vs a llama.cpp server with parallel slots over replicas, in one run "
                             "(starts Chroma, PostgreSQL, the LLM server and the replicas itself)")
    p.add_argument("--concurrency", default="1,4,16", help="comma-separated N values (default 1,4,16)")
    p.add_argument("--messages", "-m", type=int, default=2, help="messages per session (default 2)")
    p.add_argument("--max-duration", type=float, default=600.0, help="seconds for the whole run (600)")
    p.add_argument("--catalogue", help="with --start: the catalogue to serve (default: settings)")
    p.add_argument("--model", help="with --start: the LLM, e.g. smollm2-135m")
    p.add_argument("--server-log", type=Path, help="with --start: where the server's output goes")
    p.add_argument("--json", type=Path, help="also write the figures here as JSON")
    cmp_ = p.add_argument_group("--compare")
    cmp_.add_argument("--slots", type=int, default=8, help="parallel slots of the llama.cpp server (8)")
    cmp_.add_argument("--replicas", type=int, default=2, help="recbot serve replicas behind it (2)")
    cmp_.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                      help="CPU threads of the llama.cpp server (default: every core here, %(default)s: it is the "
                           "LLM service of the topology; the in-process model keeps half the cores for the app)")
    cmp_.add_argument("--limit", type=int, default=300, help="items of the catalogue to ingest (300; 0 = all)")
    cmp_.add_argument("--max-tokens", type=int, default=None, help="reply length cap (default: settings)")
    cmp_.add_argument("--dsn", help="PostgreSQL for the sessions (default: a throw-away local cluster)")
    cmp_.add_argument("--work-dir", type=Path, help="where data dirs and server logs go (default: a temp dir)")
    cmp_.add_argument("--require-speedup", type=float, default=None,
                      help="exit 1 unless the server setup at the largest N reaches this multiple of the "
                           "best in-process throughput (e.g. 2)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per request
    concurrencies = [int(x) for x in args.concurrency.split(",") if x.strip()]
    if not concurrencies or min(concurrencies) < 1 or args.messages < 1:
        p.error("--concurrency needs positive integers and --messages at least 1")

    if args.compare:
        return _compare(args, concurrencies)
    if args.start:
        server = recbot_serve(args.server_log or os.devnull, catalogues=[args.catalogue] if args.catalogue else [],
                              model=args.model)
        with server:
            results = run(server.url, concurrencies, args.messages, args.max_duration)
    else:
        try:
            loopback_urls(args.url)
        except ValueError as exc:
            p.error(str(exc))
        results = run(args.url, concurrencies, args.messages, args.max_duration)

    print(format_table(results))
    for r in results:
        for sample in r.error_samples:
            print(f"N={r.concurrency} error: {sample}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0 if all(r.errors == 0 and r.lost == 0 for r in results) else 1


def _compare(args: argparse.Namespace, concurrencies: list[int]) -> int:
    from bot.settings import get_settings
    from eval.load_compare import compare

    settings = get_settings()
    result = compare(model=args.model or settings.llm.model, catalogue=args.catalogue or settings.catalogue,
                     concurrencies=concurrencies, messages=args.messages, cache_dir=settings.cache_dir,
                     limit=args.limit or None, slots=args.slots, replicas=args.replicas, threads=args.threads,
                     max_tokens=args.max_tokens or settings.llm.max_tokens, max_duration_s=args.max_duration,
                     dsn=args.dsn, work_dir=args.work_dir)
    print(result.table())
    for r in [*result.in_process, *result.server]:
        for sample in r.error_samples:
            print(f"N={r.concurrency} error: {sample}")
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=2))
    ok = result.clean and (args.require_speedup is None or result.speedup >= args.require_speedup)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
