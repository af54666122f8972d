"""The local model server survives its own crashes: real llama.cpp child processes, real signals.

Each test runs its own server (a context size no other test uses, so the process-wide shared one is
not touched) and kills it mid-answer as a native crash would: SIGSEGV, SIGKILL, or SIGSTOP for a hang.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.llm.base import ChatMessage, GenerationConfig, LLMError
from bot.llm.llamacpp import LlamaCppLLM
from bot.llm.supervisor import ServerConfig, ServerProcess, describe_exit
from tests.bot.llm.conftest import LONG_PROMPT

pytestmark = pytest.mark.slow

STORY = [ChatMessage("user", LONG_PROMPT)]
LONG = GenerationConfig(max_tokens=400, temperature=0.0)
SHORT = GenerationConfig(max_tokens=8, temperature=0.0)
RESTART_WAIT_S = 120


def wait_ready(llm: LlamaCppLLM, old_pid: int) -> None:
    deadline = time.monotonic() + RESTART_WAIT_S
    while time.monotonic() < deadline:
        h = llm.health()
        if h.state == "ready" and h.pid not in (None, old_pid):
            return
        time.sleep(0.1)
    pytest.fail(f"the server did not come back: {llm.health()}")


@pytest.fixture
def own_llm(tiny_gguf: Path, tmp_path: Path) -> Iterator[LlamaCppLLM]:
    llm = LlamaCppLLM(str(tiny_gguf), n_ctx=1536 + os.getpid() % 64, cache_prompt=False, timeout_s=3.0,
                      cache_dir=tmp_path)
    yield llm
    llm.server.close()


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL])
def test_a_crash_mid_answer_costs_that_answer_only(own_llm: LlamaCppLLM, sig: signal.Signals):
    pid = own_llm.server.pid
    assert pid is not None and own_llm.health().state == "ready"
    stream = own_llm.stream(STORY, LONG)
    assert next(stream)  # generating
    os.kill(pid, sig)
    with pytest.raises(LLMError, match="stopped mid-answer"):
        for _ in stream:
            pass
    wait_ready(own_llm, pid)
    health = own_llm.health()
    assert health.restarts == 1
    assert health.last_exit.startswith(describe_exit(-sig))
    assert own_llm.complete(STORY, SHORT)  # the next turn is answered by the new process
    assert (Path(own_llm.server.log_path)).read_text().count("--- starting") == 2


def test_a_hung_server_is_killed_and_replaced(own_llm: LlamaCppLLM):
    pid = own_llm.server.pid
    stream = own_llm.stream(STORY, LONG)
    assert next(stream)
    os.kill(pid, signal.SIGSTOP)  # alive but silent: a hang inside llama.cpp looks like this
    try:
        with pytest.raises(LLMError, match="timed out"):
            for _ in stream:
                pass
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    wait_ready(own_llm, pid)
    assert "no answer for 3 s" in own_llm.health().last_exit
    assert own_llm.complete(STORY, SHORT)


def test_a_model_that_cannot_load_fails_with_its_log(tmp_path: Path):
    bad = tmp_path / "truncated.gguf"
    bad.write_bytes(b"GGUF" + b"\1" * 200)
    with pytest.raises(LLMError, match="(?s)did not start.*its log .*llama-server-truncated.log ends with"):
        ServerProcess(ServerConfig(bad), log_dir=tmp_path)


def test_the_child_exits_when_its_parent_dies(tiny_gguf: Path, tmp_path: Path):
    """A worker whose app was SIGKILLed must not stay behind holding the model and a port."""
    import subprocess
    import sys

    code = (
        "import sys, time; from pathlib import Path; from bot.llm.supervisor import ServerConfig, ServerProcess;"
        f"s = ServerProcess(ServerConfig(Path({str(tiny_gguf)!r}), n_ctx=1024), log_dir=Path({str(tmp_path)!r}));"
        "print(s.pid, flush=True); time.sleep(600)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the llama.cpp server outlived its parent")
