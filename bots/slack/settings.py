"""The Slack adapter's settings: ``SLACK_*`` (and ``PORT`` for HTTP mode) in the environment or ``.env``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.settings import ENV_FILE, blank_is_none


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SLACK_", env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    mode: Literal["socket", "http"] = "socket"
    api_url: str = "https://slack.com/api/"
    admin_ids: Annotated[list[str], NoDecode] = []
    # HTTP mode listens here; hosts such as Heroku set PORT
    port: int = Field(default=3000, ge=0, le=65535, validation_alias=AliasChoices("PORT", "port"))

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("bot_token", "app_token", "signing_secret", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return blank_is_none(value)

    @property
    def wanted(self) -> bool:
        """Some Slack credential is set: the operator means to run Slack."""
        return any((self.bot_token, self.app_token, self.signing_secret))

    @property
    def enabled(self) -> bool:
        if self.bot_token is None:
            return False
        if self.mode == "http":
            return self.signing_secret is not None
        return self.app_token is not None

    def warnings(self) -> list[str]:
        return []

    def problems(self) -> list[str]:
        """What stops Slack from starting although the operator asked for it (``run`` exits 2)."""
        if not self.wanted and self.mode != "http":
            return []
        missing = []
        if not self.bot_token:
            missing.append("SLACK_BOT_TOKEN")
        if self.mode == "http" and not self.signing_secret:
            missing.append("SLACK_SIGNING_SECRET")
        if self.mode == "socket" and not self.app_token:
            missing.append("SLACK_APP_TOKEN")
        if not missing:
            return []
        how = "HTTP mode (SLACK_MODE=http or --slack-http)" if self.mode == "http" else "Socket Mode"
        unset = "which is not set" if len(missing) == 1 else "which are not set"
        return [f"Slack {how} needs {' and '.join(missing)}, {unset}"]
