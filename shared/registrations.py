"""Seats, waitlists and follows. Capacity is counted under a lock on the session's row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import outbox, people
from shared.errors import Refusal
from shared.identity import Identity
from shared.outbox import Target
from shared.program import Program, Session
from shared.store.schema import identities, registrations, sessions

CONFIRMED, WAITLISTED, FOLLOWING = "confirmed", "waitlisted", "following"


class RegistrationError(Refusal):
    """A registration the rules refuse."""

    field = "session"


@dataclass(frozen=True, slots=True)
class Standing:
    """A person's place in one session."""

    session_id: str
    status: str
    position: int | None = None  # on the waitlist, 1 is next
    already: bool = False
    first_due: datetime | None = None  # the earliest reminder planned now


@dataclass(frozen=True, slots=True)
class Promotion:
    session_id: str
    person_id: int


@dataclass(frozen=True, slots=True)
class Cancellation:
    session_id: str
    was: str | None  # None when there was nothing to cancel
    promoted: tuple[Promotion, ...] = ()


@dataclass(frozen=True, slots=True)
class RosterEntry:
    person_id: int
    name: str
    status: str
    position: int | None
    platforms: tuple[str, ...]
    registered_at: datetime


def closed_message(session: Session) -> str:
    if not session.capped:
        return f"{session.title} has ended."
    return f"Registration for {session.title} closed when it started."


async def lock_session(conn: AsyncConnection, session_id: str) -> None:
    """Serialise seat counting for one session (a row lock on PostgreSQL; SQLite's
    BEGIN IMMEDIATE already serialises writers)."""
    await conn.execute(select(sessions.c.id).where(sessions.c.id == session_id).with_for_update())


async def target_of(conn: AsyncConnection, person_id: int, session_id: str) -> Target | None:
    row = (
        await conn.execute(
            select(
                registrations.c.person_id,
                identities.c.id,
                identities.c.platform,
                identities.c.workspace,
                identities.c.user_id,
            )
            .join(identities, identities.c.id == registrations.c.identity_id)
            .where(and_(registrations.c.person_id == person_id, registrations.c.session_id == session_id))
        )
    ).first()
    return Target(row[0], row[1], row[2], row[3], row[4]) if row else None


async def targets(conn: AsyncConnection, session_id: str) -> list[Target]:
    """Where each registrant's personal messages for a session go, in registration order."""
    rows = await conn.execute(
        select(
            registrations.c.person_id,
            identities.c.id,
            identities.c.platform,
            identities.c.workspace,
            identities.c.user_id,
        )
        .join(identities, identities.c.id == registrations.c.identity_id)
        .where(registrations.c.session_id == session_id)
        .order_by(registrations.c.id)
    )
    return [Target(*row) for row in rows]


async def position(conn: AsyncConnection, session_id: str, registration_id: int) -> int:
    ahead = (
        await conn.execute(
            select(func.count()).where(
                and_(
                    registrations.c.session_id == session_id,
                    registrations.c.status == WAITLISTED,
                    registrations.c.id < registration_id,
                )
            )
        )
    ).scalar_one()
    return ahead + 1


async def standing(conn: AsyncConnection, person_id: int, session_id: str) -> Standing | None:
    row = (
        await conn.execute(
            select(registrations.c.id, registrations.c.status).where(
                and_(registrations.c.person_id == person_id, registrations.c.session_id == session_id)
            )
        )
    ).first()
    if row is None:
        return None
    pos = await position(conn, session_id, row.id) if row.status == WAITLISTED else None
    return Standing(session_id, row.status, pos)


async def register(
    conn: AsyncConnection, program: Program, identity: Identity, session_id: str, now: datetime
) -> Standing:
    session = session_or_raise(program, session_id)
    account = await people.resolve(conn, identity, now)
    await lock_session(conn, session.id)
    existing = await standing(conn, account.person_id, session.id)
    if existing is not None:
        return Standing(existing.session_id, existing.status, existing.position, already=True)
    if not session.accepts_registration(now):
        raise RegistrationError(closed_message(session))
    if not session.capped:
        status = FOLLOWING
    else:
        taken = (
            await conn.execute(
                select(func.count()).where(
                    and_(registrations.c.session_id == session.id, registrations.c.status == CONFIRMED)
                )
            )
        ).scalar_one()
        status = CONFIRMED if taken < (session.capacity or 0) else WAITLISTED
    registration_id = (
        await conn.execute(
            insert(registrations)
            .values(
                session_id=session.id,
                person_id=account.person_id,
                identity_id=account.identity_id,
                status=status,
                created_at=now,
                confirmed_at=now if status == CONFIRMED else None,
            )
            .returning(registrations.c.id)
        )
    ).scalar_one()
    target = Target(
        account.person_id, account.identity_id, identity.platform, identity.workspace, identity.user_id
    )
    dues = await outbox.plan_reminders(
        conn, target, session.id, session.starts_at, program.reminders.offsets, now
    )
    pos = await position(conn, session.id, registration_id) if status == WAITLISTED else None
    return Standing(session.id, status, pos, first_due=min(dues, default=None))


