"""What the bot says on its own: reminders, promotions, moves, announcements, insight posts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import calendar, i18n, insights, people, registrations
from shared.i18n import _
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
    # a moved session's DM carries the updated calendar entry, whose SEQUENCE is stored
    return row.kind in ("insight", "moved") or "reg_status" not in row._mapping


async def prepare(conn: AsyncConnection | None, program: Program, row: Row, now: datetime) -> Prepared:
    """Decide, at send time, what a queued row becomes: the state of things may have changed.

    A DM is written in its reader's language (their choice, else their platform's); claimed
    rows carry it (``to_locale``), others look it up.
    """
    if row.kind == "unpost":
        return Unpost(row.recipient, row.ref) if row.ref else Skip("no_ref")
    locale = None
    if "to_locale" in row._mapping:
        locale = row._mapping["to_locale"]
    elif row.kind != "insight" and row.identity_id is not None and conn is not None:
        reader = await people.recipient(conn, row.identity_id)
        locale = reader.locale if reader else None
    with i18n.using(locale) as language:
        prepared = await _prepare(conn, program, row, now)
    if isinstance(prepared, Send):
        return Send(dataclasses.replace(prepared.message, locale=language))
    return prepared


async def _prepare(conn: AsyncConnection | None, program: Program, row: Row, now: datetime) -> Prepared:
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
                _(
                    "📣 Announcement about {title} ({start})",
                    title=session.shown_title(),
                    start=moment(session.starts_at, "full"),
                ),
                fields=[Field(_("Message"), row.body or "", verbatim=True)],
                kind="announcement",
            )
        )
    if row.kind == "feedback":
        return await _feedback(conn, session, row, now)
    if now >= session.ends_at:
        return Skip("session_ended")
    if row.kind == "cancelled":
        fields = (
            [Field(_("From the organizers"), session.cancel_message, verbatim=True)]
            if session.cancel_message
            else []
        )
        message = _dm(
            _(
                "❌ {title}, planned for {start}, is cancelled. "
                "Your place in it is released; there is nothing you need to do.",
                title=session.shown_title(),
                start=moment(session.starts_at, "full"),
            ),
            fields=fields,
            kind="cancelled",
        )
        # METHOD:CANCEL with the entry's UID and a higher SEQUENCE: calendars remove it
        sequence = await calendar.sequence_of(conn, session.id) if conn is not None else 0
        entry = calendar.attachment(program, session, now=now, sequence=sequence, cancel=True)
        return Send(dataclasses.replace(message, files=(entry,)))
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
                _(
                    "🎉 A seat opened up: you are confirmed for {title}, {when}.",
                    title=session.shown_title(),
                    when=when(session),
                ),
                fields=[Field(_("Join link"), session.join)],
                buttons=[join_button(session)],
                kind="promotion",
            )
        )
    if row.kind == "moved":
        old = datetime.fromtimestamp(int(row.body), UTC) if row.body and row.body.isdigit() else None
        if old:
            text = _(
                "🗓 {title} has moved: it now starts {when} (it was {old}).",
                title=session.shown_title(),
                when=when(session),
                old=moment(old, "full"),
            )
        else:
            text = _(
                "🗓 {title} has moved: it now starts {when}.", title=session.shown_title(), when=when(session)
            )
        # the updated entry: same UID, a higher SEQUENCE, so calendars move it
        assert conn is not None
        sequence = await calendar.sequence_of(conn, session.id)
        entry = calendar.attachment(program, session, now=now, sequence=sequence)
        return Send(dataclasses.replace(_dm(text, kind="moved"), files=(entry,)))
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
            _(
                "🙏 Thank you for joining {title}. How was it, from 1 (poor) to 5 (excellent)?",
                title=session.shown_title(),
            ),
            buttons=[Button(str(n), f"/feedback {session.id} {n}", style="secondary") for n in range(1, 6)],
            kind="feedback",
        )
    )


def _reminder(session: Session, current: registrations.Standing, row: Row, now: datetime) -> Prepared:
    started = now >= session.starts_at
    if started and row.due_at >= session.starts_at:
        return Skip("session_started")
    if current.status == WAITLISTED:
        tail = _(
            "You are #{position} on the waitlist; we will message you if a seat opens.",
            position=current.position,
        )
        if started:
            return Send(
                _dm(_("{title} has started.", title=session.shown_title()) + " " + tail, kind="reminder")
            )
        head = _("⏰ {title} starts {when}.", title=session.shown_title(), when=when(session))
        return Send(_dm(f"{head} {tail}", kind="reminder"))
    if started:
        return Send(
            _dm(
                _(
                    "▶️ {title} has started — join here: {link}",
                    title=session.shown_title(),
                    link=session.join,
                ),
                buttons=[join_button(session)],
                kind="reminder",
            )
        )
    buttons = [join_button(session)]
    if current.status == CONFIRMED:
        # one click (and a confirmation) gives the seat to the next person on the waitlist
        buttons.append(Button(_("I can't come"), f"/unregister {session.id} ask", style="danger"))
    return Send(
        _dm(
            _("⏰ Reminder: {title} starts {when}.", title=session.shown_title(), when=when(session)),
            fields=[Field(_("Join link"), session.join)],
            buttons=buttons,
            kind="reminder",
        )
    )
