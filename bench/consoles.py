"""Drill (``--drill --database-url``): forty ``roundtable console`` processes register at once
against one PostgreSQL server; every one must succeed (none "too many clients").

The server's ``max_connections`` is shared with whatever else runs on it, so the figure
is the number that succeeded, beside how many were started.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from bench.figures import Figure, Options

CONSOLES = 40


async def one(roundtable: str, env: dict[str, str], n: int) -> tuple[bool, str]:
    proc = await asyncio.create_subprocess_exec(
        roundtable,
        "console",
        "--as",
        f"drill{n:02d}",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate(b"/register workshop\n")
    text = out.decode(errors="replace")
    ok = proc.returncode == 0 and ("seat" in text.lower() or "waitlist" in text.lower())
    return ok, text


async def measure(options: Options) -> list[Figure]:
    if not (options.drill and options.database_url):
        return []
    env = {**os.environ, "DATABASE_URL": options.database_url, "LOG_LEVEL": "WARNING"}
    for name in ("DISCORD_TOKEN", "SLACK_BOT_TOKEN"):
        env[name] = ""
    roundtable = str(Path(sys.executable).parent / "roundtable")
    # the schema first, so that the forty race for seats, not for the migration
    upgrade = await asyncio.create_subprocess_exec(roundtable, "db", "upgrade", env=env)
    await upgrade.wait()
    started = time.perf_counter()
    results = await asyncio.gather(*(one(roundtable, env, n) for n in range(CONSOLES)))
    took = time.perf_counter() - started
    failed = [text for ok, text in results if not ok]
    note = f"{took:.1f} s in all"
    if failed:
        note += "; first failure: " + failed[0].strip().splitlines()[-1][:80]
    return [
        Figure(
            "consoles_ok",
            f"{CONSOLES} consoles registering at once on PostgreSQL",
            CONSOLES - len(failed),
            "",
            baseline=CONSOLES,
            note=note,
        )
    ]
