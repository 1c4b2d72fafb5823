"""Capacity holds when several processes register at once against one database."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared.app import Roundtable
from shared.commands import Invocation
from shared.program import load_program
from shared.store.schema import outbox, registrations
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
CAPACITY = 7


def program_file(tmp_path: Path) -> Path:
    """The bundled program moved a month ahead of the real clock, with a small workshop."""
    text = (ROOT / "shared" / "default_program.toml").read_text("utf-8")
    day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    text = text.replace("2026-12-10", day).replace("capacity = 30", f"capacity = {CAPACITY}")
    path = tmp_path / "program.toml"
    path.write_text(text, "utf-8")
    return path


@pytest.mark.slow
async def test_many_processes_never_overbook_lose_or_duplicate(database_url, tmp_path):
    path = program_file(tmp_path)
    program = load_program(path)
    setup = await Roundtable.open(make_settings(database_url), program=program)
    await setup.close()

    # four processes, overlapping ranges: p010-p019 are asked for by two processes at once
    ranges = [(0, 20), (10, 30), (30, 50), (40, 60)]
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.shared.registration_worker",
            database_url,
            str(path),
            str(a),
            str(b),
            cwd=ROOT,
            stderr=asyncio.subprocess.PIPE,
        )
        for a, b in ranges
    ]
    results = await asyncio.gather(*(w.communicate() for w in workers))
    for worker, (_, stderr) in zip(workers, results, strict=True):
        assert worker.returncode == 0, stderr.decode()[-2000:]

    core = await Roundtable.open(make_settings(database_url), program=program)
    try:
        async with core.db.transaction() as conn:
            rows = (
                await conn.execute(
                    select(registrations.c.id, registrations.c.person_id, registrations.c.status)
                    .where(registrations.c.session_id == "workshop")
                    .order_by(registrations.c.id)
                )
            ).fetchall()
            reminders = (
                await conn.execute(select(func.count()).where(outbox.c.kind == "reminder"))
            ).scalar_one()
        statuses = [r.status for r in rows]
        assert statuses.count("confirmed") == CAPACITY
        assert statuses.count("waitlisted") == 60 - CAPACITY
        assert len({r.person_id for r in rows}) == len(rows) == 60
        # the seats went to the first who asked: no waitlisted row before a confirmed one
        assert statuses == sorted(statuses)
        assert reminders == 60 * 3
    finally:
        await core.close()


async def test_two_dispatchers_on_one_database_send_each_message_once(database_url, tmp_path):
    from shared.clock import FakeClock
    from tests.support import RecordingPort, person

    program = load_program(program_file(tmp_path))
    roundtable = program.session("roundtable")
    clock = FakeClock(roundtable.starts_at - timedelta(days=2))
    settings = make_settings(database_url, dispatch_concurrency=4)
    first = await Roundtable.open(settings, program=program, clock=clock)
    second = await Roundtable.open(settings, program=program, clock=clock)
    try:
        for i in range(120):
            await first.register(person(f"p{i:03d}"), "roundtable")
        await clock.set(roundtable.starts_at - timedelta(minutes=10))  # all three offsets are due
        ports = [RecordingPort(delay=0.002), RecordingPort(delay=0.002)]
        first.attach(ports[0])
        second.attach(ports[1])
        handled = await asyncio.gather(first.dispatch_due(), second.dispatch_due())
        sent = [r.user_id for port in ports for r, _ in port.direct]
        assert sum(handled) >= 120
        # one reminder per person: the other two overdue ones are superseded
        assert sorted(sent) == [f"p{i:03d}" for i in range(120)]
        async with first.db.transaction() as conn:
            states = dict(
                (await conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state))).fetchall()
            )
        assert states.get("sending", 0) == 0 and states.get("pending", 0) == 0
        assert (states["sent"], states["skipped"]) == (120, 240)
    finally:
        await first.close()
        await second.close()


@pytest.mark.postgres
async def test_a_dispatcher_wakes_when_another_process_queues_on_postgres(postgres_url, tmp_path):
    """On PostgreSQL a promotion queued by one process wakes the sleeping dispatcher of another."""
    database_url = postgres_url
    from tests.support import RecordingPort, person, until, with_capacity

    program = with_capacity(1, load_program(program_file(tmp_path)))
    sender = await Roundtable.open(make_settings(database_url), program=program)
    other = await Roundtable.open(make_settings(database_url), program=program)
    try:
        port = RecordingPort()
        sender.attach(port)
        await sender.start()
        await asyncio.sleep(0.3)  # asleep until the next due time, days away
        await other.register(person("ann"), "workshop")
        await other.register(person("ben"), "workshop")
        await other.handle(Invocation(person("ann"), "unregister", {"session": "workshop"}))
        await until(lambda: port.texts_for("ben"), limit=3, what="the promotion sent by the other process")
    finally:
        await other.close()
        await sender.close()
