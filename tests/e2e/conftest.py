"""Fixtures for the end-to-end tests: both stand-ins, one core, both real adapters at once."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

from tests.support import opened_core

# the Discord stand-in is imported by name, as in tests/discord
sys.path.insert(0, str(Path(__file__).parent.parent / "discord"))

from discord_standin import DiscordStandin

from bots.discord import DiscordAdapter
from bots.slack.adapter import SlackAdapter
from shared.clock import FakeClock
from shared.program import parse_program
from tests.conftest import make_settings
from tests.e2e.e2e_support import DISCORD_THEME, PROGRAM, SLACK_ADMIN, SLACK_THEME, World
from tests.slack.slack_standin import APP_TOKEN, BOT_TOKEN, SlackStandIn


@pytest.fixture
async def discord_standin(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DiscordStandin]:
    server = DiscordStandin()
    await server.start()
    server.add_channel("citizen-participation", DISCORD_THEME)
    # the adapter points discord.py's class attributes at the stand-in; restore them afterwards
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    )
    yield server
    await server.close()


@pytest.fixture
async def slack_standin() -> AsyncIterator[SlackStandIn]:
    server = await SlackStandIn().start()
    server.channels.add(SLACK_THEME)
    for user_id, name in (("UALICE01", "alice"), ("UDANA001", "dana")):
        server.add_user(user_id, name)
    server.add_user(SLACK_ADMIN, "organizer")
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def world(
    discord_standin: DiscordStandin, slack_standin: SlackStandIn, sqlite_url: str, clock: FakeClock
) -> AsyncIterator[World]:
    """Like ``roundtable run``: one core, Discord and Slack (Socket Mode) started side by side."""
    settings = make_settings(
        sqlite_url,
        discord_token=discord_standin.token,
        discord_guild_id=int(discord_standin.guild_id),
        discord_api_base=discord_standin.api_base,
        discord_gateway_url=discord_standin.gateway_url,
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,
        slack_api_url=slack_standin.api_url,
        slack_admin_ids=SLACK_ADMIN,
    )
    async with opened_core(settings, parse_program(PROGRAM, "e2e program"), clock, grace=1) as core:
        discord_bot = DiscordAdapter(core, guild_ready_timeout=0.05)
        slack_bot = SlackAdapter(core)
        try:
            await discord_bot.start()
            await slack_bot.connect()
            assert {p for p in core.dispatcher.ports} == {"discord", "slack"}
            await core.start()  # the one dispatcher, serving both platforms
            yield World(core, clock, slack_standin, discord_standin, slack_bot, discord_bot)
        finally:
            await core.dispatcher.stop(2)
            await slack_bot.close()
            await discord_bot.close()
