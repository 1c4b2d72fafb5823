"""The durable queue of what the bot sends on its own: reminders, notices and insight posts."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.identity import Reach
from shared.store.prepared import Prepared
from shared.store.schema import erasures, identities, outbox, people, registrations

PENDING, SENDING, SENT, FAILED, SKIPPED = "pending", "sending", "sent", "failed", "skipped"
# PostgreSQL tells every listening dispatcher, in any process, when something is queued
CHANNEL = "roundtable_outbox"
PERSONAL_KINDS = ("reminder", "promotion", "moved", "announcement", "cancelled", "feedback")
# fan-outs and posts wait behind personal messages that are due
LOW_PRIORITY_KINDS = ("announcement", "insight", "unpost")
WAITLISTED = "waitlisted"
# a claim is a lease of a few seconds, renewed while sending
LEASE = timedelta(seconds=15)


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
        "priority": 1 if kind in LOW_PRIORITY_KINDS else 0,
        "created_at": now,
        **extra,
    }


# every dispatcher looks at the queue again within this (its RECHECK), so a message due
# later needs no NOTIFY: one round trip fewer for nearly every registration
ANNOUNCE_HORIZON = timedelta(minutes=5)


_PLAN = Prepared(insert(outbox))  # built and compiled once


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
        await _PLAN.many(conn, rows)
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
            priority=1,
            created_at=now,
        )
    )
    await _announce(conn)


async def enqueue_unposts(conn: AsyncConnection, posts: Iterable[tuple[str, str, str]], now: datetime) -> int:
    """Queue the taking down of channel posts, each (platform, channel, ref): a row names
    only where the post is, never whom it was for."""
    rows = [
        {
            "kind": "unpost",
            "platform": platform,
            "workspace": None,
            "recipient": channel,
            "ref": ref,
            "due_at": now,
            "state": PENDING,
            "attempts": 0,
            "priority": 1,
            "created_at": now,
        }
        for platform, channel, ref in posts
    ]
    if rows:
        await conn.execute(insert(outbox), rows)
        await _announce(conn)
    return len(rows)


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


def reach_filter(reaches: list[Reach], table=outbox):
    clauses = []
    for reach in reaches:
        parts = [table.c.platform == reach.platform]
        if reach.workspace is not None:
            parts.append(or_(table.c.workspace.is_(None), table.c.workspace == reach.workspace))
        if reach.user_id is not None:
            parts.append(table.c.recipient == reach.user_id)
        clauses.append(and_(*parts))
    return or_(*clauses) if clauses else None


def _by_platform(reaches: list[Reach]) -> dict[str, list[Reach]]:
    grouped: dict[str, list[Reach]] = {}
    for reach in reaches:
        grouped.setdefault(reach.platform, []).append(reach)
    return grouped


async def skip_superseded(
    conn: AsyncConnection, platform: str, now: datetime, since: datetime | None = None
) -> int:
    """Of one registration's overdue reminders only the latest is sent: after downtime a person
    gets one message. One set-based statement, driven by the reminders that fell due after
    ``since`` (None: all of them), so its cost follows what became due, not the queue."""
    later = outbox.alias("later")
    driving = [
        later.c.state.in_((PENDING, SENDING)),
        later.c.platform == platform,
        later.c.priority == 0,
        later.c.kind == "reminder",
        later.c.due_at <= now,
    ]
    if since is not None:
        driving.append(later.c.due_at > since)
    if conn.dialect.name == "sqlite":
        # SQLite drives from the reminders that fell due (the range), then looks up their
        # registration's earlier ones by index, then updates those rows by rowid; a
        # ``state = 'pending'`` test on the updated table would make it scan every pending row
        earlier = outbox.alias("earlier")
        superseded = (
            select(earlier.c.id)
            .select_from(
                later.join(
                    earlier,
                    and_(
                        earlier.c.person_id == later.c.person_id,
                        earlier.c.session_id == later.c.session_id,
                        earlier.c.kind == "reminder",
                        earlier.c.state == PENDING,
                        earlier.c.due_at < later.c.due_at,
                    ),
                )
            )
            .where(and_(*driving))
        )
        result = await conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(superseded))
            .values(state=SKIPPED, reason="superseded", finished_at=now)
        )
        return result.rowcount or 0
    # PostgreSQL: each registration whose latest reminder fell due drives an index lookup of
    # its earlier ones (UPDATE … FROM); an IN (subquery) may become a semi-join over the table
    latest = (
        select(later.c.person_id, later.c.session_id, func.max(later.c.due_at).label("latest"))
        .where(and_(*driving))
        .group_by(later.c.person_id, later.c.session_id)
        .subquery("latest")
    )
    result = await conn.execute(
        update(outbox)
        .where(
            and_(
                outbox.c.person_id == latest.c.person_id,
                outbox.c.session_id == latest.c.session_id,
                outbox.c.kind == "reminder",
                outbox.c.state == PENDING,
                outbox.c.due_at < latest.c.latest,
            )
        )
        .values(state=SKIPPED, reason="superseded", finished_at=now)
    )
    return result.rowcount or 0


def _position():
    """A waitlisted registration's place (1 is next), computed in the claim's own query."""
    ahead = registrations.alias("ahead")
    count = (
        select(func.count())
        .where(
            and_(
                ahead.c.session_id == registrations.c.session_id,
                ahead.c.status == WAITLISTED,
                ahead.c.id < registrations.c.id,
            )
        )
        .scalar_subquery()
    )
    return case((registrations.c.status == WAITLISTED, count + 1), else_=None)


async def claim(
    conn: AsyncConnection,
    reaches: list[Reach],
    now: datetime,
    limit: int,
    claimer: str,
    lease: timedelta = LEASE,
) -> list[Row]:
    """Lease up to ``limit`` due messages: personal ones first, then announcements and posts.

    Other dispatchers skip the locked rows. The rows come back with what a send needs:
    the recipient's account (``to_*``) and the registration's standing (``reg_*``).
    """
    ids: list[int] = []
    for platform, group in _by_platform(reaches).items():
        where = reach_filter(group)
        for priority in (0, 1):
            want = limit - len(ids)
            if want <= 0:
                break
            # a materialised CTE runs the locking SELECT once; as a plain IN (subquery)
            # PostgreSQL may re-run it per row and claim more than ``limit`` rows
            due = (
                select(outbox.c.id)
                .where(
                    and_(
                        outbox.c.state == PENDING,
                        outbox.c.platform == platform,
                        outbox.c.priority == priority,
                        outbox.c.due_at <= now,
                        where,
                    )
                )
                .order_by(outbox.c.due_at, outbox.c.id)
                .limit(want)
                .with_for_update(skip_locked=True)
                .cte("due")
                .prefix_with("MATERIALIZED")
            )
            # no state test out here: the CTE chose pending rows under a row lock (PostgreSQL)
            # or the write lock (SQLite), and on SQLite such a test scans every pending row
            result = await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(select(due.c.id)))
                .values(
                    state=SENDING,
                    claimed_by=claimer,
                    claimed_at=now,
                    lease_until=now + lease,
                    attempts=outbox.c.attempts + 1,
                )
                .returning(outbox.c.id)
            )
            ids.extend(result.scalars().all())
    if not ids:
        return []
    query = (
        select(
            outbox,
            identities.c.workspace.label("to_workspace"),
            identities.c.user_id.label("to_user"),
            identities.c.display_name.label("to_name"),
            identities.c.dm_channel.label("to_dm"),
            # the reader's zone and language: their choice, else what their platform said
            func.coalesce(people.c.zone, identities.c.zone).label("to_zone"),
            func.coalesce(people.c.locale, identities.c.locale).label("to_locale"),
            registrations.c.status.label("reg_status"),
            _position().label("reg_position"),
        )
        .select_from(
            outbox.outerjoin(identities, identities.c.id == outbox.c.identity_id)
            .outerjoin(people, people.c.id == identities.c.person_id)
            .outerjoin(
                registrations,
                and_(
                    registrations.c.person_id == outbox.c.person_id,
                    registrations.c.session_id == outbox.c.session_id,
                ),
            )
        )
        .where(outbox.c.id.in_(ids))
    )
    rows = (await conn.execute(query)).fetchall()
    return sorted(rows, key=lambda r: (r.priority, r.due_at, r.id))


@dataclass(frozen=True, slots=True)
class Result:
    """What became of one claimed row, written with the rest of its batch."""

    row_id: int
    state: str  # sent | failed | skipped, or pending: sent again at ``retry_at``
    reason: str | None = None
    detail: str | None = None
    retry_at: datetime | None = None
    unsure: bool = False  # pending again, and the platform may already have it
    counts: bool = True  # False: a rate limit, not an attempt
    identity_id: int | None = None
    dm_channel: str | None = None
    ref: str | None = None  # the platform's id of a post made
    gone: str | None = None  # an "unpost" the platform refused: its platform, for the record


async def record(conn: AsyncConnection, claimer: str, results: list[Result], now: datetime) -> None:
    """A batch's outcomes, in the caller's one transaction; rows no longer ours are left alone."""
    done = [
        {
            "rid": r.row_id,
            "new_state": r.state,
            "new_reason": r.reason,
            "new_detail": _cut(r.detail),
            "new_ref": r.ref,
        }
        for r in results
        if r.state != PENDING
    ]
    ours = and_(outbox.c.id == bindparam("rid"), outbox.c.claimed_by == claimer, outbox.c.state == SENDING)
    if done:
        await conn.execute(
            update(outbox)
            .where(ours)
            .values(
                state=bindparam("new_state"),
                reason=bindparam("new_reason"),
                detail=bindparam("new_detail"),
                # an "unpost" keeps its own ref; a post made gets the platform's
                ref=func.coalesce(bindparam("new_ref", type_=outbox.c.ref.type), outbox.c.ref),
                finished_at=now,
                lease_until=None,
            ),
            done,
        )
    # posts the platform would not take down after an erasure: recorded, naming nobody
    refused = [r for r in results if r.gone is not None]
    if refused:
        await conn.execute(
            insert(erasures),
            [
                {
                    "at": now,
                    "via": "unpost",
                    "summary": json.dumps(
                        {"channel_posts_left": {r.gone: 1}, "reason": r.reason, "detail": _cut(r.detail)},
                        sort_keys=True,
                    ),
                }
                for r in refused
            ],
        )
    again = [
        {
            "rid": r.row_id,
            "new_due": r.retry_at or now,
            "new_unsure": r.unsure,
            "new_reason": r.reason,
            "new_detail": _cut(r.detail),
            "spent": 0 if r.counts else 1,
        }
        for r in results
        if r.state == PENDING
    ]
    if again:
        await conn.execute(
            update(outbox)
            .where(ours)
            .values(
                state=PENDING,
                due_at=bindparam("new_due", type_=outbox.c.due_at.type),
                unsure=or_(outbox.c.unsure, bindparam("new_unsure")),
                reason=bindparam("new_reason"),
                detail=bindparam("new_detail"),
                attempts=outbox.c.attempts - bindparam("spent"),
                claimed_by=None,
                claimed_at=None,
                lease_until=None,
            ),
            again,
        )
    channels = [
        {"iid": r.identity_id, "channel": r.dm_channel} for r in results if r.identity_id and r.dm_channel
    ]
    if channels:
        await conn.execute(
            update(identities)
            .where(identities.c.id == bindparam("iid"))
            .values(dm_channel=bindparam("channel")),
            channels,
        )


def _cut(detail: str | None) -> str | None:
    return (detail or None) and detail[:500]


async def finish(
    conn: AsyncConnection,
    row_id: int,
    claimer: str,
    state: str,
    now: datetime,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    await record(conn, claimer, [Result(row_id, state, reason, detail)], now)


async def release(conn: AsyncConnection, row_ids: list[int], claimer: str) -> None:
    """Hand back messages we claimed but never handed to the platform."""
    if row_ids:
        await conn.execute(
            update(outbox)
            .where(and_(outbox.c.id.in_(row_ids), outbox.c.claimed_by == claimer, outbox.c.state == SENDING))
            .values(
                state=PENDING,
                claimed_by=None,
                claimed_at=None,
                lease_until=None,
                attempts=outbox.c.attempts - 1,
            )
        )


async def renew(conn: AsyncConnection, claimer: str, now: datetime, lease: timedelta = LEASE) -> int:
    """Extend the leases of everything this dispatcher is sending."""
    result = await conn.execute(
        update(outbox)
        .where(and_(outbox.c.state == SENDING, outbox.c.claimed_by == claimer))
        .values(lease_until=now + lease)
    )
    return result.rowcount or 0


async def recover(conn: AsyncConnection, now: datetime, alive: str | None = None) -> int:
    """Leases that ran out belong to a dispatcher that died (or stalled) mid-send.

    The rows go back to the queue marked ``unsure``: before sending one again, the sender
    makes sure the platform does not have it already (a key it deduplicates on, or one
    looked up in the conversation).
    """
    result = await conn.execute(
        update(outbox)
        .where(
            and_(
                outbox.c.state == SENDING,
                or_(outbox.c.lease_until < now, outbox.c.lease_until.is_(None)),
                # ``alive`` is the caller: its own claims are in flight, whatever the clock says
                or_(outbox.c.claimed_by.is_(None), outbox.c.claimed_by != (alive or "")),
            )
        )
        .values(state=PENDING, unsure=True, claimed_by=None, claimed_at=None, lease_until=None)
    )
    return result.rowcount or 0


async def next_due(conn: AsyncConnection, reaches: list[Reach], now: datetime) -> datetime | None:
    """The earliest time something is claimable: now if a message is due, else the next due time."""
    times: list[datetime] = []
    for platform, group in _by_platform(reaches).items():
        where = reach_filter(group)
        for priority in (0, 1):
            first = (
                await conn.execute(
                    select(func.min(outbox.c.due_at)).where(
                        and_(
                            outbox.c.state == PENDING,
                            outbox.c.platform == platform,
                            outbox.c.priority == priority,
                            where,
                        )
                    )
                )
            ).scalar()
            if first is not None:
                times.append(first)
    return max(min(times), now) if times else None


async def next_lease_end(conn: AsyncConnection, alive: str | None = None) -> datetime | None:
    """When the first lease of another dispatcher runs out (then its rows may be recovered)."""
    return (
        await conn.execute(
            select(func.min(outbox.c.lease_until)).where(
                and_(
                    outbox.c.state == SENDING,
                    or_(outbox.c.claimed_by.is_(None), outbox.c.claimed_by != (alive or "")),
                )
            )
        )
    ).scalar()


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
            f"channel {r.recipient}" if r.kind in ("insight", "unpost") else (r.display_name or r.recipient),
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
