"""Kill drills: SIGKILL a real ``roundtable run`` again and again during a fan-out.

PEOPLE people (half on Discord, half on Slack, each platform's stand-in in this process)
have one reminder due. ``roundtable run`` is started, killed with SIGKILL a moment after
it starts sending, and started again, KILLS times; then one last run drains the rest. The
stand-ins model the platforms' deduplication (Discord's nonce window, Slack's history with
message metadata). Reported: people who never got their reminder while its row says
otherwise (lost), people who got it twice (duplicates), and rows whose state disagrees with
what the stand-ins received.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bench.figures import Figure, Options
from shared.app import Roundtable
from shared.clock import FakeClock, utcnow
from shared.identity import Identity
from shared.program import load_program
from shared.settings import Settings
from shared.store.database import Database
from shared.store.schema import outbox

PROGRAM = """
[event]
name = "Kill drill"
timezone = "UTC"

[reminders]
before = ["30d"]

[[sessions]]
id = "talk"
title = "Talk: crash-only software"
start = {start}
minutes = 60
access = "open"
join_url = "https://meet.example.org/talk"

[[themes]]
id = "lessons"
name = "Lessons"
"""


def _env(base: dict[str, str]) -> dict[str, str]:
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
    return {**{k: v for k, v in os.environ.items() if not k.upper().startswith(ours)}, **base}


async def _settled(url: str) -> list:
    db = Database(url)
    try:
        async with db.transaction() as conn:
            return (await conn.execute(select(outbox).where(outbox.c.kind == "reminder"))).fetchall()
    finally:
        await db.close()


async def drill(url: str | None, people: int, kills: int, tmp: Path) -> dict[str, float]:
    from tests.discord.discord_standin import DiscordStandin
    from tests.slack.slack_standin import APP_TOKEN, BOT_TOKEN, SlackStandIn

    discord = DiscordStandin()
    await discord.start()
    slack = await SlackStandIn().start()
    # slow enough that every kill lands with sends in flight
    discord.latency = slack.latency = 0.25
    try:
        now = utcnow()
        start = (now + timedelta(days=30) - timedelta(minutes=5)).replace(second=0, microsecond=0)
        program_file = tmp / "program.toml"
        program_file.write_text(PROGRAM.format(start=start.strftime("%Y-%m-%dT%H:%M:%S")))
        url = url or f"sqlite:///{tmp / 'drill.db'}"
        members = [discord.add_user(f"member{i:03d}") for i in range(people // 2)]
        slack_ids = [slack.add_user(f"U0M{i:05d}", f"m{i}").id for i in range(people - people // 2)]
        core = await Roundtable.open(
            Settings(_env_file=None, database_url=url),
            program=load_program(program_file),
            clock=FakeClock(now - timedelta(hours=1)),
        )
        try:
            for m in members:
                await core.register(Identity("discord", discord.guild_id, m.id, m.name), "talk")
            for u in slack_ids:
                await core.register(Identity("slack", slack.team_id, u, u.lower()), "talk")
        finally:
            await core.close(grace=1)

        def seen() -> Counter[str]:
            counts = Counter({m.id: len(discord.dm_arrivals(m)) for m in members})
            counts.update({u: len(slack.delivered(u)) for u in slack_ids})
            return +counts

        env = _env(
            {
                "DISCORD_TOKEN": discord.token,
                "DISCORD_API_BASE": discord.api_base,
                "DISCORD_GATEWAY_URL": discord.gateway_url,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_APP_TOKEN": APP_TOKEN,
                "SLACK_API_URL": slack.api_url,
                "DATABASE_URL": url,
                "ROUNDTABLE_PROGRAM": str(program_file),
                "LOG_LEVEL": "WARNING",
                "DISPATCH_CONCURRENCY": "4",
                "PYTHONUNBUFFERED": "1",
            }
        )
        log = tmp / "drill.log"
        rng = random.Random(10)
        done_kills = claimed_at_kills = 0
        for _ in range(kills):
            before = sum(seen().values())
            with log.open("a") as out:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bots", "run", env=env, stdout=out, stderr=out
                )
            # wait until it sends (or a while), then kill it mid-flight
            deadline = time.monotonic() + 20
            while sum(seen().values()) == before and time.monotonic() < deadline and proc.returncode is None:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
                done_kills += 1
            await proc.wait()
            claimed_at_kills += sum(1 for r in await _settled(url) if r.state == "sending")
            if len(seen()) == people:
                break
        # the last run: recovers the dead runs' leases and sends the rest
        started = time.monotonic()
        with log.open("a") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bots", "run", env=env, stdout=out, stderr=out
            )
        try:
            while time.monotonic() - started < 90:
                rows = await _settled(url)
                if rows and all(r.state in ("sent", "failed", "skipped") for r in rows):
                    break
                await asyncio.sleep(0.5)
            recovered_in = time.monotonic() - started
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        rows = await _settled(url)
        counts = seen()
        by_state = Counter(r.state for r in rows)
        lost = sum(1 for r in rows if counts[r.recipient] == 0 and r.state != "failed")
        duplicates = sum(1 for n in counts.values() if n > 1)
        untrue = sum(1 for r in rows if (r.state == "sent") != (counts[r.recipient] == 1))
        return {
            "people": people,
            "kills": done_kills,
            # rows a killed run held claimed, summed over the kills: the kills hit mid-fan-out
            "claimed_at_kills": claimed_at_kills,
            "lost": lost,
            "duplicates": duplicates,
            "untrue": untrue,
            "sent": by_state["sent"],
            "failed": by_state["failed"],
            "pending": by_state["pending"] + by_state["sending"],
            "drain_after_last_kill_s": recovered_in,
        }
    finally:
        await discord.close()
        await slack.close()


async def measure(options: Options) -> list[Figure]:
    if not options.drill:
        return []
    people, kills = (300, 20)
    figures: list[Figure] = []
    backends: list[tuple[str, str | None]] = [("sqlite", None)]
    if options.database_url:
        from tests.support import reset_postgres

        await reset_postgres(options.database_url)
        backends.append(("pg", options.database_url))
    for name, url in backends:
        with tempfile.TemporaryDirectory() as tmp:
            result = await drill(url, people, kills, Path(tmp))
        note = (
            f"{result['people']} people, {result['kills']} SIGKILLs ({result['claimed_at_kills']} rows "
            f"claimed at the kills): sent {result['sent']}, failed "
            f"{result['failed']}, unsettled {result['pending']}, rows untrue to the stand-ins "
            f"{result['untrue']}; last run drained in {result['drain_after_last_kill_s']:.1f}s"
        )
        figures.append(
            Figure(
                f"drill_{name}_lost",
                f"kill drill, {name}: lost",
                result["lost"],
                "",
                note=note,
                extra={f"drill_{name}": result},
            )
        )
        figures.append(
            Figure(f"drill_{name}_duplicates", f"kill drill, {name}: duplicates", result["duplicates"], "")
        )
    return figures
