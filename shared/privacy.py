"""Each person's control over their data: erasure (``/forgetme``), its tallies and its record.

Everything one erasure removes goes in the caller's one transaction: a person is erased
whole or not at all.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import marks as mark_rows
from shared import outbox, people, registrations
from shared.identity import Identity
from shared.program import Program
from shared.registrations import Promotion
from shared.store.schema import erasures, feedback, identities, insights, link_codes, marks, sessions, tallies
from shared.store.schema import outbox as outbox_table
from shared.store.schema import people as people_table
from shared.store.schema import registrations as registrations_table


@dataclass(frozen=True, slots=True)
class Erased:
    """What one erasure removed, in counts; ``posts_left`` are channel posts the bot could not
    take down, by platform."""

    accounts: int = 0
    registrations: int = 0
    insights: int = 0
    messages: int = 0
    feedback: int = 0
    promoted: tuple[Promotion, ...] = ()
    posts_left: dict[str, int] = field(default_factory=dict)
    posts_removed: int = 0  # queued to be taken down

    @property
    def anything(self) -> bool:
        return bool(self.accounts)


async def person_of(conn: AsyncConnection, identity: Identity) -> int | None:
    account = await people.find(conn, identity)
    return account.person_id if account else None


async def find_account(conn: AsyncConnection, platform: str, user_id: str) -> list[int]:
    """The people behind ``user_id`` on ``platform``, in any workspace (for organizers)."""
    rows = await conn.execute(
        select(identities.c.person_id)
        .where(identities.c.platform == platform, identities.c.user_id == user_id)
        .distinct()
    )
    return [r[0] for r in rows]


async def tally(conn: AsyncConnection, kind: str, key: str, n: int) -> None:
    """Add ``n`` to a count that outlives the rows it counts."""
    if n <= 0:
        return
    insert_ = people.on_conflict_do_nothing(conn, tallies, ["kind", "key"])
    await conn.execute(insert_.values(kind=kind, key=key, count=0))
    await conn.execute(
        update(tallies).where(tallies.c.kind == kind, tallies.c.key == key).values(count=tallies.c.count + n)
    )


async def tallied(conn: AsyncConnection, kind: str) -> dict[str, int]:
    rows = await conn.execute(select(tallies.c.key, tallies.c.count).where(tallies.c.kind == kind))
    return {key: n for key, n in rows}


async def forget(
    conn: AsyncConnection, program: Program, person_id: int, now: datetime, *, via: str
) -> Erased:
    """Erase one person, across their linked accounts; seats they free go to the waitlist."""
    # every session first, in id order as registrations and program sync lock them: a
    # registration in flight either commits before we look, or waits and then finds nobody
    await conn.execute(select(sessions.c.id).order_by(sessions.c.id).with_for_update())
    identity_ids = list(
        (
            await conn.execute(
                select(identities.c.id).where(identities.c.person_id == person_id).with_for_update()
            )
        ).scalars()
    )
    if not identity_ids:
        return Erased()
    # seats first, session by session in id order (the order registrations lock them in)
    held = (
        (
            await conn.execute(
                select(registrations_table.c.session_id)
                .where(registrations_table.c.person_id == person_id)
                .order_by(registrations_table.c.session_id)
            )
        )
        .scalars()
        .all()
    )
    mine = or_(outbox_table.c.person_id == person_id, outbox_table.c.identity_id.in_(identity_ids))
    # counted before the seats go: giving a seat back drops its pending reminders on the way
    messages = (await conn.execute(select(func.count()).select_from(outbox_table).where(mine))).scalar_one()
    promoted: list[Promotion] = []
    for session_id in held:
        session = program.session(session_id)
        if session is None:
            await conn.execute(
                delete(registrations_table).where(
                    registrations_table.c.person_id == person_id,
                    registrations_table.c.session_id == session_id,
                )
            )
            continue
        promoted += (await registrations.cancel_person(conn, program, person_id, session, now)).promoted

    # the insights: the counts stay, by theme; their channel posts are queued to be taken
    # down in this same transaction (an "unpost" names only the channel and the post), so
    # a crash after the commit loses none; posts made before refs were kept are recorded
    posts = (
        await conn.execute(
            select(outbox_table.c.platform, outbox_table.c.recipient, outbox_table.c.ref)
            .select_from(outbox_table.join(insights, insights.c.id == outbox_table.c.insight_id))
            .where(
                insights.c.person_id == person_id,
                # a post in flight, or whose fate is unknown, may be on the platform without
                # its reference here: counted as left, to be safe
                or_(
                    outbox_table.c.state.in_((outbox.SENT, outbox.SENDING)),
                    (outbox_table.c.state == outbox.PENDING) & outbox_table.c.unsure,
                ),
            )
            .order_by(outbox_table.c.id)
        )
    ).fetchall()
    unposts = await outbox.enqueue_unposts(
        conn, [(p.platform, p.recipient, p.ref) for p in posts if p.ref], now
    )
    posts_left = dict(Counter(p.platform for p in posts if not p.ref))
    by_theme = Counter(
        (await conn.execute(select(insights.c.theme_id).where(insights.c.person_id == person_id))).scalars()
    )
    for theme_id, n in by_theme.items():
        await tally(conn, "insights", theme_id, n)
    # insight posts in the queue go with their insight (ON DELETE CASCADE)
    await conn.execute(delete(insights).where(insights.c.person_id == person_id))

    await conn.execute(delete(outbox_table).where(mine))
    # ratings stay as counts, naming nobody
    for session_id, rating in (
        await conn.execute(
            select(feedback.c.session_id, feedback.c.rating).where(feedback.c.person_id == person_id)
        )
    ).fetchall():
        await tally(conn, f"rating:{rating}", session_id, 1)
    rated = (await conn.execute(delete(feedback).where(feedback.c.person_id == person_id))).rowcount or 0
    await conn.execute(delete(link_codes).where(link_codes.c.identity_id.in_(identity_ids)))
    # the marks acted on stay: a fingerprint naming nobody, which keeps a re-sync from
    # following the forgotten person again while their mark is still on the event
    await conn.execute(delete(identities).where(identities.c.id.in_(identity_ids)))
    await conn.execute(delete(people_table).where(people_table.c.id == person_id))

    erased = Erased(
        accounts=len(identity_ids),
        registrations=len(held),
        insights=sum(by_theme.values()),
        messages=messages,
        feedback=rated,
        promoted=tuple(promoted),
        posts_left=posts_left,
        posts_removed=unposts,
    )
    await record(conn, now, via, erased)
    return erased


async def record(conn: AsyncConnection, now: datetime, via: str, erased: Erased) -> None:
    summary = {
        "accounts": erased.accounts,
        "registrations": erased.registrations,
        "insights": erased.insights,
        "messages": erased.messages,
        "feedback": erased.feedback,
        "promoted": len(erased.promoted),
        "channel_posts_left": erased.posts_left,
        "channel_posts_taken_down": erased.posts_removed,
    }
    await conn.execute(insert(erasures).values(at=now, via=via, summary=json.dumps(summary, sort_keys=True)))


async def preview(conn: AsyncConnection, person_id: int) -> Erased:
    """What :func:`forget` would remove, in counts, without removing it."""

    async def count(table, *where) -> int:
        return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()

    return Erased(
        accounts=await count(identities, identities.c.person_id == person_id),
        registrations=await count(registrations_table, registrations_table.c.person_id == person_id),
        insights=await count(insights, insights.c.person_id == person_id),
        messages=await count(outbox_table, outbox_table.c.person_id == person_id),
        feedback=await count(feedback, feedback.c.person_id == person_id),
    )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


async def export(conn: AsyncConnection, person_id: int) -> dict:
    """Everything stored about a person, across their linked accounts (GDPR Art. 15)."""
    person = (await conn.execute(select(people_table).where(people_table.c.id == person_id))).first()
    accounts = (
        await conn.execute(
            select(identities).where(identities.c.person_id == person_id).order_by(identities.c.id)
        )
    ).fetchall()
    regs = (
        await conn.execute(
            select(registrations_table)
            .where(registrations_table.c.person_id == person_id)
            .order_by(registrations_table.c.id)
        )
    ).fetchall()
    registered = []
    for reg in regs:
        position = (
            await registrations.position(conn, reg.session_id, reg.id)
            if reg.status == registrations.WAITLISTED
            else None
        )
        registered.append(
            {
                "session": reg.session_id,
                "status": reg.status,
                "waitlist_position": position,
                "registered_at": _iso(reg.created_at),
                "confirmed_at": _iso(reg.confirmed_at),
                # made by a command, or by a gesture on a platform ("interested": an event's mark)
                "made_by": reg.via or "command",
            }
        )
    shared = (
        await conn.execute(
            select(insights).where(insights.c.person_id == person_id).order_by(insights.c.created_at)
        )
    ).fetchall()
    identity_ids = [a.id for a in accounts]
    mine = or_(outbox_table.c.person_id == person_id, outbox_table.c.identity_id.in_(identity_ids))
    messages = (
        await conn.execute(
            select(outbox_table).where(mine).order_by(outbox_table.c.due_at, outbox_table.c.id)
        )
    ).fetchall()
    rated = (
        await conn.execute(select(feedback).where(feedback.c.person_id == person_id).order_by(feedback.c.id))
    ).fetchall()
    marked = await mark_rows.of_accounts(conn, [(a.platform, a.workspace, a.user_id) for a in accounts])
    return {
        "feedback": [
            {"session": f.session_id, "rating": f.rating, "lesson": f.text, "at": _iso(f.created_at)}
            for f in rated
        ],
        "person": {"name": person.display_name, "since": _iso(person.created_at)} if person else None,
        "accounts": [
            {
                "platform": a.platform,
                "workspace": a.workspace,
                "user_id": a.user_id,
                "name": a.display_name,
                "since": _iso(a.created_at),
            }
            for a in accounts
        ],
        "registrations": registered,
        # platform gestures the bot acted on ("interested": a mark on a session's event)
        "marks": [{"session": m.session_id, "kind": m.via, "at": _iso(m.created_at)} for m in marked],
        "insights": [
            {
                "theme": i.theme_id,
                "text": i.text,
                "city": i.city,
                "anonymous": i.anonymous,
                "shared_from": i.platform,
                "shared_at": _iso(i.created_at),
            }
            for i in shared
        ],
        "messages": [
            {
                "kind": m.kind,
                "session": m.session_id,
                "platform": m.platform,
                "due_at": _iso(m.due_at),
                "state": m.state,
                "reason": m.reason,
                "text": m.body,
                "finished_at": _iso(m.finished_at),
            }
            for m in messages
        ],
    }


@dataclass(frozen=True, slots=True)
class Purged:
    """What one retention run removed: sessions past their retention, rows and people."""

    sessions: tuple[str, ...] = ()
    registrations: int = 0
    messages: int = 0
    people: int = 0


async def purge(conn: AsyncConnection, now: datetime, days: int) -> Purged:
    """Remove the personal data of sessions that ended more than ``days`` ago; keep counts.

    People left with nothing (no registration, no insight) and older than the retention go too.
    Insights are not tied to a session: they stay until their author erases them.
    """
    cutoff = now - timedelta(days=days)
    old = list(
        (
            await conn.execute(
                select(sessions.c.id)
                .where(sessions.c.ends_at < cutoff)
                .order_by(sessions.c.id)
                .with_for_update()
            )
        ).scalars()
    )
    removed = messages = 0
    for session_id in old:
        counts = await conn.execute(
            select(registrations_table.c.status, func.count())
            .where(registrations_table.c.session_id == session_id)
            .group_by(registrations_table.c.status)
        )
        for status, n in counts:
            await tally(conn, status, session_id, n)
            removed += n
        messages += (
            await conn.execute(
                delete(outbox_table).where(
                    outbox_table.c.session_id == session_id, outbox_table.c.kind != "insight"
                )
            )
        ).rowcount or 0
        await conn.execute(delete(registrations_table).where(registrations_table.c.session_id == session_id))
        await conn.execute(delete(marks).where(marks.c.session_id == session_id))
        ratings = await conn.execute(
            select(feedback.c.rating, func.count())
            .where(feedback.c.session_id == session_id)
            .group_by(feedback.c.rating)
        )
        for rating, n in ratings.fetchall():
            await tally(conn, f"rating:{rating}", session_id, n)
        removed += (
            await conn.execute(delete(feedback).where(feedback.c.session_id == session_id))
        ).rowcount or 0
    idle = (
        select(people_table.c.id)
        .where(
            people_table.c.created_at < cutoff,
            ~select(registrations_table.c.id)
            .where(registrations_table.c.person_id == people_table.c.id)
            .exists(),
            ~select(insights.c.id).where(insights.c.person_id == people_table.c.id).exists(),
        )
        .with_for_update()
    )
    gone = 0
    for person_id in list((await conn.execute(idle)).scalars()):
        ids = list(
            (await conn.execute(select(identities.c.id).where(identities.c.person_id == person_id))).scalars()
        )
        mine = or_(outbox_table.c.person_id == person_id, outbox_table.c.identity_id.in_(ids))
        messages += (await conn.execute(delete(outbox_table).where(mine))).rowcount or 0
        await conn.execute(delete(link_codes).where(link_codes.c.identity_id.in_(ids)))
        await conn.execute(delete(identities).where(identities.c.person_id == person_id))
        await conn.execute(delete(people_table).where(people_table.c.id == person_id))
        gone += 1
    # expired link codes name an account for nothing
    await conn.execute(delete(link_codes).where(link_codes.c.expires_at < now))
    purged = Purged(tuple(old) if removed or messages else (), removed, messages, gone)
    if removed or messages or gone:
        summary = {
            "sessions": list(purged.sessions),
            "registrations": removed,
            "messages": messages,
            "people": gone,
        }
        await conn.execute(
            insert(erasures).values(at=now, via="retention", summary=json.dumps(summary, sort_keys=True))
        )
    return purged
