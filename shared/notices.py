"""What the bot says on its own: reminders, promotions, moves, announcements, insight posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import insights, registrations
from shared.messages import Button, Field, InsightPost, Message, moment
from shared.program import Program, Session
from shared.registrations import CONFIRMED, WAITLISTED
from shared.replies import join_button, when


@dataclass(frozen=True, slots=True)
class Send:
    message: Message


@dataclass(frozen=True, slots=True)
class Post:
    channel: str
    post: InsightPost


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str


Prepared = Send | Post | Skip


def _dm(text: str, *, fields=(), buttons=(), kind: str) -> Message:
    return Message(text=text, fields=tuple(fields), buttons=tuple(buttons), ephemeral=False, kind=kind)


async def prepare(conn: AsyncConnection, program: Program, row: Row, now: datetime) -> Prepared:
    """Decide, at send time, what a queued row becomes: the state of things may have changed."""
    if row.kind == "insight":
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
    if now >= session.ends_at:
        return Skip("session_ended")
    current = await registrations.standing(conn, row.person_id, session.id) if row.person_id else None
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
    buttons = [join_button(session)]
    if current.status == CONFIRMED:
        # one click (and a confirmation) gives the seat to the next person on the waitlist
        buttons.append(Button("I can't come", f"/unregister {session.id} ask", style="danger"))
    return Send(
        _dm(
            f"⏰ Reminder: {session.title} starts {when(session)}.",
            fields=[Field("Join link", session.join)],
            buttons=buttons,
            kind="reminder",
        )
    )
