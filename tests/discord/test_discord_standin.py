"""The stand-in is faithful enough for the real discord.py client."""

from __future__ import annotations

import asyncio

import discord
import pytest

from tests.discord.discord_standin import DiscordStandin


async def test_bare_client_logs_in_and_gets_ready(standin: DiscordStandin) -> None:
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    ready = asyncio.Event()
    client.event(_setter("on_ready", ready))
    task = asyncio.create_task(client.start(standin.token))
    try:
        await asyncio.wait_for(ready.wait(), 5)
        assert client.user is not None and str(client.user.id) == standin.app_id
        assert [str(g.id) for g in client.guilds] == [standin.guild_id]
        assert standin.find("GET", "/users/@me") and standin.find("GET", "/oauth2/applications/@me")
        assert standin.identifies[0]["token"] == standin.token
        await standin.wait_for(lambda: standin.heartbeats >= 1)
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)


async def test_bad_token_is_a_login_failure(standin: DiscordStandin) -> None:
    client = discord.Client(intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await client.login("wrong")
    await client.close()


async def test_commands_sync_and_429_retried(standin: DiscordStandin) -> None:
    bot = discord.Client(intents=discord.Intents.default())
    await bot.login(standin.token)
    try:
        path = rf"/applications/{standin.app_id}/guilds/{standin.guild_id}/commands"
        standin.rate_limit_next("PUT", path, retry_after=0.1)
        body = [{"name": "ping", "description": "Ping", "type": 1}]
        answer = await bot.http.bulk_upsert_guild_commands(bot.application_id, standin.guild_id, body)
        assert [r.status for r in standin.find("PUT", path)] == [429, 200]
        assert answer[0]["name"] == "ping" and standin.commands[standin.guild_id][0]["id"]
    finally:
        await bot.close()


def _setter(name: str, event: asyncio.Event):
    async def handler() -> None:
        event.set()

    handler.__name__ = name
    return handler
