"""SIGTERM to a real ``roundtable run`` process while it is sending: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from itertools import zip_longest
from pathlib import Path

import pytest
from sqlalchemy import select

from shared.app import Roundtable
from shared.clock import FakeClock, utcnow
from shared.identity import Identity
from shared.program import load_program
from shared.store.database import Database
from shared.store.schema import outbox
from tests.conftest import make_settings
from tests.discord.discord_standin import DiscordStandin
from tests.slack.slack_standin import APP_TOKEN, BOT_TOKEN, SlackStandIn

PEOPLE = 30
STOP_WITHIN = 10.0

pytestmark = pytest.mark.slow  # real `roundtable run` processes, stopped by signals


def program_toml(start: str) -> str:
    """One open session a month ahead whose only reminder ("30d before") is already due."""
    return f"""
[event]
name = "Shutdown drill"
timezone = "UTC"

[reminders]
before = ["30d"]

[[sessions]]
id = "talk"
title = "Talk: graceful exits"
start = {start}
minutes = 60
access = "open"
join_url = "https://meet.example.org/talk"

[[themes]]
id = "lessons"
name = "Lessons"
"""


def inherited_env() -> dict[str, str]:
    """This process's environment without any Roundtable setting (each test sets its own)."""
    ours = (
        "SLACK_",
        "DISCORD_",
        "CONSOLE_",
        "DATABASE_URL",
        "ROUNDTABLE_",
        "SHUTDOWN_",
        "DISPATCH_",
        "LOG_LEVEL",
    )
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(ours)}


