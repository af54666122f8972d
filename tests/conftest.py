"""Session-wide fixtures: offline mode, a private data dir, and the shared evaluation data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Every model comes from a PyPI package; nothing may reach a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RECBOT_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the clone (present in CI); tests needing it skip elsewhere."""
    path = SHARED / "data"
    if not (path / "redial" / "id2info.json").is_file():
        pytest.skip(f"evaluation data not found at {path} (only CI and developers have ../shared)")
    return path


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir shared by the whole session, for indexes that are costly to rebuild."""
    return tmp_path_factory.mktemp("recbot-data")
