"""Settings from the environment or a ``.env`` file. Secrets live only here."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.clock import parse_duration


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite:///roundtable.db"
    roundtable_program: Path | None = Field(
        default=None, description="program TOML; the bundled one if unset"
    )
    log_level: str = "INFO"

    # insights: at most N per window and person
    insight_rate_limit: int = Field(default=3, ge=1)
    insight_rate_window: timedelta = timedelta(minutes=10)

    # the reminder dispatcher: messages claimed and sent at once
    dispatch_concurrency: int = Field(default=8, ge=1, le=100)
    dispatch_retries: int = Field(default=3, ge=0, le=10)
    shutdown_grace: float = Field(default=6.0, gt=0, le=25)

    discord_token: SecretStr | None = None
    discord_guild_id: int | None = None
    discord_api_base: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_mode: Literal["socket", "http"] = "socket"
    slack_api_url: str = "https://slack.com/api/"
    slack_admin_ids: Annotated[list[str], NoDecode] = []
    port: int = Field(default=3000, ge=1, le=65535)

    @field_validator("insight_rate_window", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip().isdigit():
            return parse_duration(value)
        if isinstance(value, str):
            return timedelta(seconds=int(value))
        return value

    @field_validator("slack_admin_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator(
        "discord_token", "slack_bot_token", "slack_app_token", "slack_signing_secret", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("discord_guild_id", "roundtable_program", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def discord_enabled(self) -> bool:
        return self.discord_token is not None

    @property
    def slack_enabled(self) -> bool:
        if self.slack_bot_token is None:
            return False
        if self.slack_mode == "http":
            return self.slack_signing_secret is not None
        return self.slack_app_token is not None
