"""The core's settings, from the environment or a ``.env`` file.

Each adapter owns its own settings class, with its own prefix, in its package under ``bots/``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.clock import parse_duration

ENV_FILE = ".env"


def blank_is_none(value: object) -> object:
    """An empty variable (``SOME_TOKEN=`` in a copied .env) means unset."""
    return None if isinstance(value, str) and not value.strip() else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite:///roundtable.db"
    roundtable_program: Path | None = Field(
        default=None, description="program TOML; the bundled one if unset"
    )
    log_level: str = "INFO"
    # the domain of calendar entries' UIDs (<event>-<session>-<date>@CALENDAR_DOMAIN): your own
    calendar_domain: str = Field(default="roundtable.invalid", min_length=1, max_length=200)

    # insights: at most N per window and person
    insight_rate_limit: int = Field(default=3, ge=1)
    insight_rate_window: timedelta = timedelta(minutes=10)

    # the reminder dispatcher: sends in flight per platform (each platform's lane)
    dispatch_concurrency: int = Field(default=16, ge=1, le=100)
    dispatch_retries: int = Field(default=3, ge=0, le=10)
    # commands acknowledged and waiting for the core: at most this many, worked this many at once
    inbound_queue: int = Field(default=2000, ge=1)
    inbound_workers: int = Field(default=8, ge=1, le=100)
    # PostgreSQL connections a long-running process keeps (a short command holds one)
    database_pool_size: int = Field(default=4, ge=1, le=50)
    shutdown_grace: float = Field(default=6.0, gt=0, le=25)
    # a platform connection that is lost is reconnected with backoff; not back within this
    # many seconds, `roundtable run` exits non-zero (3) so that its host restarts it
    reconnect_within: float = Field(default=120.0, gt=0)

    # personal data tied to a session is purged this many days after it ends; counts stay
    retention_days: int = Field(default=90, ge=1, le=3650)

    @field_validator("insight_rate_window", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().isdigit():
            return parse_duration(value)
        if isinstance(value, str):
            return timedelta(seconds=int(value))
        return value

    @field_validator("roundtable_program", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return blank_is_none(value)
