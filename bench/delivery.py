"""The delivery engine: dispatch throughput beside a raw baseline, and claim cost as the queue grows.

- ``dispatch_per_s``: the dispatcher draining N due reminders through a port that only
  counts (SQLite); ``dispatch_raw_per_s``: a raw claim-100-and-mark-sent loop with plain
  aiosqlite on the same schema, in the same run.
- ``claim_growth``: the cost of one claim (the dispatcher's claim transaction, 8 rows) with
  the largest queue built, divided by its cost with 1k queued.

Queues are built with bulk inserts straight into the schema (people, accounts,
registrations and one due reminder each), so that 100k rows take seconds, not hours.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from bench.figures import Figure, Options
from shared import outbox
from shared.app import Roundtable
from shared.clock import FakeClock
from shared.identity import Reach
from shared.port import Receipt
from shared.program import load_program
from shared.settings import Settings
from shared.store.schema import identities, people, registrations
from shared.store.schema import outbox as outbox_table

CHUNK = 5_000


class CountingPort:
    platform = "console"

    def __init__(self) -> None:
        self.sent = 0

    def reach(self) -> list[Reach]:
        return [Reach("console")]

    async def send_direct(self, recipient, message, *, key=None) -> Receipt:
        self.sent += 1
        return Receipt(dm_channel=recipient.dm_channel)

    async def post_insight(self, channel, post, *, key=None) -> None:
        self.sent += 1


async def fill(
    core: Roundtable,
    count: int,
    due: datetime,
    start: int = 0,
    *,
    platform: str = "console",
    workspace: str = "local",
    user=lambda i: f"p{i}",
    dm=lambda i: f"D{i}",
) -> None:
    """``count`` people following the open session, each with one reminder due at ``due``."""
    now = due - timedelta(days=2)
    async with core.db.transaction() as conn:
        for lo in range(start, start + count, CHUNK):
            hi = min(lo + CHUNK, start + count)
            ids = range(lo + 1, hi + 1)
            await conn.execute(
                insert(people), [{"id": i, "display_name": f"P{i}", "created_at": now} for i in ids]
            )
            await conn.execute(
                insert(identities),
                [
                    {
                        "id": i,
                        "person_id": i,
                        "platform": platform,
                        "workspace": workspace,
                        "user_id": user(i),
                        "display_name": f"P{i}",
                        "dm_channel": dm(i),
                        "created_at": now,
                    }
                    for i in ids
                ],
            )
            await conn.execute(
                insert(registrations),
                [
                    {
                        "id": i,
                        "session_id": "roundtable",
                        "person_id": i,
                        "identity_id": i,
                        "status": "following",
                        "created_at": now,
                    }
                    for i in ids
                ],
            )
            await conn.execute(
                insert(outbox_table),
                [
                    {
                        "kind": "reminder",
                        "session_id": "roundtable",
                        "person_id": i,
                        "identity_id": i,
                        "platform": platform,
                        "workspace": workspace,
                        "recipient": user(i),
                        "offset_seconds": 86400,
                        "due_at": due,
                        "state": "pending",
                        "attempts": 0,
                        "priority": 0,
                        "created_at": now,
                    }
                    for i in ids
                ],
            )


async def analyze(core: Roundtable) -> None:
    """PostgreSQL: fresh statistics, as autovacuum keeps them in a running database (a bulk
    insert just made leaves the planner thinking the tables are empty)."""
    if not core.db.is_sqlite:
        async with core.db.engine.connect() as conn:
            await conn.execute(text("COMMIT"))
            await conn.execute(text("ANALYZE"))


async def _open(url: str, clock: FakeClock, **settings) -> Roundtable:
    return await Roundtable.open(
        Settings(_env_file=None, database_url=url, **settings), program=load_program(), clock=clock
    )


def _due_clock() -> tuple[FakeClock, datetime]:
    session = load_program().session("roundtable")
    assert session is not None
    due = session.starts_at - timedelta(days=1)
    return FakeClock(due + timedelta(seconds=1)), due


async def dispatch_rate(url: str, count: int, window: int = 64) -> float:
    """Reminders per second the dispatcher sends through a counting port."""
    clock, due = _due_clock()
    core = await _open(url, clock, dispatch_concurrency=window)
    try:
        await fill(core, count, due)
        await analyze(core)
        port = CountingPort()
        core.attach(port)
        started = time.perf_counter()
        await core.dispatch_due()
        took = time.perf_counter() - started
        assert port.sent == count, (port.sent, count)
    finally:
        await core.close()
    return count / took


async def raw_rate(path: Path, count: int, batch: int = 100) -> float:
    """A raw claim-and-mark loop with plain aiosqlite on the same schema (the ceiling)."""
    import aiosqlite

    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("UPDATE outbox SET state = 'pending', claimed_by = NULL")
        now = "9999-01-01 00:00:00"
        done = 0
        started = time.perf_counter()
        while True:
            await db.execute("BEGIN IMMEDIATE")
            cursor = await db.execute(
                "UPDATE outbox SET state = 'sending', claimed_by = 'raw' WHERE id IN ("
                " SELECT id FROM outbox WHERE state = 'pending' AND platform = 'console'"
                " AND priority = 0 AND due_at <= ? ORDER BY due_at, id LIMIT ?) RETURNING id",
                (now, batch),
            )
            ids = [row[0] for row in await cursor.fetchall()]
            await db.execute("COMMIT")
            if not ids:
                break
            await db.execute("BEGIN IMMEDIATE")
            await db.executemany("UPDATE outbox SET state = 'sent' WHERE id = ?", [(i,) for i in ids])
            await db.execute("COMMIT")
            done += len(ids)
        took = time.perf_counter() - started
    assert done == count, (done, count)
    return count / took


async def claim_costs(url: str, sizes: list[int], claims: int = 30) -> dict[int, float]:
    """Median seconds of one claim transaction (skip superseded + claim 8 + joins) per queue size."""
    clock, due = _due_clock()
    costs: dict[int, float] = {}
    core = await _open(url, clock)
    try:
        built = 0
        for size in sizes:
            await fill(core, size - built, due, start=built)
            built = size
            async with core.db.transaction() as conn:
                await conn.execute(
                    outbox_table.update()
                    .where(outbox_table.c.state != "pending")
                    .values(state="pending", claimed_by=None)
                )
            await analyze(core)
            times = []
            since = None
            for _ in range(claims):
                now = clock.now()
                started = time.perf_counter()
                async with core.db.transaction() as conn:
                    await outbox.skip_superseded(conn, "console", now, since)
                    rows = await outbox.claim(conn, [Reach("console")], now, 8, "bench")
                times.append(time.perf_counter() - started)
                since = now
                assert len(rows) == 8
            costs[size] = statistics.median(times[3:])
    finally:
        await core.close()
    return costs


async def measure(options: Options) -> list[Figure]:
    count = 2_000 if options.quick else 5_000
    sizes = [1_000, 20_000] if options.quick else [1_000, 10_000, 100_000]
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dispatch.db"
        rate = await dispatch_rate(f"sqlite:///{path}", count)
        raw = await raw_rate(path, count)
        figures.append(
            Figure(
                "dispatch_per_s",
                f"dispatch, SQLite, {count:,} due, counting port",
                rate,
                "/s",
                baseline=raw,
                baseline_key="dispatch_raw_per_s",
                note="baseline: raw aiosqlite claim-100-mark-sent",
            )
        )
        costs = await claim_costs(f"sqlite:///{Path(tmp) / 'claims.db'}", sizes)
        largest = sizes[-1]
        figures.append(
            Figure(
                "claim_growth",
                f"claim cost at {largest:,} queued / at 1k, SQLite",
                costs[largest] / costs[1_000],
                "×",
                note=", ".join(f"{n:,}: {c * 1000:.2f} ms" for n, c in costs.items()),
                extra={"claim_ms_sqlite": {str(n): round(c * 1000, 3) for n, c in costs.items()}},
            )
        )
    if options.database_url:
        from tests.support import reset_postgres

        await reset_postgres(options.database_url)
        pg_rate = await dispatch_rate(options.database_url, count)
        figures.append(Figure("dispatch_pg_per_s", f"dispatch, PostgreSQL, {count:,} due", pg_rate, "/s"))
        await reset_postgres(options.database_url)
        costs = await claim_costs(options.database_url, sizes)
        figures.append(
            Figure(
                "claim_growth_pg",
                f"claim cost at {sizes[-1]:,} queued / at 1k, PostgreSQL",
                costs[sizes[-1]] / costs[1_000],
                "×",
                note=", ".join(f"{n:,}: {c * 1000:.2f} ms" for n, c in costs.items()),
            )
        )
    return figures
