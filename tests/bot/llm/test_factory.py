"""Choosing and configuring a backend from names, and from the application's settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.llm import ChatMessage, GenerationConfig, LLMError, create_llm
from bot.services import create_llm as create_llm_from_settings
from bot.settings import Settings
from tests.bot.llm.conftest import TINY


def test_unknown_backend_lists_the_choices():
    with pytest.raises(
        LLMError, match="unknown LLM backend 'vllm'; choose one of llamacpp, transformers, openai"
    ):
        create_llm("vllm", TINY)


def test_unknown_option_is_rejected_not_ignored():
    with pytest.raises(LLMError, match=r"does not take option\(s\) \['n_thread'\]"):
        create_llm("llamacpp", TINY, n_thread=2)


def test_openai_backend_from_settings_uses_url_key_and_timeout():
    settings = Settings(llm={"backend": "openai", "model": "served", "base_url": "http://127.0.0.1:1/v1/",
                             "timeout_s": 3})
    llm = create_llm_from_settings(settings)
    assert llm.name == "openai:served@http://127.0.0.1:1/v1/"
    assert llm.url == "http://127.0.0.1:1/v1/chat/completions"
    assert llm.timeout_s == 3
    llm.close()


def test_importing_the_package_imports_no_backend():
    code = "import sys, bot.llm; assert 'xllamacpp' not in sys.modules and 'torch' not in sys.modules"
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=repo, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.slow
def test_llamacpp_from_settings_runs_the_tiny_model(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, llm={"backend": "llamacpp", "model": TINY, "n_threads": 1})
    llm = create_llm_from_settings(settings)
    assert llm.name == f"llamacpp:{TINY}"
    answer = llm.complete([ChatMessage("user", "Say hello.")], GenerationConfig(max_tokens=8, temperature=0.0))
    assert answer.strip()


def test_missing_model_through_the_factory(tmp_path: Path):
    with pytest.raises(LLMError, match="no GGUF file at"):
        create_llm("llamacpp", str(tmp_path / "nothing.gguf"))
