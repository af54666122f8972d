"""`recbot serve`: the HTTP API (and, when mounted, the web UI) under uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys

HELP = """\
Serve recbot over HTTP for customer-service systems and other programs: sessions, messages (JSON or
server-sent events), feedback, /healthz and /readyz, and an OpenAI-compatible /v1/chat/completions
(model = catalogue name) that the openai SDK and LangChain's ChatOpenAI use unchanged. The OpenAPI
document with examples is at /docs. Bundled catalogues are indexed on first use.

API keys: configure sha256 digests, never keys in clear, in RECBOT_API__KEYS (comma-separated
'sha256:<hex>' entries) or `keys = [...]` under [api] in recbot.toml. `recbot serve --new-key` makes a key and its digest; `--hash-key` reads a key
on stdin and prints its digest. Clients send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.
With no key configured, auth is off: bind to 127.0.0.1 only (the default). Limits:
RECBOT_API__RATE_PER_MINUTE and RECBOT_API__BURST (per key, HTTP 429), RECBOT_API__MAX_BODY_BYTES (413),
RECBOT_API__MAX_TEXT_CHARS (422).

Several workers (--workers N > 1) are separate processes, so they need shared state:
  - the Chroma server mode for the index: run `chroma run --path <data_dir>/index/chroma` and set
    RECBOT_STORE__MODE=http (an embedded Chroma must not be opened by two processes);
  - a shared session store: the default SQLite file (WAL) is shared by workers on one host; across
    hosts use a PostgreSQL or Redis SessionStore, with sticky sessions at the load balancer;
  - each worker loads its own LLM (or point RECBOT_LLM__BACKEND=openai at one LLM server), and
    rate limits are counted per worker.
One worker is right for a laptop: the LLM is the bottleneck and one process serves many sessions.

examples:
  recbot serve                                  # http://127.0.0.1:8765/docs
  recbot serve --catalogue movies --catalogue recipes
  RECBOT_API__KEYS=sha256:9f86d0… recbot serve --host 0.0.0.0
  RECBOT_STORE__MODE=http recbot serve --workers 4 --host 0.0.0.0
  recbot serve --new-key
"""

DEFAULT_PORT = 8765  # 8000 is Chroma's server default and 8080 llama.cpp server's


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the HTTP API (sessions, SSE, OpenAI-compatible chat)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1; more need the Chroma server mode, see above)",
    )
    p.add_argument(
        "--catalogue",
        "-c",
        action="append",
        default=[],
        help="catalogue to serve, repeatable; the first is the default (default: settings.catalogue)",
    )
    p.add_argument("--model", help="LLM model (default: settings), e.g. smollm2-135m for a quick try")
    p.add_argument("--backend", choices=["llamacpp", "transformers", "openai"], help="LLM backend")
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (default info)",
    )
    p.add_argument("--no-ui", action="store_true",
                   help="serve the API only (by default the chat page is mounted at /ui on the same server)")
    p.add_argument("--new-key", action="store_true", help="print a new API key and its digest, then exit")
    p.add_argument("--hash-key", action="store_true", help="read an API key on stdin, print its digest, exit")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.faces.api.security import hash_key, new_key

    if args.new_key:
        key, digest = new_key()
        print(f"key (give it to the client, shown once): {key}")
        print(f"digest (put it in RECBOT_API__KEYS):      {digest}")
        return 0
    if args.hash_key:
        key = sys.stdin.readline().strip()
        try:
            print(hash_key(key))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2

    from bot.faces.api.app import CATALOGUES_ENV, UI_ENV
    from bot.faces.commands.catalogue import ensure_indexed
    from bot.settings import Settings

    # Workers are fresh processes that read their settings from the environment: pass overrides there.
    if args.model:
        os.environ["RECBOT_LLM__MODEL"] = args.model
    if args.backend:
        os.environ["RECBOT_LLM__BACKEND"] = args.backend
    try:
        settings = Settings()
    except ValueError as exc:  # e.g. an API key configured in clear
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = args.catalogue or [settings.catalogue]
    os.environ[CATALOGUES_ENV] = ",".join(names)
    os.environ[UI_ENV] = "0" if args.no_ui else "1"
    config = settings.api
    if args.workers > 1 and settings.store.mode == "embedded":
        print(
            "error: several workers cannot share an embedded Chroma index; run `chroma run --path "
            f"{settings.index_dir / 'chroma'}` and set RECBOT_STORE__MODE=http (see `recbot serve --help`)",
            file=sys.stderr,
        )
        return 2
    if not config.auth_enabled and args.host not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger(__name__).warning(
            "serving on %s with no API keys: anyone who can reach it can use it (set RECBOT_API__KEYS)",
            args.host,
        )
    try:
        for name in names:  # index once here, not in every worker
            ensure_indexed(settings, name)
    except Exception as exc:  # noqa: BLE001 -- an actionable message beats a traceback here
        print(f"error: {exc}", file=sys.stderr)
        return 1

    import uvicorn

    print(
        f"recbot API on http://{args.host}:{args.port} (docs: /docs), catalogues: {', '.join(names)}",
        file=sys.stderr,
    )
    uvicorn.run(
        "bot.faces.api.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        timeout_graceful_shutdown=10,
    )
    return 0
