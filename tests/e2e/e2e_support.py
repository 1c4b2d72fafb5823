"""Helpers for the end-to-end tests (a module with a unique name, unlike conftest)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bots.discord.adapter import DiscordAdapter
from bots.slack.adapter import SlackAdapter
from shared.app import Roundtable
from shared.clock import FakeClock
from shared.program import Program, parse_program
from tests.discord.discord_standin import DiscordStandin, StandinUser
from tests.slack.slack_standin import SlackStandIn
from tests.support import with_capacity

SLACK_THEME = "C0THEME001"  # the citizen-participation theme's channel on Slack
DISCORD_THEME = "1200000000000000001"  # ... and on Discord
SLACK_ADMIN = "UADMIN01"

PROGRAM_TOML = """
[event]
name = "Resilient cities, end to end"
timezone = "UTC"

[reminders]
before = ["1d", "1h"]

[[sessions]]
id = "workshop"
title = "Workshop: one seat"
start = 2026-12-10T17:00:00
minutes = 40
access = "registration"
capacity = 1
join_url = "https://meet.example.org/workshop"

[[sessions]]
id = "clinic"
title = "Clinic: two seats"
start = 2026-12-10T18:00:00
minutes = 30
access = "registration"
capacity = 2
join_url = "https://meet.example.org/clinic"

[[themes]]
id = "citizen-participation"
name = "Citizen participation"

[[themes]]
id = "decision-making"
name = "Decision making"
"""


def e2e_program() -> Program:
    """Two small workshops; the citizen-participation theme has a channel on each platform."""
    return with_capacity(
        None,
        parse_program(PROGRAM_TOML, "e2e program"),
        theme="citizen-participation",
        slack=SLACK_THEME,
        discord=DISCORD_THEME,
    )


def words(node: Any) -> str:
    """Every string in a message body (content, embeds, blocks), joined: what a reader sees."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        return "\n".join(words(v) for v in node.values())
    if isinstance(node, list):
        return "\n".join(words(v) for v in node)
    return ""


@dataclass
class World:
    """One core with both real adapters, each connected to its stand-in."""

    core: Roundtable
    clock: FakeClock
    slack: SlackStandIn
    discord: DiscordStandin
    slack_bot: SlackAdapter
    discord_bot: DiscordAdapter

    async def on_slack(self, user: str, line: str) -> dict[str, Any]:
        """Type a slash command in Slack (over Socket Mode); return the reply's body."""
        command, _, text = line.partition(" ")
        key = uuid.uuid4().hex[:12]
        await self.slack.send_envelope("slash_commands", self.slack.slash(command, text, user=user, key=key))
        [reply] = await self.slack.wait_for("response_url", match=lambda r: r.path.endswith(f"/{key}"))
        return reply.args

    async def on_discord(self, user: StandinUser, command: str, **options: str) -> str:
        """Run a slash command in Discord; return what the reply shows."""
        return words(await self.discord.wait_answer(await self.discord.slash(user, command, **options)))

    async def until(self, condition, within: float = 5.0, what: str = "condition") -> Any:
        """Poll ``condition()`` (stand-in records, database state) until it is truthy."""
        deadline = time.monotonic() + within
        while not (value := condition()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)
        return value

    async def settle(self, seconds: float = 0.3) -> None:
        """Let the dispatcher finish whatever it might still send, before asserting it sent nothing."""
        await asyncio.sleep(seconds)
