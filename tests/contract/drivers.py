"""One driver per adapter: the same few verbs (say, deliver, dms, posts) on every platform,
so that one suite of scenarios runs on all of them. Slack and Discord run the real SDKs
against the stand-ins; the console runs its real chat loop; memo is the test-only adapter."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import discord
import pytest
from rich.console import Console

from bots import registry
from bots.console.adapter import ConsoleAdapter
from bots.console.settings import ConsoleSettings
from bots.discord.settings import DiscordSettings
from bots.slack.settings import SlackSettings
from shared.app import Roundtable
from shared.commands import parse_line
from tests.contract import memo_adapter
from tests.discord.discord_standin import DiscordStandin, StandinUser
from tests.slack.slack_standin import APP_TOKEN, BOT_TOKEN, SlackStandIn

PEOPLE = ("ann", "ben", "orga")
ORGANIZER = "orga"
EPHEMERAL = 64


@dataclass
class Said:
    text: str
    private: bool | None  # None: the platform has no notion of it (a terminal)


@dataclass
class Driver:
    """Base: subclasses talk to one platform."""

    core: Roundtable
    platform: str
    label: str
    theme_channel: str | None  # where citizen-participation insights go on this platform

    async def say(self, who: str, line: str) -> Said:
        raise NotImplementedError

    async def deliver(self) -> None:
        await self.core.dispatch_due()

    async def dms(self, who: str) -> list[str]:
        raise NotImplementedError

    async def posts(self) -> list[str]:
        return []

    async def held(self) -> list[str]:
        """What the theme channel holds now: posts taken down are gone from it."""
        return []


# -- console ----------------------------------------------------------------------------------
@dataclass
class ConsoleDriver(Driver):
    seen: dict[str, str] = field(default_factory=dict)

    async def say(self, who: str, line: str) -> Said:
        out = await self._chat(who, line + "\n")
        # what the command printed, before any DM that arrived with it
        return Said(out.split("📬")[0], None)

    async def _chat(self, who: str, lines: str) -> str:
        buffer = io.StringIO()
        settings = ConsoleSettings(name=who, organizer=who == ORGANIZER)
        adapter = ConsoleAdapter(
            self.core, settings, stdin=io.StringIO(lines), console=Console(file=buffer, width=300)
        )
        await adapter.run()
        self.seen[who] = self.seen.get(who, "") + buffer.getvalue()
        return buffer.getvalue()

    async def deliver(self) -> None:
        # the console delivers to the person at the terminal only, when they are there
        return None

    async def dms(self, who: str) -> list[str]:
        await self._chat(who, "")
        return [part for part in self.seen.get(who, "").split("📬")[1:]]


# -- Slack ------------------------------------------------------------------------------------
SLACK_IDS = {"ann": "UANN0001", "ben": "UBEN0001", "orga": "UORGA001"}
SLACK_THEME = "C0THEME001"


def _slack_words(value: Any) -> str:
    """Every text string in a Slack payload (blocks, fallback text), flattened."""
    if isinstance(value, dict):
        return " ".join(
            _slack_words(v) for k, v in value.items() if k in ("text", "blocks", "elements", "fields")
        )
    if isinstance(value, list):
        return " ".join(_slack_words(v) for v in value)
    return value if isinstance(value, str) else ""


@dataclass
class SlackDriver(Driver):
    standin: SlackStandIn | None = None

    async def say(self, who: str, line: str) -> Said:
        assert self.standin is not None
        command, _, text = line.partition(" ")
        key = uuid.uuid4().hex[:8]
        await self.standin.send_envelope(
            "slash_commands", self.standin.slash(command, text, user=SLACK_IDS[who], key=key)
        )
        [answer] = await self.standin.wait_for("response_url", match=lambda r: r.path.endswith("/" + key))
        return Said(_slack_words(answer.args), answer.args.get("response_type", "ephemeral") == "ephemeral")

    async def dms(self, who: str) -> list[str]:
        assert self.standin is not None
        return [_slack_words(r.args) for r in self.standin.dms_to(SLACK_IDS[who])]

    async def posts(self) -> list[str]:
        assert self.standin is not None
        return [_slack_words(r.args) for r in self.standin.calls("chat.postMessage", channel=SLACK_THEME)]

    async def held(self) -> list[str]:
        assert self.standin is not None
        return [str(m.get("text") or "") for m in self.standin.posts_in(SLACK_THEME)]


# -- Discord ----------------------------------------------------------------------------------
DISCORD_THEME = "1200000000000000001"


def _discord_words(body: dict[str, Any]) -> str:
    parts = [body.get("content") or ""]
    for embed in body.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        for item in embed.get("fields") or []:
            parts += [item["name"], item["value"]]
    return "\n".join(parts)


@dataclass
class DiscordDriver(Driver):
    standin: DiscordStandin | None = None
    users: dict[str, StandinUser] = field(default_factory=dict)

    async def say(self, who: str, line: str) -> Said:
        assert self.standin is not None
        name, args = parse_line(line)
        interaction = await self.standin.slash(self.users[who], name, **args)
        body = await self.standin.wait_answer(interaction)
        return Said(_discord_words(body), bool((body.get("flags") or 0) & EPHEMERAL))

    async def dms(self, who: str) -> list[str]:
        assert self.standin is not None
        return [_discord_words(b) for b in self.standin.dm_bodies(self.users[who])]

    async def posts(self) -> list[str]:
        assert self.standin is not None
        return [_discord_words(b) for b in self.standin.channel_bodies(DISCORD_THEME)]

    async def held(self) -> list[str]:
        assert self.standin is not None
        return [_discord_words(m) for m in self.standin.messages_in(DISCORD_THEME)]


# -- memo, the test-only fourth adapter ---------------------------------------------------------
@dataclass
class MemoDriver(Driver):
    adapter: memo_adapter.MemoAdapter | None = None

    async def say(self, who: str, line: str) -> Said:
        assert self.adapter is not None
        said = await self.adapter.type(who, line)
        return Said(said.text, said.private)

    async def dms(self, who: str) -> list[str]:
        assert self.adapter is not None
        return list(self.adapter.dms.get(who, []))

    async def posts(self) -> list[str]:
        assert self.adapter is not None
        return list(self.adapter.rooms[memo_adapter.ROOM])

    async def held(self) -> list[str]:
        return await self.posts()


THEME_CHANNELS = {"slack": SLACK_THEME, "discord": DISCORD_THEME, "memo": memo_adapter.ROOM}


@asynccontextmanager
async def driving(platform: str, core: Roundtable, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Driver]:
    """A running adapter of ``platform`` on ``core``, and its driver."""
    channel = THEME_CHANNELS.get(platform)
    if platform == "console":
        yield ConsoleDriver(core, "console", "Console", None)
        return
    if platform == "memo":
        registry.register(memo_adapter.ADAPTER)
        try:
            plugin = registry.plugin("memo")
            adapter = plugin.build(core, plugin.settings(MEMO_ENABLED=True, organizers=[ORGANIZER]))
            await adapter.start()
            try:
                yield MemoDriver(core, "memo", "Memo", channel, adapter=adapter)
            finally:
                await adapter.close(0.1)
        finally:
            registry.unregister("memo")
        return
    if platform == "slack":
        standin = await SlackStandIn().start()
        standin.channels.add(SLACK_THEME)
        for who, user_id in SLACK_IDS.items():
            standin.add_user(user_id, who)
        settings = SlackSettings(
            _env_file=None,
            bot_token=BOT_TOKEN,
            app_token=APP_TOKEN,
            api_url=standin.api_url,
            admin_ids=[SLACK_IDS[ORGANIZER]],
        )
        adapter = registry.plugin("slack").build(core, settings)
        try:
            await adapter.start()
            yield SlackDriver(core, "slack", "Slack", channel, standin=standin)
        finally:
            await adapter.close(0.1)
            await standin.close()
        return
    if platform == "discord":
        standin = DiscordStandin()
        await standin.start()
        standin.add_channel("citizen-participation", DISCORD_THEME)
        users = {who: standin.add_user(who, organizer=who == ORGANIZER) for who in PEOPLE}
        # the adapter points discord.py's class attributes at the stand-in; restore them afterwards
        monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket,
            "DEFAULT_GATEWAY",
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY,
        )
        settings = DiscordSettings(
            _env_file=None,
            token=standin.token,
            guild_id=int(standin.guild_id),
            api_base=standin.api_base,
            gateway_url=standin.gateway_url,
        )
        from bots.discord.adapter import DiscordAdapter

        adapter = DiscordAdapter(core, settings, guild_ready_timeout=0.05)
        try:
            await adapter.start()
            yield DiscordDriver(core, "discord", "Discord", channel, standin=standin, users=users)
        finally:
            await adapter.close(0.1)
            await standin.close()
        return
    raise ValueError(platform)
