"""A llama.cpp OpenAI-compatible server for one GGUF model, run as its own process.

``python -m bot.llm.llama_server --model FILE.gguf [--port 0] [--threads N] [--ctx N] [--parallel N]``

The server is xllamacpp's build of llama.cpp's ``llama-server`` (a prebuilt wheel: nothing compiles
on install). That build targets x86-64 with AVX2/FMA/F16C and has no AMX kernels, so it cannot hit
the AMX tile fault that natively compiled llama.cpp meets on virtualised Xeons (general protection
fault in ``ggml_backend_amx_mul_mat``). Extra buffer types (weight repacking for AVX2) stay on by
default; ``--no-extra-bufts`` turns them off.

Once the model is loaded the process prints one line ``READY http://127.0.0.1:PORT`` on standard
output and serves ``/v1/chat/completions``, ``/health`` and the rest of llama-server's API with
``--parallel`` slots (continuous batching across them). It exits when its parent process goes away,
on SIGTERM or SIGINT. :mod:`bot.llm.supervisor` starts, watches and restarts it; the ``llamacpp``
backend talks to it over loopback, so a native crash or hang in inference never takes the app down.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

READY_PREFIX = "READY "
_PARENT_POLL_S = 1.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot.llm.llama_server",
        description="Serve one GGUF model over an OpenAI-compatible HTTP API on loopback (llama.cpp).",
        epilog="Example: python -m bot.llm.llama_server --model qwen.gguf --port 8080 --parallel 4",
    )
    p.add_argument("--model", required=True, help="path to a .gguf file")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for decoding and prompt evaluation")
    p.add_argument("--ctx", type=int, default=4096, help="context window shared by all slots, in tokens")
    p.add_argument("--parallel", type=int, default=1, help="slots: requests decoded together (batched)")
    p.add_argument("--alias", default=None, help="the model name clients may send (default: file name)")
    p.add_argument("--no-extra-bufts", action="store_true", help="disable repacked weight buffers")
    p.add_argument("--watch-parent", nargs="?", type=int, const=0, default=None, metavar="PID",
                   help="exit when the parent process (or process PID, as the supervisor passes it) exits")
    return p


def serve(args: argparse.Namespace) -> None:
    # taken before the model loads, so a parent killed meanwhile is still noticed
    parent = args.watch_parent or os.getppid()
    import xllamacpp  # imported here: `--help` works without it

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx * max(1, args.parallel)  # llama-server splits n_ctx across its slots
    params.n_parallel = max(1, args.parallel)
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.no_extra_bufts = bool(args.no_extra_bufts)
    params.warmup = False
    if args.alias:
        params.model_alias = args.alias
    server = xllamacpp.Server(params)  # loads the model and starts listening; raises on failure
    print(f"{READY_PREFIX}{server.listening_address}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(_PARENT_POLL_S):
        if args.watch_parent is not None and not _alive(parent):  # whoever started us is gone
            break
    del server


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return os.getppid() == pid or _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc: trust kill(pid, 0)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not os.path.isfile(args.model):
        print(f"error: no model file at {args.model}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        serve(args)
    except Exception as exc:  # noqa: BLE001 -- reported to the supervisor through stderr and the exit code
        print(f"error: llama.cpp could not serve {args.model}: {exc}", file=sys.stderr)
        return 1
    print(f"stopped after {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
