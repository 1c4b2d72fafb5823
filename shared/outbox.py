"""The durable queue of what the bot sends on its own: reminders, notices and insight posts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.identity import Reach
from shared.store.schema import identities, outbox

PENDING, SENDING, SENT, FAILED, SKIPPED = "pending", "sending", "sent", "failed", "skipped"
# PostgreSQL tells every listening dispatcher, in any process, when something is queued
CHANNEL = "roundtable_outbox"
PERSONAL_KINDS = ("reminder", "promotion", "moved", "announcement", "cancelled", "feedback")


@dataclass(frozen=True, slots=True)
class Target:
    """Where a personal message goes: the account the person registered from."""

    person_id: int
    identity_id: int
    platform: str
    workspace: str
    user_id: str


def _values(
    kind: str, target: Target, session_id: str | None, due_at: datetime, now: datetime, **extra: Any
) -> dict[str, Any]:
    return {
        "kind": kind,
        "session_id": session_id,
        "person_id": target.person_id,
        "identity_id": target.identity_id,
        "platform": target.platform,
        "workspace": target.workspace,
        "recipient": target.user_id,
        "due_at": due_at,
        "state": PENDING,
        "attempts": 0,
        "created_at": now,
        **extra,
    }


# every dispatcher looks at the queue again within this (its RECHECK), so a message due
# later needs no NOTIFY: one round trip fewer for nearly every registration
ANNOUNCE_HORIZON = timedelta(minutes=5)


_PLAN = insert(outbox)  # built once: its compiled form is cached


async def plan_reminders(
    conn: AsyncConnection,
    target: Target,
    session_id: str,
    starts_at: datetime,
    offsets: Iterable[timedelta],
    now: datetime,
) -> list[datetime]:
    """One reminder per offset whose time is still ahead; returns their due times."""
    rows = [
        _values("reminder", target, session_id, starts_at - o, now, offset_seconds=int(o.total_seconds()))
        for o in offsets
        if starts_at - o > now
    ]
    if rows:
        await conn.execute(_PLAN, rows)
        if min(r["due_at"] for r in rows) <= now + ANNOUNCE_HORIZON:
            # due before every dispatcher's next look anyway: wake the other processes
            await _announce(conn)
    return [r["due_at"] for r in rows]


async def enqueue_notice(
    conn: AsyncConnection,
    kind: str,
    target: Target,
    session_id: str | None,
    now: datetime,
    body: str | None = None,
) -> None:
    await conn.execute(insert(outbox).values(**_values(kind, target, session_id, now, now, body=body)))
    await _announce(conn)


async def enqueue_insight(
    conn: AsyncConnection, insight_id: int, platform: str, channel: str, now: datetime
) -> None:
    await conn.execute(
        insert(outbox).values(
            kind="insight",
            insight_id=insight_id,
            platform=platform,
            workspace=None,
            recipient=channel,
            due_at=now,
            state=PENDING,
            attempts=0,
            created_at=now,
        )
    )
    await _announce(conn)


async def _announce(conn: AsyncConnection) -> None:
    """Wake the dispatchers of other processes; PostgreSQL delivers it on commit, once."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_notify(CHANNEL, "")))


async def drop_pending(conn: AsyncConnection, person_id: int, session_id: str, kinds=("reminder",)) -> int:
    """Remove a person's pending messages for a session (on cancel or re-plan)."""
    result = await conn.execute(
        delete(outbox).where(
            and_(
                outbox.c.person_id == person_id,
                outbox.c.session_id == session_id,
                outbox.c.state == PENDING,
                outbox.c.kind.in_(kinds),
            )
        )
    )
    return result.rowcount or 0


def reach_filter(reaches: list[Reach]):
    clauses = []
    for reach in reaches:
        parts = [outbox.c.platform == reach.platform]
        if reach.workspace is not None:
            parts.append(or_(outbox.c.workspace.is_(None), outbox.c.workspace == reach.workspace))
        if reach.user_id is not None:
            parts.append(outbox.c.recipient == reach.user_id)
        clauses.append(and_(*parts))
    return or_(*clauses) if clauses else None


def _claimable(now: datetime):
    """Due and pending; of one registration's overdue reminders only the latest is claimable,
    so that after downtime a person gets one message, even with several dispatchers."""
    sibling = outbox.alias("sibling")
    later_due = (
        select(sibling.c.id)
        .where(
            and_(
                sibling.c.kind == "reminder",
                sibling.c.person_id == outbox.c.person_id,
                sibling.c.session_id == outbox.c.session_id,
                sibling.c.due_at > outbox.c.due_at,
                sibling.c.due_at <= now,
                sibling.c.state != SKIPPED,
            )
        )
        .exists()
    )
    return and_(
        outbox.c.state == PENDING, outbox.c.due_at <= now, or_(outbox.c.kind != "reminder", ~later_due)
    )


