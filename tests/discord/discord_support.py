"""Helpers shared by the Discord adapter tests (a module with a unique name, unlike conftest)."""

from __future__ import annotations

from discord_standin import DiscordStandin

from shared.program import Program, load_program
from shared.settings import Settings
from tests.conftest import make_settings

THEME_CHANNEL = "1200000000000000001"  # the Discord channel of the citizen-participation theme
WORKSHOP_SEATS = 2


def discord_program() -> Program:
    """The bundled program with a Discord channel for one theme and a small workshop."""
    program = load_program()
    themes = [
        t.model_copy(update={"discord_channel": THEME_CHANNEL}) if t.id == "citizen-participation" else t
        for t in program.themes
    ]
    sessions = [
        s.model_copy(update={"capacity": WORKSHOP_SEATS}) if s.id == "workshop" else s
        for s in program.sessions
    ]
    return program.model_copy(update={"themes": themes, "sessions": sessions})


def discord_settings(standin: DiscordStandin, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "discord_token": standin.token,
        "discord_guild_id": int(standin.guild_id),
        "discord_api_base": standin.api_base,
        "discord_gateway_url": standin.gateway_url,
        **overrides,
    }
    return make_settings(database_url, **values)
