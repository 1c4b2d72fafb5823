"""The Discord adapter's settings: ``DISCORD_*`` in the environment or ``.env``."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import ENV_FILE, blank_is_none

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY = "wss://gateway.discord.gg/"


class DiscordSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DISCORD_", env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore"
    )

    token: SecretStr | None = None
    # the event's server: commands appear there at once; its Manage Server members organize
    guild_id: int | None = None
    api_base: str = DEFAULT_API_BASE
    gateway_url: str = DEFAULT_GATEWAY
    # delivery requests per second, at most (Discord's global limit is 50)
    global_rate: float = Field(default=50.0, gt=0, le=50.0)

    @field_validator("token", "guild_id", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return blank_is_none(value)

    @property
    def enabled(self) -> bool:
        return self.token is not None

    def warnings(self) -> list[str]:
        return []

    def problems(self) -> list[str]:
        """What stops Discord from starting although the operator asked for it (``run`` exits 2)."""
        if self.guild_id is not None and self.token is None:
            return ["DISCORD_GUILD_ID is set but DISCORD_TOKEN is not: set the bot token, or unset the guild"]
        return []
