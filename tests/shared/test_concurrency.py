"""Capacity holds when several processes register at once against one database."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from shared.app import Roundtable
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
