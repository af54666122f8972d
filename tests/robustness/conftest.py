"""Fixtures for the robustness tests: the API test helpers' small real index and the tiny real LLM.

The index is built once per test session by ``tests.bot.faces.api.support`` (a ``recbot ingest``
subprocess); this directory gets its own copy of it, its own SQLite session store and one TestClient
over the real app (no auth, no rate limit: the limits are tested in tests/bot/faces/api).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.faces.api.support import build_pristine, data_dir_copy, settings_for


@pytest.fixture(scope="session")
def robust_pristine(session_data_dir: Path) -> Path:
    return build_pristine(session_data_dir / "recbot-api")


@pytest.fixture(scope="session")
def robust_data_dir(robust_pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return data_dir_copy(robust_pristine, tmp_path_factory.mktemp("robustness") / "data")


@pytest.fixture(scope="session")
def robust_settings(robust_data_dir: Path):  # noqa: ANN201
    return settings_for(robust_data_dir)


@pytest.fixture(scope="session")
def robust_service(robust_settings):  # noqa: ANN001, ANN201
    """The real engine (retriever over 300 movies + SmolLM2-135M) with the SQLite session store."""
    from bot import services

    return services.chat_service(robust_settings, "movies")


@pytest.fixture(scope="session")
def client(robust_settings, robust_service) -> Iterator:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from bot.faces.api import ApiConfig, create_app

    app = create_app(robust_settings, robust_service, api_config=ApiConfig(rate_per_minute=0))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def sessions_db(robust_service) -> Path:  # noqa: ANN001
    """The SQLite file the service stores sessions in (queried directly by the privacy tests)."""
    return Path(robust_service.store.path)


# Hypothesis keeps no example database in the working tree: runs are reproducible from the seed it
# prints on failure, and nothing is written under the repository.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("recbot-robustness", database=None, print_blob=True)
_hypothesis_settings.load_profile("recbot-robustness")
