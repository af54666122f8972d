"""Fixtures for the web page: a tiny real index, the tiny real LLM, the app served in-process, Chromium.

Everything is real and built once per session: 400 bundled movies embedded with the packaged MiniLM
into Chroma under a temporary data dir, ``smollm2-135m`` through llama.cpp (answers capped at a few
tokens to keep turns short on a shared CPU), the app on a free loopback port, and Debian's Chromium
driven by Playwright (installed by ``install_browser.sh`` when missing).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
CATALOGUE = "movies"
CATALOGUE_SIZE = 400
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def ui_settings(session_data_dir: Path):
    from bot.settings import Settings

    data_dir = session_data_dir / "ui"
    (data_dir / "prompts").mkdir(parents=True, exist_ok=True)  # services.prompt_library needs it
    return Settings(data_dir=data_dir, catalogue=CATALOGUE, recommendations=3, prompt_set="default",
                    llm={"backend": "llamacpp", "model": "smollm2-135m", "max_tokens": 40})


@pytest.fixture(scope="session")
def ui_items(ui_settings):
    """The tiny catalogue, ingested into the session's index."""
    from bot import services
    from retrieval.catalogue import load_catalogue

    loaded = load_catalogue(CATALOGUE, limit=CATALOGUE_SIZE, progress=False)
    services.catalogue_index(ui_settings, CATALOGUE).ingest(loaded.items, services.embedder(ui_settings),
                                                            progress=False)
    return loaded.items


@pytest.fixture(scope="session")
def ui_service(ui_settings, ui_items):
    """The real chat service (engine + SQLite session store) over the tiny index and the tiny LLM."""
    from bot import services

    return services.chat_service(ui_settings, CATALOGUE)


@dataclass
class RunningApp:
    url: str
    demo: Any
    service: Any  # ChatService serving the default settings
    controller: Any  # bot.faces.ui.controller.AppController

    @property
    def store(self):
        """The session store itself, which the tests read to check what the page stored."""
        return self.service.store


@pytest.fixture(scope="session")
def running_app(ui_settings, ui_service) -> Iterator[RunningApp]:
    """``build_app`` launched in this process on a free loopback port."""
    from bot.faces.ui import build_app, launch_options

    demo = build_app(ui_settings, ui_service)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **launch_options())
    try:
        yield RunningApp(f"http://127.0.0.1:{port}/", demo, ui_service, demo.recbot)
    finally:
        demo.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright, both installed first when missing (install_browser.sh)."""
    proc = subprocess.run(["bash", str(HERE / "install_browser.sh"), sys.executable], capture_output=True,
                          text=True, timeout=1200)
    if proc.returncode != 0:
        pytest.skip(f"chromium could not be installed (install_browser.sh exit {proc.returncode}): "
                    f"{proc.stderr.strip()[-800:]}")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()
