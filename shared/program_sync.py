"""Bring the database in line with a (possibly new) program: moved, resized or removed sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import outbox, registrations
from shared.program import Program, Session
from shared.store import database
from shared.store.schema import outbox as outbox_table
from shared.store.schema import registrations as registrations_table
from shared.store.schema import sessions


async def sync(conn: AsyncConnection, program: Program, now: datetime) -> list[str]:
    """Apply the program; returns what changed, in words. Safe to run from several processes."""
    changes: list[str] = []
    # an empty table has no rows to lock: serialise first starts of several processes
    await database.advisory_lock(conn, database.PROGRAM_SYNC_LOCK)
    known = {
        row.id: row for row in await conn.execute(select(sessions).order_by(sessions.c.id).with_for_update())
    }
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
        moved = row.starts_at != session.starts_at
        if moved:
            # calendars replace an entry only when its SEQUENCE rises
            values["calendar_sequence"] = sessions.c.calendar_sequence + 1
        await conn.execute(update(sessions).where(sessions.c.id == session.id).values(**values))
        if moved or not row.in_program:
            count = await _replan(conn, program, session, row.starts_at, now, notify=moved)
            changes.append(
                f"{session.id} {'moved' if moved else 'is back in the program'}; {count} registrants re-planned"
            )
        if row.access != session.access:
            await _reaccess(conn, session)
            changes.append(f"{session.id} is now {session.access}; its registrations follow")
        if session.capped:
            if row.capacity is not None and (session.capacity or 0) < row.capacity:
                changes.append(
                    f"{session.id} has fewer seats; nobody loses a confirmed seat, new people wait"
                )
            promoted = await registrations.fill_seats(conn, session, now)
            if promoted:
                changes.append(f"{session.id}: {len(promoted)} promoted from the waitlist")
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


async def _reaccess(conn: AsyncConnection, session: Session) -> None:
    """Open to registration: follows become seats in the order taken, the rest wait.
    Registration to open: everyone follows."""
    regs = (
        (
            await conn.execute(
                select(registrations_table.c.id)
                .where(registrations_table.c.session_id == session.id)
                .order_by(registrations_table.c.id)
            )
        )
        .scalars()
        .all()
    )
    for index, reg_id in enumerate(regs):
        if not session.capped:
            status = registrations.FOLLOWING
        elif index < (session.capacity or 0):
            status = registrations.CONFIRMED
        else:
            status = registrations.WAITLISTED
        await conn.execute(
            update(registrations_table).where(registrations_table.c.id == reg_id).values(status=status)
        )


async def _replan(
    conn: AsyncConnection,
    program: Program,
    session: Session,
    old_start: datetime,
    now: datetime,
    *,
    notify: bool,
) -> int:
    """New reminder times for everyone registered and, if it moved, one 'moved' notice each."""
    targets = await registrations.targets(conn, session.id)
    for target in targets:
        # an earlier 'moved' notice that is still unsent is out of date too
        await outbox.drop_pending(conn, target.person_id, session.id, kinds=("reminder", "moved"))
        await outbox.plan_reminders(
            conn, target, session.id, session.starts_at, program.reminders.offsets, now
        )
        if notify and now < session.ends_at:
            await outbox.enqueue_notice(
                conn, "moved", target, session.id, now, body=str(int(old_start.timestamp()))
            )
    return len(targets)
