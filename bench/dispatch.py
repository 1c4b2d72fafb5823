"""How fast the dispatcher drains a large due queue, and how much memory it holds meanwhile.

Registers N people for the open session (3 reminders each) through the core, jumps the clock
to the 1-day reminder, and drains the queue through a port that only counts. Peak memory is
traced with tracemalloc while draining: it should stay flat as N grows, since rows are claimed
a window at a time. (tracemalloc slows the drain down; the dispatch rate is in bench/delivery.py.)
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import track

from bench.delivery import CountingPort
from bench.figures import Figure, Options
from shared.app import Roundtable
from shared.clock import FakeClock
from shared.identity import Identity
from shared.program import load_program
from shared.settings import Settings


async def drain(people: int, url: str | None) -> dict[str, float]:
    program = load_program()
    session = program.session("roundtable")
    assert session is not None
    clock = FakeClock(session.starts_at - timedelta(days=3))
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        core = await Roundtable.open(Settings(_env_file=None, database_url=url), program=program, clock=clock)
        try:
            started = time.perf_counter()
            for i in track(range(people), description=f"registering {people}", console=Console(stderr=True)):
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
    return {
        "register_per_s": people / registering,
        "dispatch_per_s": port.sent / draining,
        "peak_mib": peak / 1024 / 1024,
    }


async def measure(options: Options) -> list[Figure]:
    # memory only: the dispatch rate is measured without tracemalloc in bench/delivery.py, and
    # registrations beside their raw baselines in bench/register.py
    small, large = (300, 1200) if options.quick else (1000, 4000)
    figures = []
    for people in (small, large):
        result = await drain(people, None)
        figures.append(
            Figure(
                f"dispatch_peak_mib_{people}",
                f"peak traced memory draining {3 * people:,} reminders",
                result["peak_mib"],
                "MiB",
                note="flat as the queue grows: rows are claimed a window at a time",
            )
        )
    return figures
