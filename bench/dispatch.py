"""How fast the dispatcher drains a large due queue, and how much memory it holds meanwhile.

    python bench/dispatch.py [--people 5000] [--database-url postgresql://127.0.0.1:5432/bench]

Registers N people for the open session (3 reminders each), jumps the clock to the 10-minute
reminder, and drains the queue through a port that only counts. Peak memory is traced with
tracemalloc while draining: it should stay flat as N grows, since rows are claimed in batches.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import track

from shared.app import Roundtable
from shared.clock import FakeClock
from shared.identity import Identity, Reach
from shared.port import Receipt
from shared.program import load_program
from shared.settings import Settings


class CountingPort:
    platform = "console"

    def __init__(self) -> None:
        self.sent = 0

    def reach(self) -> list[Reach]:
        return [Reach("console")]

    async def send_direct(self, recipient, message) -> Receipt:
        self.sent += 1
        return Receipt()

    async def post_insight(self, channel, post) -> None:
        self.sent += 1


async def main(people: int, url: str | None) -> None:
    out = Console()
    program = load_program()
    session = program.session("roundtable")
    clock = FakeClock(session.starts_at - timedelta(days=3))
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        core = await Roundtable.open(Settings(_env_file=None, database_url=url), program=program, clock=clock)
        try:
            started = time.perf_counter()
            for i in track(range(people), description="registering", console=out):
                await core.register(Identity("console", "local", f"p{i}", f"P{i}"), "roundtable")
            registering = time.perf_counter() - started

            await clock.set(session.starts_at - timedelta(days=1))
            port = CountingPort()
            core.attach(port)
            tracemalloc.start()
            started = time.perf_counter()
            await core.dispatch_due()
            draining = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            await core.close()
    backend = url.split(":", 1)[0]
    out.print(f"backend {backend}, {people} people")
    out.print(f"  register: {people / registering:,.0f} registrations/s ({registering:.1f} s)")
    out.print(f"  dispatch: {port.sent / draining:,.0f} reminders/s ({port.sent} in {draining:.1f} s)")
    out.print(f"  peak traced memory while draining: {peak / 1024 / 1024:.1f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    asyncio.run(main(args.people, args.database_url))
