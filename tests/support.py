"""Test helpers shared by the core and adapter tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bots.console.settings import ConsoleSettings
from bots.discord.settings import DiscordSettings
from bots.slack.settings import SlackSettings
from shared.identity import Identity, Reach, Recipient
from shared.messages import InsightPost, Message
from shared.port import DeliveryError, Receipt
from shared.program import Program, load_program
from tests.slack.slack_standin import SIGNING_SECRET

# the bundled program's workshop starts at 2026-12-10 16:50 UTC; tests start well before
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def with_capacity(
    capacity: int | None, program: Program | None = None, *, theme: str | None = None, **channels: str
) -> Program:
    """A variant of ``program`` (the bundled one by default): the one builder the tests use.

    ``capacity`` seats in every capped session (``None`` keeps the program's), and ``channels``
    (adapter name -> channel id, as under ``[themes.channels]``) on every theme, or on ``theme`` only.
    """
    program = program or load_program()
    sessions = [
        s.model_copy(update={"capacity": capacity}) if s.capped and capacity is not None else s
        for s in program.sessions
    ]
    themes = [
        t.model_copy(update={"channels": {**t.channels, **channels}}) if theme in (None, t.id) else t
        for t in program.themes
    ]
    return program.model_copy(update={"sessions": sessions, "themes": themes})


def discord_settings(standin, **overrides: object) -> DiscordSettings:
    """The Discord adapter's settings, pointed at a Discord stand-in; ``overrides`` win."""
    values: dict[str, object] = {
        "token": standin.token,
        "guild_id": int(standin.guild_id),
        "api_base": standin.api_base,
        "gateway_url": standin.gateway_url,
        **overrides,
    }
    return DiscordSettings(_env_file=None, **values)


def slack_settings(standin, **overrides: object) -> SlackSettings:
    """The Slack adapter's settings (Socket Mode), pointed at a Slack stand-in; ``overrides`` win."""
    values: dict[str, object] = {
        "bot_token": standin.bot_token,
        "app_token": standin.app_token,
        "signing_secret": SIGNING_SECRET,
        "api_url": standin.api_url,
        **overrides,
    }
    return SlackSettings(_env_file=None, **values)


def console_settings(name: str, *, organizer: bool = False) -> ConsoleSettings:
    return ConsoleSettings(name=name, organizer=organizer)


def person(name: str, platform: str = "console", workspace: str = "local") -> Identity:
    return Identity(platform, workspace, name, name.title())


@dataclass
class RecordingPort:
    """A delivery port that records what it was asked to send, and can be told to fail."""

    platform: str = "console"
    workspace: str | None = None
    user_id: str | None = None
    direct: list[tuple[Recipient, Message]] = field(default_factory=list)
    posts: list[tuple[str, InsightPost]] = field(default_factory=list)
    fail: dict[str, DeliveryError] = field(default_factory=dict)  # user_id -> error
    delay: float = 0.0
    started: int = 0

    def reach(self) -> list[Reach]:
        return [Reach(self.platform, self.workspace, self.user_id)]

    keys: set[str] = field(default_factory=set)  # like a platform's nonce: a key sent twice is one message
    refs: dict[str, tuple[str, InsightPost]] = field(default_factory=dict)  # ref -> a post kept

    async def send_direct(self, recipient: Recipient, message: Message, *, key: str | None = None) -> Receipt:
        self.started += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        error = self.fail.get(recipient.user_id)
        if error is not None:
            raise error
        if key is None or key not in self.keys:
            self.direct.append((recipient, message))
        if key is not None:
            self.keys.add(key)
        return Receipt(dm_channel=f"D-{recipient.user_id}")

    async def post_insight(self, channel: str, post: InsightPost, *, key: str | None = None) -> Receipt:
        error = self.fail.get(channel)
        if error is not None:
            raise error
        if key is None or key not in self.keys:
            self.posts.append((channel, post))
            self.refs[f"p{len(self.posts)}"] = (channel, post)
        if key is not None:
            self.keys.add(key)
        return Receipt(ref=next(r for r, p in self.refs.items() if p == (channel, post)))

    async def delete_post(self, channel: str, ref: str) -> None:
        error = self.fail.get(f"delete:{channel}")
        if error is not None:
            raise error
        posted = self.refs.pop(ref, None)
        if posted is not None and posted in self.posts:
            self.posts.remove(posted)

    def texts_for(self, user_id: str) -> list[str]:
        return [m.text for r, m in self.direct if r.user_id == user_id]


async def until(condition, limit: float = 5.0, what: str = "condition") -> None:
    """Wait for real I/O (the database, a socket) to make ``condition()`` true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def outbox_rows(core, **where):
    from sqlalchemy import select

    from shared.store.schema import outbox

    query = select(outbox).order_by(outbox.c.due_at, outbox.c.id)
    for column, value in where.items():
        query = query.where(outbox.c[column] == value)
    async with core.db.transaction() as conn:
        return (await conn.execute(query)).fetchall()


@asynccontextmanager
async def opened_core(settings, program: Program, clock, *, grace: float = 2) -> AsyncIterator:
    """A core for a test: retries without waiting, closed at the end."""
    from shared.app import Roundtable

    core = await Roundtable.open(settings, program=program, clock=clock)
    core.dispatcher.retry_delays = (0.01,)
    try:
        yield core
    finally:
        await core.close(grace=grace)


async def reset_postgres(url: str) -> None:
    """An empty PostgreSQL database: the tests and the benchmarks start from nothing."""
    from sqlalchemy import text

    from shared.store.database import Database

    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await db.close()
