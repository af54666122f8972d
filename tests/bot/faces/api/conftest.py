"""Session fixtures for the API tests: a real movie index, the tiny real LLM, one ChatService."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.faces.api.support import build_pristine, data_dir_copy, settings_for


@pytest.fixture(scope="session")
def pristine_data(session_data_dir: Path) -> Path:
    return build_pristine(session_data_dir / "recbot-api")


@pytest.fixture(scope="session")
def api_data_dir(pristine_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir this test process uses (its own copy of the index; sessions.sqlite here)."""
    return data_dir_copy(pristine_data, tmp_path_factory.mktemp("api-inproc") / "data")


@pytest.fixture(scope="session")
def api_settings(api_data_dir: Path):  # noqa: ANN201
    return settings_for(api_data_dir)


@pytest.fixture(scope="session")
def chat_service(api_settings):  # noqa: ANN001, ANN201
    """The real engine (retriever over the index + SmolLM2-135M) with the SQLite session store."""
    from bot import services

    return services.chat_service(api_settings, "movies")
