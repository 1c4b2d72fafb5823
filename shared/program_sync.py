"""Bring the database in line with a (possibly new) program: moved, resized or removed sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import outbox, registrations
from shared.program import Program, Session
from shared.store.schema import outbox as outbox_table
from shared.store.schema import registrations as registrations_table
from shared.store.schema import sessions


async def sync(conn: AsyncConnection, program: Program, now: datetime) -> list[str]:
    """Apply the program; returns what changed, in words. Safe to run from several processes."""
    changes: list[str] = []
    known = {row.id: row for row in await conn.execute(select(sessions).with_for_update())}
    for session in program.sessions:
        values = _values(session, now)
        row = known.get(session.id)
        if row is None:
            await conn.execute(insert(sessions).values(id=session.id, **values))
            continue
        if (row.starts_at, row.ends_at, row.title, row.capacity, row.access, row.in_program) == (
            session.starts_at,
            session.ends_at,
            session.title,
            session.capacity,
            session.access,
            True,
        ):
            continue
        await conn.execute(update(sessions).where(sessions.c.id == session.id).values(**values))
        if row.starts_at != session.starts_at:
            moved = await _replan(conn, program, session, row.starts_at, now)
            changes.append(f"{session.id} moved; {moved} registrants will be told")
        if session.capped and (row.capacity is None or (session.capacity or 0) > row.capacity):
            promoted = await registrations.fill_seats(conn, session, now)
            if promoted:
                changes.append(f"{session.id} has more seats; {len(promoted)} promoted from the waitlist")
    for session_id, row in known.items():
        if program.session(session_id) is None and row.in_program:
            await conn.execute(update(sessions).where(sessions.c.id == session_id).values(in_program=False))
            await conn.execute(
                update(outbox_table)
                .where(and_(outbox_table.c.session_id == session_id, outbox_table.c.state == outbox.PENDING))
                .values(state=outbox.SKIPPED, reason="session_removed", finished_at=now)
            )
            changes.append(f"{session_id} is no longer in the program; its pending reminders are skipped")
    return changes


def _values(session: Session, now: datetime) -> dict:
    return {
        "title": session.title,
        "starts_at": session.starts_at,
        "ends_at": session.ends_at,
        "timezone": session.timezone,
        "access": session.access,
        "capacity": session.capacity,
        "in_program": True,
        "updated_at": now,
    }


async def _replan(
    conn: AsyncConnection, program: Program, session: Session, old_start: datetime, now: datetime
) -> int:
    """New reminder times for everyone registered, and a 'moved' notice to each."""
    people = (
        (
            await conn.execute(
                select(registrations_table.c.person_id).where(registrations_table.c.session_id == session.id)
            )
        )
        .scalars()
        .all()
    )
    for person_id in people:
        target = await registrations.target_of(conn, person_id, session.id)
        if target is None:
            continue
        await outbox.drop_pending(conn, person_id, session.id)
        await outbox.plan_reminders(
            conn, target, session.id, session.starts_at, program.reminders.offsets, now
        )
        if now < session.ends_at:
            await outbox.enqueue_notice(
                conn, "moved", target, session.id, now, body=str(int(old_start.timestamp()))
            )
    return len(people)
