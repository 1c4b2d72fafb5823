"""Seats, waitlists and follows. Capacity is counted under a lock on the session's row."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from sqlalchemy import and_, bindparam, case, delete, func, literal_column, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import outbox, people
from shared.errors import Refusal
from shared.i18n import _
from shared.identity import Identity
from shared.outbox import Target
from shared.program import Program, Session
from shared.store.prepared import Prepared
from shared.store.schema import identities, registrations, sessions

CONFIRMED, WAITLISTED, FOLLOWING = "confirmed", "waitlisted", "following"


class RegistrationError(Refusal):
    """A registration the rules refuse."""

    field = "session"


class SessionCancelled(RegistrationError):
    """A cancelled session takes no registrations; the handler words the refusal."""

    def __init__(self, session: Session) -> None:
        super().__init__(f"{session.id} is cancelled")
        self.session = session


@dataclass(frozen=True, slots=True)
class Standing:
    """A person's place in one session."""

    session_id: str
    status: str
    position: int | None = None  # on the waitlist, 1 is next
    already: bool = False
    first_due: datetime | None = None  # the earliest reminder planned now
    # the reader's zone and language, read with their account (registration only)
    prefs: people.Prefs | None = None


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
    answers: dict[str, str] = field(default_factory=dict)


def closed_message(session: Session) -> str:
    if not session.capped:
        return _("{title} has ended.", title=session.shown_title())
    return _("Registration for {title} closed when it started.", title=session.shown_title())


_LOCK = select(sessions.c.id).where(sessions.c.id == bindparam("session_id")).with_for_update()


async def lock_session(conn: AsyncConnection, session_id: str) -> None:
    """Serialise seat counting for one session: a row lock on PostgreSQL. SQLite needs none,
    since every transaction there is BEGIN IMMEDIATE, one writer at a time."""
    if conn.dialect.name != "sqlite":
        await conn.execute(_LOCK, {"session_id": session_id})


@cache
def _take_place(dialect: str, capped: bool):
    """One statement that counts the seats, picks the status and inserts the place, or does
    nothing when the person has one already (then it returns no row)."""
    now = bindparam("now", type_=registrations.c.created_at.type)
    taken = None
    if capped:
        # the confirmed seats, counted once for both the status and confirmed_at
        taken = (
            select(func.count().label("n"))
            .where(
                and_(
                    registrations.c.session_id == bindparam("session_id"),
                    registrations.c.status == CONFIRMED,
                )
            )
            .subquery("taken")
        )
        free = taken.c.n < bindparam("capacity", type_=registrations.c.id.type)
        status = case((free, CONFIRMED), else_=WAITLISTED)
        confirmed_at = case((free, now), else_=None)
    else:
        status = bindparam("following", FOLLOWING, type_=registrations.c.status.type)
        confirmed_at = now
    values = select(
        bindparam("session_id", type_=registrations.c.session_id.type),
        bindparam("person_id", type_=registrations.c.person_id.type),
        bindparam("identity_id", type_=registrations.c.identity_id.type),
        status,
        now,
        confirmed_at,
        bindparam("answers", type_=registrations.c.answers.type),
        bindparam("via", type_=registrations.c.via.type),
    )
    if taken is not None:
        values = values.select_from(taken)
    values = values.where(true())  # SQLite needs a WHERE between INSERT … SELECT and ON CONFLICT
    columns = [
        "session_id",
        "person_id",
        "identity_id",
        "status",
        "created_at",
        "confirmed_at",
        "answers",
        "via",
    ]
    # the waitlist position in the same round trip: the places ahead of the inserted row,
    # counted only when it is waitlisted. The inserted row's columns are named outright:
    # SQLAlchemy neither qualifies SQLite's RETURNING columns nor correlates a subquery
    # there. The session is a parameter, not the row's column, so that SQLite counts along
    # the (session, status, id) index instead of walking the table (half the time).
    earlier = registrations.alias("earlier")
    ahead = (
        select(func.count())
        .select_from(earlier)
        .where(
            and_(
                earlier.c.session_id == bindparam("session_id"),
                earlier.c.status == WAITLISTED,
                earlier.c.id < literal_column("registrations.id"),
            )
        )
        .scalar_subquery()
    )
    position = case((literal_column("registrations.status") == WAITLISTED, ahead + 1), else_=None)
    return Prepared(
        people.dialect_insert(dialect, registrations)
        .from_select(columns, values)
        .on_conflict_do_nothing(index_elements=["session_id", "person_id"])
        .returning(registrations.c.id, registrations.c.status, position.label("position"))
    )


