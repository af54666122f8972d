"""The one settings object: defaults, overridden by a TOML file, overridden by ``RECBOT_*`` variables.

Nested sections use ``__`` in variable names: ``RECBOT_LLM__BACKEND=openai``,
``RECBOT_STORE__MODE=http``. The file is ``recbot.toml`` in the working directory, or the path in
``RECBOT_CONFIG``. Library code takes explicit arguments; only the application layer (CLI, app, API)
reads this object and passes the values down.
"""

from __future__ import annotations

import json
import logging
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_API_KEY_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


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
    """The HTTP API: who may call it and with how much (``bot.faces.api.security`` enforces it).

    ``keys`` are ``sha256:<hex>`` digests, never keys in clear (``recbot serve --new-key`` /
    ``--hash-key`` make one); with none configured the API is open (bind it to loopback). In the
    environment: ``RECBOT_API__KEYS=sha256:…,sha256:…`` (comma-separated or a JSON list),
    ``RECBOT_API__RATE_PER_MINUTE``, ``RECBOT_API__BURST``, ``RECBOT_API__MAX_BODY_BYTES``,
    ``RECBOT_API__MAX_TEXT_CHARS``; in ``recbot.toml``, an ``[api]`` table.
    """

    keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="accepted API keys as 'sha256:<hex>' digests; empty = no auth"
    )
    rate_per_minute: float = Field(60.0, ge=0, description="average requests a minute per key; 0 = unlimited")
    burst: int = Field(20, ge=1, description="requests a key may make at once before the rate applies")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="largest request body (HTTP 413 above)")
    max_text_chars: int = Field(2000, ge=1, description="longest user message (HTTP 422 above)")

    @field_validator("keys", mode="before")
    @classmethod
    def _split_keys(cls, keys: Any) -> Any:
        """An environment variable holds a comma-separated list (or a JSON list)."""
        if not isinstance(keys, str):
            return keys
        if keys.strip().startswith("["):
            return json.loads(keys)
        return [part.strip() for part in keys.split(",") if part.strip()]

    @field_validator("keys")
    @classmethod
    def _hashed_only(cls, keys: list[str]) -> list[str]:
        out = []
        for n, entry in enumerate(keys):
            entry = entry.strip().lower()
            if not _API_KEY_DIGEST.match(entry):
                raise ValueError(
                    f"API key entry {n + 1} is not a 'sha256:<64 hex digits>' digest; keys are configured "
                    "hashed, never in clear (make one with `recbot serve --new-key` or `--hash-key`)"
                )
            out.append(entry)
        return out

    @property
    def auth_enabled(self) -> bool:
        return bool(self.keys)


class _DeprecatedApiEnv(PydanticBaseSettingsSource):
    """The old one-underscore spellings ``RECBOT_API_<FIELD>`` of the ``api`` section, read with a
    warning below ``RECBOT_API__<FIELD>``. Remove once no script sets them (eval/load_test.py does)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found = {}
        for name in ApiSettings.model_fields:
            old, new = f"RECBOT_API_{name.upper()}", f"RECBOT_API__{name.upper()}"
            if old in os.environ:
                logging.getLogger(__name__).warning("%s is deprecated: set %s instead", old, new)
                found[name] = os.environ[old]
        return {"api": found} if found else {}


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
    # how recommendations are explained: "reasons" (checked reasons in the person's language, no LLM:
    # instant and true by construction), "per_item" or "list" (the LLM words them, claim-checked)
    explain: Literal["reasons", "per_item", "list"] = "reasons"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        legacy = _DeprecatedApiEnv(settings_cls)
        return (init_settings, env_settings, legacy, TomlConfigSettingsSource(settings_cls))

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