async def cancel(
    conn: AsyncConnection, program: Program, identity: Identity, session_id: str, now: datetime
) -> Cancellation:
    session = session_or_raise(program, session_id)
    account = await people.find(conn, identity)
    if account is None:
        return Cancellation(session.id, None)
    await lock_session(conn, session.id)
    return await cancel_person(conn, program, account.person_id, session, now)


async def cancel_person(
    conn: AsyncConnection, program: Program, person_id: int, session: Session, now: datetime
) -> Cancellation:
    current = await standing(conn, person_id, session.id)
    if current is None:
        return Cancellation(session.id, None)
    await conn.execute(
        delete(registrations).where(
            and_(registrations.c.person_id == person_id, registrations.c.session_id == session.id)
        )
    )
    await outbox.drop_pending(conn, person_id, session.id, kinds=outbox.PERSONAL_KINDS)
    promoted = await fill_seats(conn, session, now) if current.status == CONFIRMED else ()
    return Cancellation(session.id, current.status, promoted)


async def fill_seats(conn: AsyncConnection, session: Session, now: datetime) -> tuple[Promotion, ...]:
    """Promote the head of the waitlist into free seats, in the order people asked."""
    if not session.capped or now >= session.ends_at:
        return ()
    taken = (
        await conn.execute(
            select(func.count()).where(
                and_(registrations.c.session_id == session.id, registrations.c.status == CONFIRMED)
            )
        )
    ).scalar_one()
    free = (session.capacity or 0) - taken
    if free <= 0:
        return ()
    heads = (
        await conn.execute(
            select(registrations.c.id, registrations.c.person_id)
            .where(and_(registrations.c.session_id == session.id, registrations.c.status == WAITLISTED))
            .order_by(registrations.c.id)
            .limit(free)
        )
    ).fetchall()
    promoted = []
    for head in heads:
        await conn.execute(
            update(registrations)
            .where(registrations.c.id == head.id)
            .values(status=CONFIRMED, confirmed_at=now)
        )
        target = await target_of(conn, head.person_id, session.id)
        if target is not None:
            await outbox.enqueue_notice(conn, "promotion", target, session.id, now)
        promoted.append(Promotion(session.id, head.person_id))
    return tuple(promoted)


async def mine(conn: AsyncConnection, identity: Identity) -> list[Standing]:
    account = await people.find(conn, identity)
    if account is None:
        return []
    rows = await conn.execute(
        select(registrations.c.id, registrations.c.session_id, registrations.c.status).where(
            registrations.c.person_id == account.person_id
        )
    )
    result = []
    for row in rows.fetchall():
        pos = await position(conn, row.session_id, row.id) if row.status == WAITLISTED else None
        result.append(Standing(row.session_id, row.status, pos))
    return result


async def roster(conn: AsyncConnection, session_id: str) -> list[RosterEntry]:
    """Confirmed seats (or follows) first, then the waitlist in order; each person once."""
    regs = (
        await conn.execute(
            select(registrations).where(registrations.c.session_id == session_id).order_by(registrations.c.id)
        )
    ).fetchall()
    entries: list[RosterEntry] = []
    waiting = 0
    for reg in regs:
        accounts = await people.accounts_of(conn, reg.person_id)
        own = next((name for platform, name in accounts), str(reg.person_id))
        pos = None
        if reg.status == WAITLISTED:
            waiting += 1
            pos = waiting
        platforms = tuple(dict.fromkeys(p for p, _ in accounts))
        entries.append(RosterEntry(reg.person_id, own, reg.status, pos, platforms, reg.created_at))
    order = {CONFIRMED: 0, FOLLOWING: 0, WAITLISTED: 1}
    return sorted(entries, key=lambda e: (order.get(e.status, 2), e.position or 0))


async def counts_by_session(conn: AsyncConnection) -> dict[str, dict[str, int]]:
    """session id -> status -> how many, for every session, in one query."""
    rows = await conn.execute(
        select(registrations.c.session_id, registrations.c.status, func.count()).group_by(
            registrations.c.session_id, registrations.c.status
        )
    )
    counts: dict[str, dict[str, int]] = {}
    for session_id, status, n in rows:
        counts.setdefault(session_id, {})[status] = n
    return counts


def session_or_raise(program: Program, session_id: str) -> Session:
    session = program.session(session_id.strip().lower())
    if session is None:
        raise RegistrationError(program.unknown_session(session_id))
    return session
