"""Service settings from the environment (prefix ``EMBED_``), or passed to ``create_app``.

* ``EMBED_MODELS`` - JSON object ``{"name": "/path/to/model-dir", ...}``: the only model
  directories the service reads; requests name a model, never a path.
* ``EMBED_CLASSIFIERS`` - JSON object ``{"name": "/path/to/classifier-dir", ...}``: text
  classifiers written by ``embed classify train``, answered at ``/v1/classifiers/{name}/predict``.
* ``EMBED_API_KEY`` - when set, every ``/v1`` request needs it as ``X-API-Key: KEY`` or
  ``Authorization: Bearer KEY``.
* ``EMBED_BODY_TIMEOUT`` (seconds, default 30): a request whose body has not fully arrived by then
  is answered 408 and its connection closed.
* ``EMBED_MAX_BODY_BYTES`` (default 1 MiB), ``EMBED_MAX_BATCH`` (queries or texts per request, 256),
  ``EMBED_THREADS`` (BLAS/OpenMP/FAISS threads per worker process, 1).
* ``EMBED_CORS_ORIGINS`` - JSON list of origins allowed to call the API from a browser
  (e.g. ``'["https://app.example"]'``; ``'["*"]'`` for any); empty (default): no CORS headers.
* ``EMBED_MALLOC_ARENAS`` (default 2; 0: glibc's default of 8 per core): glibc malloc arenas per worker,
  which bound how much freed memory the request threads keep (see ``service.app.limit_malloc_arenas``).
* ``EMBED_LOG_FORMAT`` - ``text`` (default) or ``json`` (one JSON object a line, with the request id);
  ``EMBED_ACCESS_LOG=1`` then adds one JSON access record per request (method, path, status, bytes,
  duration_ms, client). ``embed serve --log-format json --access-log`` sets both.
* ``EMBED_EXACT_MAX_WORDS`` (default 200,000): up to this vocabulary size a query that does not
  say ``exact`` is answered exactly (a scan); above it by the ANN index, where there is one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything ``create_app`` needs; immutable once built."""

    model_config = SettingsConfigDict(env_prefix="EMBED_", frozen=True)

    models: dict[str, Path] = Field(default_factory=dict)
    classifiers: dict[str, Path] = Field(default_factory=dict)
    api_key: SecretStr | None = None
    max_body_bytes: int = Field(1_048_576, ge=1024)
    body_timeout: float = Field(30.0, gt=0)
    max_batch: int = Field(256, ge=1)
    max_words: int = Field(1000, ge=1)
    threads: int = Field(1, ge=1)
    malloc_arenas: int = Field(2, ge=0)
    exact_max_words: int = Field(200_000, ge=0)
    warm: bool = True
    cors_origins: list[str] = Field(default_factory=list)
    log_format: Literal["text", "json"] = "text"
    access_log: bool = False

    @field_validator("models", "classifiers")
    @classmethod
    def _names(cls, models: dict[str, Path]) -> dict[str, Path]:
        for name in models:
            if not name or "/" in name or name.strip() != name:
                raise ValueError(f"name {name!r} must be non-empty, without '/' or surrounding spaces")
        return {name: Path(p).resolve() for name, p in models.items()}

    @field_validator("api_key")
    @classmethod
    def _empty_key_is_none(cls, key: SecretStr | None) -> SecretStr | None:
        return key if key is not None and key.get_secret_value() else None
