"""Fixtures for the Discord adapter tests: a running stand-in with discord.py pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
import yarl

from bots.discord.adapter import DiscordAdapter
from shared.app import Roundtable
from shared.clock import FakeClock
from tests.conftest import make_settings
from tests.discord.discord_standin import DiscordStandin
from tests.discord.discord_support import THEME_CHANNEL, discord_program
from tests.support import discord_settings, opened_core


@pytest.fixture
async def standin(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordStandin]:
    server = DiscordStandin()
    await server.start()
    # discord.py reads both at request time; monkeypatch restores them after the test
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
    yield server
    await server.close()


@pytest.fixture
async def discord_core(
    standin: DiscordStandin, sqlite_url: str, clock: FakeClock
) -> AsyncIterator[Roundtable]:
    standin.add_channel("citizen-participation", THEME_CHANNEL)
    async with opened_core(make_settings(sqlite_url), discord_program(), clock) as core:
        yield core


@pytest.fixture
async def bot(standin: DiscordStandin, discord_core: Roundtable) -> AsyncIterator[DiscordAdapter]:
    """The adapter, logged in and connected to the stand-in."""
    adapter = DiscordAdapter(discord_core, discord_settings(standin), guild_ready_timeout=0.05)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.close()
