"""`recbot bench ...`: benchmarks that print figures (speed targets are measured here, not in tests)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks that print throughput and latency figures")
    kinds = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
    from eval import bench_retrieval

    r = kinds.add_parser("retrieval", help="ingest items/s and query latency p50/p95 at 17k and 200k items",
                         description=bench_retrieval.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_retrieval.add_arguments(r)
    r.set_defaults(func=lambda args: (bench_retrieval.run(args), 0)[1])
    from eval import bench_chat

    c = kinds.add_parser("chat", help="time to first text and full reply, elicitation vs recommendation turns",
                         description=bench_chat.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_chat.add_arguments(c)
    c.set_defaults(func=lambda args: (bench_chat.run(args), 0)[1])
    from eval import bench_llm

    m = kinds.add_parser("llm", help="chat models side by side: load, first token, tokens/s, JSON answers",
                         description=bench_llm.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_llm.add_arguments(m)
    m.set_defaults(func=lambda args: (bench_llm.run(args), 0)[1])
