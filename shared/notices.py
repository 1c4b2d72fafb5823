"""What the bot says on its own: reminders, promotions, moves, announcements, insight posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import insights, registrations
from shared.messages import Button, Field, InsightPost, Message, moment
from shared.program import Program, Session
from shared.registrations import CONFIRMED, WAITLISTED
from shared.replies import join_button, when

# a request for feedback that waited longer than this (the bot was down) is not sent
FEEDBACK_WITHIN = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Send:
    message: Message


@dataclass(frozen=True, slots=True)
class Post:
    channel: str
    post: InsightPost


@dataclass(frozen=True, slots=True)
class Unpost:
    """Take down a post the bot made (after its author's erasure)."""

    channel: str
    ref: str


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str


Prepared = Send | Post | Unpost | Skip


def _dm(text: str, *, fields=(), buttons=(), kind: str) -> Message:
    return Message(text=text, fields=tuple(fields), buttons=tuple(buttons), ephemeral=False, kind=kind)


def needs_database(row: Row) -> bool:
    """Whether ``prepare`` reads the database for this row (claimed personal rows carry it all)."""
    if row.kind == "unpost":
        return False
    return row.kind == "insight" or "reg_status" not in row._mapping


async def prepare(conn: AsyncConnection | None, program: Program, row: Row, now: datetime) -> Prepared:
    """Decide, at send time, what a queued row becomes: the state of things may have changed."""
    if row.kind == "unpost":
        return Unpost(row.recipient, row.ref) if row.ref else Skip("no_ref")
    if row.kind == "insight":
        assert conn is not None
        post = await insights.get(conn, program, row.insight_id)
        return Post(row.recipient, post) if post else Skip("insight_deleted")
    session = program.session(row.session_id or "")
    if session is None:
        return Skip("session_removed")
    if row.kind == "announcement":
        return Send(
            _dm(
                f"📣 Announcement about {session.title} ({moment(session.starts_at, 'full')})",
                fields=[Field("Message", row.body or "", verbatim=True)],
                kind="announcement",
            )
        )
    if row.kind == "feedback":
        return await _feedback(conn, session, row, now)
    if now >= session.ends_at:
        return Skip("session_ended")
    if row.kind == "cancelled":
        fields = (
            [Field("From the organizers", session.cancel_message, verbatim=True)]
            if session.cancel_message
            else []
        )
        return Send(
            _dm(
                f"❌ {session.title}, planned for {moment(session.starts_at, 'full')}, is cancelled. "
                "Your place in it is released; there is nothing you need to do.",
                fields=fields,
                kind="cancelled",
            )
        )
    if session.cancelled:
        return Skip("cancelled")
    current = await _standing(conn, row, session)
    if current is None:
        return Skip("not_registered")
    if row.kind == "promotion":
        if current.status != CONFIRMED:
            return Skip("not_confirmed")
        return Send(
            _dm(
                f"🎉 A seat opened up: you are confirmed for {session.title}, {when(session)}.",
                fields=[Field("Join link", session.join)],
                buttons=[join_button(session)],
                kind="promotion",
            )
        )
    if row.kind == "moved":
        old = datetime.fromtimestamp(int(row.body), UTC) if row.body and row.body.isdigit() else None
        was = f" (it was {moment(old, 'full')})" if old else ""
        return Send(_dm(f"🗓 {session.title} has moved: it now starts {when(session)}{was}.", kind="moved"))
    return _reminder(session, current, row, now)


async def _standing(
    conn: AsyncConnection | None, row: Row, session: Session
) -> registrations.Standing | None:
    """The person's place in the session: a claimed row carries it, else it is read."""
    if "reg_status" in row._mapping:
        status = row._mapping["reg_status"]
        return registrations.Standing(session.id, status, row._mapping["reg_position"]) if status else None
    if not row.person_id:
        return None
    assert conn is not None
    return await registrations.standing(conn, row.person_id, session.id)


async def _feedback(conn: AsyncConnection | None, session: Session, row: Row, now: datetime) -> Prepared:
    if session.cancelled:
        return Skip("cancelled")
    if now >= session.ends_at + FEEDBACK_WITHIN:
        return Skip("too_late")
    current = await _standing(conn, row, session)
    if current is None:
        return Skip("not_registered")
    if current.status == WAITLISTED:
        return Skip("only_waited")
    return Send(
        _dm(
            f"🙏 Thank you for joining {session.title}. How was it, from 1 (poor) to 5 (excellent)?",
            buttons=[Button(str(n), f"/feedback {session.id} {n}", style="secondary") for n in range(1, 6)],
            kind="feedback",
        )
    )


def _reminder(session: Session, current: registrations.Standing, row: Row, now: datetime) -> Prepared:
    started = now >= session.starts_at
    if started and row.due_at >= session.starts_at:
        return Skip("session_started")
    if current.status == WAITLISTED:
        tail = f"You are #{current.position} on the waitlist; we will message you if a seat opens."
        if started:
            return Send(_dm(f"{session.title} has started. {tail}", kind="reminder"))
        return Send(_dm(f"⏰ {session.title} starts {when(session)}. {tail}", kind="reminder"))
    if started:
        return Send(
            _dm(
                f"▶️ {session.title} has started — join here: {session.join}",
                buttons=[join_button(session)],
                kind="reminder",
            )
        )
    return Send(
        _dm(
            f"⏰ Reminder: {session.title} starts {when(session)}.",
            fields=[Field("Join link", session.join)],
            buttons=[join_button(session)],
            kind="reminder",
        )
    )
