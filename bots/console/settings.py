"""The console adapter's settings: ``CONSOLE_*`` in the environment, or the command line."""

from __future__ import annotations

import getpass
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.zones import EXAMPLE, canonical


def login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "me"


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    # who you are in the chat
    name: str = Field(default_factory=login, min_length=1, max_length=80)
    organizer: bool = False
    # where files the bot hands over (/mydata, calendar entries) are written; the system's temp dir if unset
    files_dir: Path | None = None
    # the IANA zone to show times in (a /timezone choice wins); default: the event's
    tz: str | None = None

    @field_validator("tz")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        if not value:
            return None
        zone = canonical(value)
        if zone is None:
            raise ValueError(f"{value!r} is not an IANA time zone such as {EXAMPLE}")
        return zone

    @property
    def enabled(self) -> bool:
        # the console needs no credentials; the runner starts it when nothing else is enabled
        return True

    def warnings(self) -> list[str]:
        return []

    def problems(self) -> list[str]:
        return []
