"""Settings of the service and the store, read once from the environment by ``load_settings``.

Every setting is an environment variable prefixed ``LEADPILOT_`` (e.g. ``LEADPILOT_DATABASE_URL``).
Nothing is read at import time: ``load_settings()`` builds a ``Settings`` and the service's
``create_app(settings)`` takes it as an argument.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadpilot.errors import ConfigError

__all__ = ["DEFAULT_DATABASE_URL", "DEFAULT_WEBHOOK_SECRET", "Settings", "load_settings"]

DEFAULT_DATABASE_URL = "sqlite:///leadpilot.db"
# Signs webhook bodies (HMAC-SHA256 in ``X-Leadpilot-Signature``). The default is public, so it
# is refused outside development.
DEFAULT_WEBHOOK_SECRET = "development-only-webhook-secret"


class Settings(BaseSettings):
    """Runtime settings; each field is the environment variable ``LEADPILOT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LEADPILOT_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///path.db (default, in the working folder) or "
        "postgresql+psycopg://user:password@host:5432/db",
    )
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    model_dir: Path | None = Field(None, description="conversion model directory to score with")
    model_store: Path = Field(
        Path("leadpilot-models"),
        description="folder that holds every registered model version's files (`leadpilot "
        "retrain` writes there; every replica must see the same folder)",
    )
    force_model: bool = Field(
        False,
        description="route with the model even when it lost to a baseline on its own "
        "out-of-time test (otherwise the router falls back to the policy's rules)",
    )
    max_request_bytes: int = Field(1_000_000, ge=1_024)
    worker_enabled: bool = True
    session_secret: str | None = Field(
        None,
        description="signs the console's session cookies; set the same value on every "
        "replica (unset: a random key per process, so sessions end on restart)",
    )
    session_hours: float = Field(8.0, gt=0, le=24 * 30, description="console session length")
    worker_poll_seconds: float = Field(2.0, gt=0)
    webhook_timeout_seconds: float = Field(5.0, gt=0)
    webhook_max_attempts: int = Field(6, ge=1)
    webhook_backoff_seconds: float = Field(2.0, gt=0)
    pool_size: int = Field(5, ge=1)
    background_pricing: bool = Field(
        True,
        description="solve shadow-price refreshes in a separate process while requests use "
        "the latest prices (off: solve on the request path, deterministic)",
    )

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> Settings:
        if self.environment != "development" and self.webhook_secret == DEFAULT_WEBHOOK_SECRET:
            raise ValueError(
                "LEADPILOT_WEBHOOK_SECRET still has its public default; outside development "
                "set it to a long random value"
            )
        return self


def load_settings(**overrides: object) -> Settings:
    """Build ``Settings`` from the environment, with ``overrides`` (e.g. from CLI options)
    taking precedence. Raises ``ConfigError`` naming the bad variable."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(
            f"invalid setting {name}: {first['msg']}",
            hint=f"fix the environment variable LEADPILOT_{name.upper()} or the matching option",
            details={"setting": name},
        ) from None
