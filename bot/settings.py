"""The one settings object: defaults, overridden by a TOML file, overridden by ``RECBOT_*`` variables.

Nested sections use ``__`` in variable names: ``RECBOT_LLM__BACKEND=openai``,
``RECBOT_STORE__MODE=http``. The file is ``recbot.toml`` in the working directory, or the path in
``RECBOT_CONFIG``. Library code takes explicit arguments; only the application layer (CLI, app, API)
reads this object and passes the values down.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "recbot"


class StoreSettings(BaseModel):
    """Where vectors live: an embedded persistent Chroma, or a ``chroma run`` server."""

    mode: Literal["embedded", "http"] = "embedded"
    host: str = "127.0.0.1"
    port: int = 8000


class SessionsSettings(BaseModel):
    """Where sessions, messages and feedback live: a SQLite file under the data dir (default; one host),
    or a PostgreSQL database that every replica shares (``dsn``, e.g. ``postgresql://recbot@db:5432/recbot``;
    the schema is migrated on start)."""

    backend: Literal["sqlite", "postgres"] = "sqlite"
    dsn: str = ""
    pool_min: int = 1
    pool_max: int = 8  # connections per process
    timeout_s: float = 10.0  # connecting, and waiting for a free pooled connection


class EmbeddingSettings(BaseModel):
    """The packaged MiniLM, run by torch or by an int8 ONNX export of it (faster on CPU)."""

    backend: Literal["torch", "onnx"] = "onnx"
    batch_size: int = 64


class RetrievalSettings(BaseModel):
    candidates: int = 100  # dense and lexical depth before fusion
    mmr_lambda: float = 0.8  # 1.0 = pure relevance
    rrf_k: int = 60
    # "auto": use the learned reranker trained for this catalogue (`recbot train-reranker`) when one
    # matches its content; "off": never
    rerank: Literal["auto", "off"] = "auto"


class LLMSettings(BaseModel):
    backend: Literal["llamacpp", "transformers", "openai"] = "llamacpp"
    # a packaged model name (qwen2.5-coder-0.5b, qwen2.5-coder-1.5b, smollm2-135m), a GGUF path, or an
    # HF model path / id
    model: str = "qwen2.5-coder-0.5b"
    base_url: str = "http://127.0.0.1:8080/v1"  # openai backend
    api_key: str = "not-needed"
    max_tokens: int = 256
    temperature: float = 0.3
    n_threads: int | None = None
    parallel: int = 1  # llamacpp: server slots decoded together (batched serving); 1 = take turns
    timeout_s: float = 60.0  # the longest wait for the next streamed piece before the LLM counts as hung


class ApiSettings(BaseModel):
    """The HTTP API. Keys are stored as ``sha256:<hex>`` digests (``recbot serve --hash-key`` makes one);
    with none configured the API is open (bind it to loopback)."""

    keys: list[str] = []
    rate_per_minute: float = 60.0
    burst: int = 20
    max_body_bytes: int = 65536
    max_text_chars: int = 2000


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RECBOT_",
        env_nested_delimiter="__",
        toml_file=os.environ.get("RECBOT_CONFIG", "recbot.toml"),
        extra="ignore",
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    catalogue: str = "movies"  # a bundled name or a path to a mapping file
    store: StoreSettings = StoreSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    sessions: SessionsSettings = SessionsSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    llm: LLMSettings = LLMSettings()
    api: ApiSettings = ApiSettings()
    prompt_set: str = "default"
    recommendations: int = 3
    log_level: str = "WARNING"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def cache_dir(self) -> Path:
        """Derived artifacts (assembled GGUF, ONNX exports, trained rerankers)."""
        return self.data_dir / "cache"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
