"""Bring the database in line with a (possibly new) program: moved, resized or removed sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, insert, select, update
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
            # cancelled before anyone could register: nobody to tell
            await conn.execute(insert(sessions).values(id=session.id, **values))
            continue
        if (
            row.starts_at,
            row.ends_at,
            row.title,
            row.capacity,
            row.access,
            row.in_program,
            row.cancelled,
        ) == (
            session.starts_at,
            session.ends_at,
            session.title,
            session.capacity,
            session.access,
            True,
            session.cancelled,
        ):
            continue
        moved = row.starts_at != session.starts_at
        if moved:
            # calendars replace an entry only when its SEQUENCE rises
            values["calendar_sequence"] = sessions.c.calendar_sequence + 1
        await conn.execute(update(sessions).where(sessions.c.id == session.id).values(**values))
        if session.cancelled and not row.cancelled:
            told = await _cancel(conn, session, now)
            changes.append(f"{session.id} is cancelled; {told} people will be told")
            continue
        if session.cancelled:
            continue
        if row.cancelled:
            # called off the cancellation: plan their reminders again, quietly
            await _replan(conn, program, session, row.starts_at, now, notify=False)
            changes.append(
                f"{session.id} is no longer cancelled; its registrants' reminders are planned again"
            )
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


class DropRefused(Exception):
    """The program leaves out sessions that people are registered to (see :func:`dropped_refusal`)."""


async def dropped_with_people(conn: AsyncConnection, program: Program) -> list[tuple[str, int]]:
    """Sessions the database has in its program that ``program`` leaves out, with how many people
    are still registered to each: what a sync would drop without telling them."""
    rows = await conn.execute(
        select(sessions.c.id, func.count(registrations_table.c.id))
        .select_from(sessions.join(registrations_table, registrations_table.c.session_id == sessions.c.id))
        .where(sessions.c.in_program.is_(True))
        .group_by(sessions.c.id)
        .order_by(sessions.c.id)
    )
    return [
        (session_id, count) for session_id, count in rows if program.session(session_id) is None and count
    ]


def dropped_refusal(dropped: list[tuple[str, int]], source: str = "the program") -> str:
    """One sentence naming who would be dropped, and the two ways forward."""
    each = ", ".join(f"{sid} ({n} {'person' if n == 1 else 'people'} registered)" for sid, n in dropped)
    return (
        f"{source} leaves out {each}: they would be dropped without a word. Keep the session and mark it "
        "`cancelled = true` so that they are told, or pass --allow-drop to drop it anyway"
    )


def _values(session: Session, now: datetime) -> dict:
    return {
        "title": session.title,
        "starts_at": session.starts_at,
        "ends_at": session.ends_at,
        "timezone": session.timezone,
        "access": session.access,
        "capacity": session.capacity,
        "in_program": True,
        "cancelled": session.cancelled,
        "updated_at": now,
    }


async def _cancel(conn: AsyncConnection, session: Session, now: datetime) -> int:
    """Skip what was planned for the session and tell each registrant once; the roster stays."""
    await conn.execute(
        update(outbox_table)
        .where(
            and_(
                outbox_table.c.session_id == session.id,
                outbox_table.c.state == outbox.PENDING,
                outbox_table.c.kind.in_(outbox.PERSONAL_KINDS),
            )
        )
        .values(state=outbox.SKIPPED, reason="cancelled", finished_at=now)
    )
    if now >= session.ends_at:
        return 0
    targets = await registrations.targets(conn, session.id)
    for target in targets:
        await outbox.enqueue_notice(conn, "cancelled", target, session.id, now)
    return len(targets)


async def to_tell(conn: AsyncConnection, program: Program, now: datetime) -> dict[str, int | None]:
    """For `roundtable check`: per newly cancelled session, how many people the next start tells."""
    known = {row.id: row for row in await conn.execute(select(sessions))}
    counts: dict[str, int | None] = {}  # None: told already
    for session in program.sessions:
        row = known.get(session.id)
        if not session.cancelled or now >= session.ends_at:
            continue
        if row is None or row.cancelled:
            counts[session.id] = None if row is not None else 0
            continue
        counts[session.id] = len(await registrations.targets(conn, session.id))
    return counts


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
        await outbox.drop_pending(
            conn, target.person_id, session.id, kinds=("reminder", "moved", "cancelled")
        )
        await outbox.plan_reminders(
            conn, target, session.id, session.starts_at, program.reminders.offsets, now
        )
        if notify and now < session.ends_at:
            await outbox.enqueue_notice(
                conn, "moved", target, session.id, now, body=str(int(old_start.timestamp()))
            )
    return len(targets)
