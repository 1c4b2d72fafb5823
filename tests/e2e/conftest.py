"""Fixtures for the end-to-end tests: both stand-ins, one core, both real adapters at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest

from bots.discord.adapter import DiscordAdapter
from bots.slack.adapter import SlackAdapter
from shared.clock import FakeClock
from tests.conftest import make_settings
from tests.discord.discord_standin import DiscordStandin
from tests.e2e.e2e_support import DISCORD_THEME, SLACK_ADMIN, SLACK_THEME, World, e2e_program
from tests.slack.slack_standin import SlackStandIn
from tests.support import discord_settings, opened_core, slack_settings


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
    async with opened_core(make_settings(sqlite_url), e2e_program(), clock, grace=1) as core:
        discord_bot = DiscordAdapter(core, discord_settings(discord_standin), guild_ready_timeout=0.05)
        slack_bot = SlackAdapter(
            core, slack_settings(slack_standin, signing_secret=None, admin_ids=SLACK_ADMIN)
        )
        try:
            await discord_bot.start()
            await slack_bot.start()
            assert {p for p in core.dispatcher.ports} == {"discord", "slack"}
            await core.start()  # the one dispatcher, serving both platforms
            yield World(core, clock, slack_standin, discord_standin, slack_bot, discord_bot)
        finally:
            await core.stop(2)
            await slack_bot.close()
            await discord_bot.close()
