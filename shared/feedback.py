"""Feedback after a session: one rating from 1 to 5 and, if the person wants, one lesson."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import people, registrations
from shared.errors import Refusal
from shared.identity import Identity
from shared.program import Program, Session
from shared.store.schema import feedback

MAX_TEXT = 500


class FeedbackError(Refusal):
    field = "rating"


@dataclass(frozen=True, slots=True)
class Rated:
    session_id: str
    rating: int
    text: str | None
    again: bool  # they had rated it before; this replaced it


def rating_of(typed: str) -> int | None:
    typed = typed.strip()
    return int(typed) if typed in ("1", "2", "3", "4", "5") else None


async def give(
    conn: AsyncConnection,
    session: Session,
    identity: Identity,
    rating: int,
    text: str | None,
    now: datetime,
    *,
    not_held: str,
) -> Rated:
    """Store (or replace) a person's rating; ``text`` None keeps an earlier lesson."""
    account = await people.find(conn, identity)
    place = await registrations.standing(conn, account.person_id, session.id) if account else None
    if account is None or place is None or place.status == registrations.WAITLISTED:
        raise FeedbackError(not_held, "session")
    where = and_(feedback.c.session_id == session.id, feedback.c.person_id == account.person_id)
    existing = (await conn.execute(select(feedback.c.id, feedback.c.text).where(where))).first()
    if existing is not None:
        values: dict = {"rating": rating, "created_at": now}
        if text is not None:
            values["text"] = text or None
        await conn.execute(update(feedback).where(where).values(**values))
        kept = text if text is not None else existing.text
        return Rated(session.id, rating, kept or None, again=True)
    await conn.execute(
        feedback.insert().values(
            session_id=session.id,
            person_id=account.person_id,
            rating=rating,
            text=text or None,
            created_at=now,
        )
    )
    return Rated(session.id, rating, text or None, again=False)


@dataclass(frozen=True, slots=True)
class Summary:
    session_id: str
    counts: dict[int, int]  # rating -> how many
    comments: list[str]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def average(self) -> float | None:
        return sum(r * n for r, n in self.counts.items()) / self.total if self.total else None


async def summaries(conn: AsyncConnection, program: Program, session_id: str | None) -> list[Summary]:
    """The distribution and the comments of each session, naming nobody."""
    from shared import privacy

    result = []
    for session in program.sessions:
        if session_id and session.id != session_id:
            continue
        rows = (
            await conn.execute(
                select(feedback.c.rating, feedback.c.text)
                .where(feedback.c.session_id == session.id)
                .order_by(feedback.c.created_at, feedback.c.id)
            )
        ).fetchall()
        counts = {n: 0 for n in range(1, 6)}
        for row in rows:
            counts[row.rating] += 1
        # ratings purged after the retention period stay as counts
        for rating in range(1, 6):
            counts[rating] += (await privacy.tallied(conn, f"rating:{rating}")).get(session.id, 0)
        result.append(Summary(session.id, counts, [r.text for r in rows if r.text]))
    return result


async def ask(conn: AsyncConnection, program: Program, now: datetime, within) -> int:
    """Queue one request for feedback per person who held a seat in or followed each session
    that ended (within ``within``); each session's people are asked once, by one process."""
    from shared import outbox
    from shared.store.schema import sessions

    ended = [s.id for s in program.sessions if not s.cancelled and s.ends_at <= now < s.ends_at + within]
    if not ended:
        return 0
    due = list(
        (
            await conn.execute(
                select(sessions.c.id)
                .where(and_(sessions.c.id.in_(ended), sessions.c.feedback_asked.is_(False)))
                .order_by(sessions.c.id)
                .with_for_update()
            )
        ).scalars()
    )
    asked = 0
    for session_id in due:
        await conn.execute(update(sessions).where(sessions.c.id == session_id).values(feedback_asked=True))
        for target in await registrations.targets(conn, session_id):
            # people who only waited are skipped at send time, with a reason
            await outbox.enqueue_notice(conn, "feedback", target, session_id, now)
            asked += 1
    return asked


def next_end(program: Program, now: datetime) -> datetime | None:
    """When the next session ends: the moment to ask for feedback next."""
    return min((s.ends_at for s in program.sessions if s.ends_at > now and not s.cancelled), default=None)
