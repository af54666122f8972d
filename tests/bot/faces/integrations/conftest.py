"""Session fixtures for the LangChain integration: the same small real index and tiny LLM as the API tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.faces.api.support import build_pristine, data_dir_copy, settings_for


@pytest.fixture(scope="session")
def lc_pristine(session_data_dir: Path) -> Path:
    return build_pristine(session_data_dir / "recbot-api")  # shared with tests/bot/faces/api: built once


@pytest.fixture(scope="session")
def lc_settings(lc_pristine: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return settings_for(data_dir_copy(lc_pristine, tmp_path_factory.mktemp("langchain") / "data"))


@pytest.fixture(scope="session")
def lc_service(lc_settings):  # noqa: ANN001, ANN201
    from bot import services

    return services.chat_service(lc_settings, "movies")
