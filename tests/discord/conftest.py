"""Fixtures for the Discord adapter tests: a running stand-in with discord.py pointed at it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
import yarl

# the stand-in module lives next to this file; tests import it by name
sys.path.insert(0, str(Path(__file__).parent))

from discord_standin import DiscordStandin

from bots.discord import DiscordAdapter
from shared.app import Roundtable
from shared.clock import FakeClock
from shared.program import Program, load_program
from shared.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
async def standin(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordStandin]:
    server = DiscordStandin()
    await server.start()
    # discord.py reads both at request time; monkeypatch restores them after the test
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
    yield server
    await server.close()


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


@pytest.fixture
async def discord_core(
    standin: DiscordStandin, sqlite_url: str, clock: FakeClock
) -> AsyncIterator[Roundtable]:
    standin.add_channel("citizen-participation", THEME_CHANNEL)
    core = await Roundtable.open(
        discord_settings(standin, sqlite_url), program=discord_program(), clock=clock
    )
    core.dispatcher.retry_delays = (0.01,)
    try:
        yield core
    finally:
        await core.close(grace=2)


@pytest.fixture
async def bot(discord_core: Roundtable) -> AsyncIterator[DiscordAdapter]:
    """The adapter, logged in and connected to the stand-in."""
    adapter = DiscordAdapter(discord_core, guild_ready_timeout=0.05)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.close()