class Run:
    """One ``roundtable run`` subprocess, logging to a file."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd, self.log = env, cwd, log
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bots", "run", env=self.env, cwd=self.cwd, stdout=out, stderr=out
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def terminate(self) -> tuple[int, float]:
        """SIGTERM; return the exit code and how long the process took to exit."""
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), STOP_WITHIN)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"no exit within {STOP_WITHIN}s of SIGTERM\n{self.output()}") from None
        return code, time.monotonic() - began

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@pytest.fixture
async def standin() -> AsyncIterator[DiscordStandin]:
    server = DiscordStandin()
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    server = await SlackStandIn().start()
    try:
        yield server
    finally:
        await server.close()


class People:
    """Who follows the session, on which platform, and what each stand-in saw reach them."""

    def __init__(self, discord: DiscordStandin, slack: SlackStandIn, on_slack: int) -> None:
        self.discord, self.slack = discord, slack
        self.discord_members = [discord.add_user(f"member{i:02d}") for i in range(PEOPLE - on_slack)]
        self.slack_ids = [slack.add_user(f"U0MEMBER{i:02d}", f"member{i:02d}").id for i in range(on_slack)]

    def identities(self) -> list[Identity]:
        """Both platforms interleaved, so that the sends in flight at SIGTERM are on both."""
        on_discord = [
            Identity("discord", self.discord.guild_id, m.id, m.name.title()) for m in self.discord_members
        ]
        on_slack = [Identity("slack", self.slack.team_id, u, u.lower()) for u in self.slack_ids]
        return [who for pair in zip_longest(on_discord, on_slack) for who in pair if who is not None]

    def seen(self) -> Counter[str]:
        """How many DMs reached each person (answered, or still being answered)."""
        counts = Counter({m.id: len(self.discord.dm_arrivals(m)) for m in self.discord_members})
        counts.update({u: len(self.slack.delivered(u)) for u in self.slack_ids})
        return +counts  # without the zeros


@pytest.fixture(params=[0, PEOPLE // 2], ids=["discord-only", "both-platforms"])
async def setup(request, standin: DiscordStandin, slack: SlackStandIn, tmp_path: Path):
    """A database where PEOPLE people follow a session and their reminders are due."""
    now = utcnow()
    start = (now + timedelta(days=30) - timedelta(minutes=5)).replace(second=0, microsecond=0)
    program_file = tmp_path / "program.toml"
    program_file.write_text(program_toml(start.strftime("%Y-%m-%dT%H:%M:%S")))
    url = f"sqlite:///{tmp_path / 'roundtable.db'}"
    people = People(standin, slack, on_slack=request.param)
    # registered an hour ago, when "30 days before" was still ahead
    core = await Roundtable.open(
        make_settings(url), program=load_program(program_file), clock=FakeClock(now - timedelta(hours=1))
    )
    try:
        for who in people.identities():
            assert "You are following Talk" in (await core.register(who, "talk")).text
    finally:
        await core.close(grace=1)

    env = inherited_env()
    env.update(
        DISCORD_TOKEN=standin.token,
        DISCORD_API_BASE=standin.api_base,
        DISCORD_GATEWAY_URL=standin.gateway_url,
        DATABASE_URL=url,
        ROUNDTABLE_PROGRAM=str(program_file),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        # fewer sends in flight per platform than people on it: some are never started
        DISPATCH_CONCURRENCY="8",
    )
    if request.param:
        env.update(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=slack.api_url)
    return people, url, env


async def reminders(url: str) -> list:
    db = Database(url)
    try:
        async with db.transaction() as conn:
            return (await conn.execute(select(outbox).where(outbox.c.kind == "reminder"))).fetchall()
    finally:
        await db.close()


def check_rows(rows: list, seen: Counter[str], output: str) -> Counter[str]:
    """Every row is settled and agrees with what the stand-ins saw; returns the count per state
    (``unsure``: cut off mid-send, back in the queue, checked with the platform before a resend)."""
    states = Counter(
        "unsure"
        if r.state == "pending" and r.unsure
        else r.state
        if r.state != "failed"
        else f"failed:{r.reason}"
        for r in rows
    )
    assert len(rows) == PEOPLE and set(states) <= {"sent", "pending", "unsure"}, (states, output)
    assert max(seen.values(), default=0) <= 1, f"someone was DMed twice: {seen}"
    for row in rows:
        if row.state == "sent":
            assert seen[row.recipient] == 1, (row, output)
        elif row.state == "pending" and not row.unsure:  # released: never handed to the platform
            assert seen[row.recipient] == 0 and row.claimed_by is None and row.attempts == 0, row
        elif row.state == "pending":
            assert row.claimed_by is None, row
    return states


async def until(condition, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("dm_delay", "grace", "expect_interrupted"),
    [
        pytest.param(0.3, None, False, id="sends-finish-within-the-grace"),
        pytest.param(3.0, "0.5", True, id="sends-outlast-the-grace"),
    ],
)
async def test_sigterm_while_sending_loses_nothing_and_sends_nothing_twice(
    standin: DiscordStandin,
    slack: SlackStandIn,
    setup,
    tmp_path: Path,
    dm_delay: float,
    grace: str | None,
    expect_interrupted: bool,
) -> None:
    people, url, env = setup
    if grace is not None:
        env = {**env, "SHUTDOWN_GRACE": grace}
    standin.dm_delay = slack.dm_delay = dm_delay
    first = Run(env, tmp_path, tmp_path / "run1.log")
    await first.start()
    try:
        await until(lambda: sum(people.seen().values()) >= 5)
        code, took = await first.terminate()
    finally:
        await first.kill()
    output = first.output()
    assert code == 0, output
    assert took < STOP_WITHIN
    assert "Stopped." in output

    seen = people.seen()
    states = check_rows(await reminders(url), seen, output)
    assert states["pending"] > 0, states  # the unstarted ones were handed back
    assert states["sending"] == 0
    if expect_interrupted:
        # cut off mid-send: the platform may have it; checked with it before any resend
        assert states["unsure"] > 0 and states["sent"] == 0, states
    else:
        assert states["sent"] >= 5 and states["unsure"] == 0, states

    # the next start sends the rest, once each
    standin.dm_delay = slack.dm_delay = 0.05
    second = Run(env, tmp_path, tmp_path / "run2.log")
    await second.start()
    try:
        await until(lambda: len(people.seen()) == PEOPLE)
        await asyncio.sleep(0.3)  # let the last outcomes reach the database
        code, _ = await second.terminate()
    finally:
        await second.kill()
    assert code == 0, second.output()

    seen = people.seen()
    assert all(n == 1 for n in seen.values()) and len(seen) == PEOPLE, seen
    final = check_rows(await reminders(url), seen, second.output())
    assert final["sent"] == PEOPLE, final


async def test_sigterm_while_starting_stops_within_the_limit(
    standin: DiscordStandin, slack: SlackStandIn, tmp_path: Path
) -> None:
    """Slack is up, Discord never gets ready: SIGTERM must not wait for Discord's 30 s start-up timeout."""
    standin.send_ready = False
    env = inherited_env()
    env.update(
        DISCORD_TOKEN=standin.token,
        DISCORD_API_BASE=standin.api_base,
        DISCORD_GATEWAY_URL=standin.gateway_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=slack.api_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'roundtable.db'}",
        PYTHONUNBUFFERED="1",
    )
    run = Run(env, tmp_path, tmp_path / "run.log")
    await run.start()
    try:
        await standin.wait_for(lambda: standin.identifies, within=15)
        await slack.wait_socket(within=15)
        code, took = await run.terminate()
    finally:
        await run.kill()
    output = run.output()
    assert code == 0, output
    assert took < STOP_WITHIN
    assert "Stopped." in output and "Roundtable is running" not in output
