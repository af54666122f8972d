"""The page mounted in a FastAPI app (how ``recbot serve`` can show it beside the HTTP API)."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.settings import Settings
from bot.faces.ui import mount


def test_mounted_page_and_its_config_are_served(tmp_path):
    # nothing is loaded to build the page: the index and the LLM are opened by the first turn
    settings = Settings(data_dir=tmp_path, llm={"backend": "llamacpp", "model": "smollm2-135m"})
    app = FastAPI()
    assert mount(app, settings, path="/ui") is app
    with TestClient(app) as client:
        page = client.get("/ui/")
        config = client.get("/ui/config").json()
    assert page.status_code == 200
    # scripts and stylesheets come from the app itself, never from a CDN
    sources = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', page.text)
    assert sources and all(not s.startswith(("http:", "https:", "//")) for s in sources), sources
    assert config["title"] == "recbot" and config["analytics_enabled"] is False
    ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert {"chat", "msg", "send", "stop", "retry", "reset", "card-0", "card-0-like", "lab-editor"} <= ids