async def claim(
    conn: AsyncConnection, reaches: list[Reach], now: datetime, limit: int, claimer: str
) -> list[Row]:
    """Mark up to ``limit`` due messages as ours; other dispatchers skip the locked rows."""
    where = reach_filter(reaches)
    if where is None:
        return []
    # a materialised CTE runs the locking SELECT once; as a plain IN (subquery) PostgreSQL
    # may re-run it per row and claim more than ``limit`` rows
    due = (
        select(outbox.c.id)
        .where(and_(_claimable(now), where))
        .order_by(outbox.c.due_at, outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
        .prefix_with("MATERIALIZED")
    )
    result = await conn.execute(
        update(outbox)
        .where(and_(outbox.c.id.in_(select(due.c.id)), outbox.c.state == PENDING))
        .values(state=SENDING, claimed_by=claimer, claimed_at=now, attempts=outbox.c.attempts + 1)
        .returning(*outbox.c)
    )
    rows = sorted(result.fetchall(), key=lambda r: (r.due_at, r.id))
    for row in rows:
        if row.kind == "reminder":
            await _skip_earlier(conn, row, now)
    return rows


async def finish(
    conn: AsyncConnection,
    row_id: int,
    claimer: str,
    state: str,
    now: datetime,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    await conn.execute(
        update(outbox)
        .where(and_(outbox.c.id == row_id, outbox.c.claimed_by == claimer, outbox.c.state == SENDING))
        .values(state=state, reason=reason, detail=(detail or None) and detail[:500], finished_at=now)
    )


async def release(conn: AsyncConnection, row_ids: list[int], claimer: str) -> None:
    """Hand back messages we claimed but never started to send."""
    if row_ids:
        await conn.execute(
            update(outbox)
            .where(and_(outbox.c.id.in_(row_ids), outbox.c.claimed_by == claimer, outbox.c.state == SENDING))
            .values(state=PENDING, claimed_by=None, claimed_at=None, attempts=outbox.c.attempts - 1)
        )


async def expire_stale(conn: AsyncConnection, now: datetime, lease: timedelta) -> int:
    """A claim older than the lease belongs to a dispatcher that died mid-send.

    Whether the platform got it is unknown, so it is not sent again (at most once).
    """
    result = await conn.execute(
        update(outbox)
        .where(and_(outbox.c.state == SENDING, outbox.c.claimed_at < now - lease))
        .values(state=FAILED, reason="interrupted", detail="the sender stopped mid-send", finished_at=now)
    )
    return result.rowcount or 0


async def _skip_earlier(conn: AsyncConnection, row: Row, now: datetime) -> None:
    """The reminders of the same registration that this one supersedes."""
    await conn.execute(
        update(outbox)
        .where(
            and_(
                outbox.c.kind == "reminder",
                outbox.c.state == PENDING,
                outbox.c.person_id == row.person_id,
                outbox.c.session_id == row.session_id,
                outbox.c.due_at < row.due_at,
            )
        )
        .values(state=SKIPPED, reason="superseded", finished_at=now)
    )


async def next_due(conn: AsyncConnection, reaches: list[Reach], now: datetime) -> datetime | None:
    """The earliest time something is claimable: now if a message is due, else the next due time."""
    where = reach_filter(reaches)
    if where is None:
        return None
    if (await conn.execute(select(outbox.c.id).where(and_(_claimable(now), where)).limit(1))).first():
        return now
    later = and_(outbox.c.state == PENDING, outbox.c.due_at > now, where)
    return (await conn.execute(select(func.min(outbox.c.due_at)).where(later))).scalar()


@dataclass(frozen=True, slots=True)
class Entry:
    """A queued message as organizers see it."""

    id: int
    kind: str
    session_id: str | None
    to: str  # the person's name, or the channel id of an insight post
    platform: str
    due_at: datetime
    offset_seconds: int | None
    state: str
    reason: str | None
    detail: str | None
    attempts: int
    finished_at: datetime | None


async def listing(conn: AsyncConnection, limit: int, state: str | None = None) -> list[Entry]:
    """Queued messages in due order, with the names of the people they go to."""
    query = (
        select(outbox, identities.c.display_name)
        .select_from(outbox.outerjoin(identities, identities.c.id == outbox.c.identity_id))
        .order_by(outbox.c.due_at, outbox.c.id)
        .limit(limit)
    )
    if state:
        query = query.where(outbox.c.state == state)
    return [
        Entry(
            r.id,
            r.kind,
            r.session_id,
            f"channel {r.recipient}" if r.kind == "insight" else (r.display_name or r.recipient),
            r.platform,
            r.due_at,
            r.offset_seconds,
            r.state,
            r.reason,
            r.detail,
            r.attempts,
            r.finished_at,
        )
        for r in await conn.execute(query)
    ]


async def counts(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state))
    return {state: n for state, n in rows}