# where a registrant's personal messages go: the account they registered from
_TARGETS = select(
    registrations.c.person_id,
    identities.c.id,
    identities.c.platform,
    identities.c.workspace,
    identities.c.user_id,
).join(identities, identities.c.id == registrations.c.identity_id)


async def target_of(conn: AsyncConnection, person_id: int, session_id: str) -> Target | None:
    row = (
        await conn.execute(
            _TARGETS.where(
                and_(registrations.c.person_id == person_id, registrations.c.session_id == session_id)
            )
        )
    ).first()
    return Target(*row) if row else None


async def targets(conn: AsyncConnection, session_id: str) -> list[Target]:
    """Where each registrant's personal messages for a session go, in registration order."""
    rows = await conn.execute(
        _TARGETS.where(registrations.c.session_id == session_id).order_by(registrations.c.id)
    )
    return [Target(*row) for row in rows]


_AHEAD = select(func.count()).where(
    and_(
        registrations.c.session_id == bindparam("session_id"),
        registrations.c.status == WAITLISTED,
        registrations.c.id < bindparam("registration_id"),
    )
)


async def position(conn: AsyncConnection, session_id: str, registration_id: int) -> int:
    ahead = (
        await conn.execute(_AHEAD, {"session_id": session_id, "registration_id": registration_id})
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


async def answers_of(conn: AsyncConnection, identity: Identity, session_id: str) -> dict[str, str] | None:
    """A person's answers to a session's questions, if they registered."""
    account = await people.find(conn, identity)
    if account is None:
        return None
    row = (
        await conn.execute(
            select(registrations.c.answers).where(
                and_(registrations.c.person_id == account.person_id, registrations.c.session_id == session_id)
            )
        )
    ).first()
    return json.loads(row.answers) if row and row.answers else None


async def register(
    conn: AsyncConnection,
    program: Program,
    identity: Identity,
    session_id: str,
    now: datetime,
    answers: dict[str, str] | None = None,
    via: str | None = None,
) -> Standing:
    """A seat, a waitlist place or a follow; the standing they had when they had one. With
    ``answers``, a registration already held gets its answers replaced (judged complete by the
    caller before any seat is taken).

    ``via`` marks a place taken by a platform gesture rather than a command (see
    ``follow_via``); a command (``via=None``) on a place held that way makes it the person's
    own, so that undoing the gesture no longer cancels it.

    A newcomer's seat or waitlist place takes five statements on SQLite (find, person,
    identity, the place with its seat count and waitlist position, the reminders), a known
    person's three; on PostgreSQL one more, the session's row lock. The hot ones are
    :class:`Prepared`. Concurrent registrations share a transaction: see
    ``Database.grouped``."""
    session = session_or_raise(program, session_id)
    if session.cancelled:
        raise SessionCancelled(session)
    # the session's lock before the account's rows: the order every registration takes, so
    # that a group (which holds the session while it creates the next person) and a lone
    # registration (which creates its person, then asks for the session) never deadlock
    await lock_session(conn, session.id)
    account = await people.resolve(conn, identity, now)
    if not session.accepts_registration(now):
        existing = await standing(conn, account.person_id, session.id)
        if existing is not None:
            return Standing(
                existing.session_id, existing.status, existing.position, already=True, prefs=account.prefs
            )
        raise RegistrationError(closed_message(session))
    placed = await _take_place(conn.dialect.name, session.capped).rows(
        conn,
        {
            "session_id": session.id,
            "person_id": account.person_id,
            "identity_id": account.identity_id,
            "capacity": session.capacity or 0,
            "now": now,
            "answers": json.dumps(answers, ensure_ascii=False) if answers is not None else None,
            "via": via,
        },
    )
    if not placed:  # registered already: their standing, unchanged; new answers kept
        kept: dict[str, object] = {}
        if via is None:
            kept["via"] = None  # asked for in so many words: no longer the gesture's to undo
        if answers is not None:
            kept["answers"] = json.dumps(answers, ensure_ascii=False)
        if kept:
            await conn.execute(
                update(registrations)
                .where(
                    and_(
                        registrations.c.person_id == account.person_id,
                        registrations.c.session_id == session.id,
                    )
                )
                .values(**kept)
            )
        existing = await standing(conn, account.person_id, session.id)
        assert existing is not None
        return Standing(
            existing.session_id, existing.status, existing.position, already=True, prefs=account.prefs
        )
    _registration_id, status, pos = placed[0]
    target = Target(
        account.person_id, account.identity_id, identity.platform, identity.workspace, identity.user_id
    )
    dues = await outbox.plan_reminders(
        conn, target, session.id, session.starts_at, program.reminders.offsets, now
    )
    return Standing(session.id, status, pos, first_due=min(dues, default=None), prefs=account.prefs)


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


async def cancel_via(
    conn: AsyncConnection, program: Program, identity: Identity, session_id: str, now: datetime, via: str
) -> Cancellation:
    """Cancel the person's place only if ``via`` made it: a place asked for by a command
    (or made by another gesture) stays."""
    session = session_or_raise(program, session_id)
    account = await people.find(conn, identity)
    if account is None:
        return Cancellation(session.id, None)
    await lock_session(conn, session.id)
    if not await made_via(conn, account.person_id, session.id, via):
        return Cancellation(session.id, None)
    return await cancel_person(conn, program, account.person_id, session, now)


async def made_via(conn: AsyncConnection, person_id: int, session_id: str, via: str) -> bool:
    """Whether the person's place in the session was made by the gesture ``via``."""
    made = (
        await conn.execute(
            select(registrations.c.via).where(
                and_(registrations.c.person_id == person_id, registrations.c.session_id == session_id)
            )
        )
    ).first()
    return made is not None and made.via == via


@dataclass(frozen=True, slots=True)
class Held:
    """An account on one platform whose person holds a place in a session, and how it was made."""

    user_id: str
    person_id: int
    via: str | None


async def held_by_accounts(
    conn: AsyncConnection, session_id: str, platform: str, workspace: str
) -> dict[str, Held]:
    """user id -> their person's place in the session, for the accounts on one platform (a
    person who registered from another platform and linked this account counts too)."""
    rows = await conn.execute(
        select(identities.c.user_id, registrations.c.person_id, registrations.c.via)
        .select_from(registrations.join(identities, identities.c.person_id == registrations.c.person_id))
        .where(
            and_(
                registrations.c.session_id == session_id,
                identities.c.platform == platform,
                identities.c.workspace == workspace,
            )
        )
    )
    return {r.user_id: Held(r.user_id, r.person_id, r.via) for r in rows}


async def fill_seats(conn: AsyncConnection, session: Session, now: datetime) -> tuple[Promotion, ...]:
    """Promote the head of the waitlist into free seats, in the order people asked."""
    if not session.capped or session.cancelled or now >= session.ends_at:
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
        answers = json.loads(reg.answers) if reg.answers else {}
        entries.append(RosterEntry(reg.person_id, own, reg.status, pos, platforms, reg.created_at, answers))
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
