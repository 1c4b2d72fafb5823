"""Calendar entries: the program as an iCalendar feed, one session for one person, and a
Google Calendar link. Every entry of a session has the same UID in all of them.

UIDs are unique per session and edition: ``<event>-<session>-<start date>@<domain>``
(``CALENDAR_DOMAIN``), so importing next month's edition adds entries instead of overwriting
this month's. ``SEQUENCE`` rises when a session moves (``sessions.calendar_sequence``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.program import Program, Session
from shared.store.schema import sessions as sessions_table

if TYPE_CHECKING:
    from icalendar import Calendar, Event

PRODID = "-//Roundtable//roundtable-bot//EN"
DEFAULT_DOMAIN = "roundtable.invalid"
# CALENDAR_DOMAIN, set by the core when it opens: DMs are prepared far from the settings
domain = DEFAULT_DOMAIN


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "event"


def uid(program: Program, session: Session, domain: str | None = None) -> str:
    """The session's entry's UID in every calendar file (same edition, same UID)."""
    domain = domain or globals()["domain"]
    edition = session.starts_at.astimezone(program.zone).strftime("%Y%m%d")
    event = _slug(program.event.series or program.event.name)
    return f"{event}-{session.id}-{edition}@{domain}"


def _entry(program: Program, session: Session, *, now: datetime, domain: str | None, sequence: int) -> Event:
    # imported on first use: a report or a short command builds no calendar (0.1 s saved)
    from icalendar import Event

    entry = Event()
    entry.add("uid", uid(program, session, domain))
    entry.add("sequence", sequence)
    entry.add("dtstamp", now)
    entry.add("dtstart", session.starts_at)
    entry.add("dtend", session.ends_at)
    entry.add("summary", f"{session.shown_title()} — {program.event.name}")
    access = "Open to everyone." if not session.capped else "By registration only."
    entry.add("description", "\n\n".join(x for x in (session.shown_description(), access, session.join) if x))
    entry.add("location", session.join)
    entry.add("url", session.join)
    return entry


def _calendar(program: Program, method: str | None = None) -> Calendar:
    from icalendar import Calendar

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    if method:
        calendar.add("method", method)
    calendar.add("x-wr-calname", program.event.name)
    calendar.add("x-wr-timezone", program.event.timezone)
    return calendar


def program_calendar(
    program: Program,
    *,
    now: datetime,
    domain: str | None = None,
    sequences: dict[str, int] | None = None,
) -> bytes:
    """One VEVENT a session; times in UTC, the event's zone named in the calendar.

    ``sequences`` are the sessions' current SEQUENCEs (see :func:`feed_sequences`), so that the
    feed and each person's file agree. A cancelled session stays with ``STATUS:CANCELLED`` and
    one more, as the cancellation each registrant received."""
    calendar = _calendar(program)
    for session in program.sessions:
        sequence = (sequences or {}).get(session.id, 0)
        if session.cancelled:
            entry = _entry(program, session, now=now, domain=domain, sequence=sequence + 1)
            entry.add("status", "CANCELLED")
        else:
            entry = _entry(program, session, now=now, domain=domain, sequence=sequence)
        calendar.add_component(entry)
    return calendar.to_ical()


def session_calendar(
    program: Program,
    session: Session,
    *,
    now: datetime,
    domain: str | None = None,
    sequence: int = 0,
    cancel: bool = False,
) -> bytes:
    """One person's entry for one session; ``cancel`` removes it (``METHOD:CANCEL``)."""
    calendar = _calendar(program, "CANCEL" if cancel else "PUBLISH")
    entry = _entry(program, session, now=now, domain=domain, sequence=sequence + (1 if cancel else 0))
    if cancel:
        entry.add("status", "CANCELLED")
    calendar.add_component(entry)
    return calendar.to_ical()


def google_link(program: Program, session: Session) -> str:
    """An "add to Google Calendar" link for the session."""

    def stamp(at: datetime) -> str:
        return at.strftime("%Y%m%dT%H%M%SZ")

    query = {
        "action": "TEMPLATE",
        "text": f"{session.shown_title()} — {program.event.name}",
        "dates": f"{stamp(session.starts_at)}/{stamp(session.ends_at)}",
        "details": "\n\n".join(x for x in (session.shown_description(), session.join) if x),
        "location": session.join,
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(query)


async def sequences(conn: AsyncConnection) -> dict[str, int]:
    """Each session's current SEQUENCE (0 for a session never moved)."""
    rows = await conn.execute(select(sessions_table.c.id, sessions_table.c.calendar_sequence))
    return {row.id: row.calendar_sequence or 0 for row in rows}


async def feed_sequences(conn: AsyncConnection, program: Program) -> dict[str, int]:
    """Each session's SEQUENCE for the program's feed: the stored one, and one more for a session
    whose start in ``program`` differs from the stored one (the bot's next start moves it and
    raises it so: the feed must not lag behind the files people will get)."""
    rows = await conn.execute(
        select(sessions_table.c.id, sessions_table.c.calendar_sequence, sessions_table.c.starts_at)
    )
    stored = {row.id: row for row in rows}
    result: dict[str, int] = {}
    for session in program.sessions:
        row = stored.get(session.id)
        if row is not None:
            result[session.id] = (row.calendar_sequence or 0) + (row.starts_at != session.starts_at)
    return result


async def sequence_of(conn: AsyncConnection, session_id: str) -> int:
    """One session's current SEQUENCE (0 for a session never moved)."""
    row = (
        await conn.execute(
            select(sessions_table.c.calendar_sequence).where(sessions_table.c.id == session_id)
        )
    ).first()
    return (row.calendar_sequence or 0) if row else 0


def attachment(program: Program, session: Session, *, now: datetime, sequence: int = 0, cancel: bool = False):
    """The session's entry as a message attachment."""
    from shared.messages import Attachment

    content = session_calendar(program, session, now=now, sequence=sequence, cancel=cancel)
    return Attachment(f"{session.id}.ics", content, "text/calendar")
