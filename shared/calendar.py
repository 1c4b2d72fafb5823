"""The program as an iCalendar file, for people and organizers to add to their calendars."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from shared.program import Program

PRODID = "-//Roundtable//roundtable-bot//EN"


def program_calendar(program: Program, *, now: datetime, domain: str = "roundtable.invalid") -> bytes:
    """One VEVENT a session; times in UTC, the event's zone named in the calendar."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", program.event.name)
    calendar.add("x-wr-timezone", program.event.timezone)
    for session in program.sessions:
        entry = Event()
        entry.add("uid", f"{session.id}@{domain}")
        entry.add("dtstamp", now)
        entry.add("dtstart", session.starts_at)
        entry.add("dtend", session.ends_at)
        entry.add("summary", f"{session.title} — {program.event.name}")
        access = "Open to everyone." if not session.capped else "By registration only."
        entry.add("description", "\n\n".join(x for x in (session.description, access, session.join) if x))
        entry.add("location", session.join)
        entry.add("url", session.join)
        calendar.add_component(entry)
    return calendar.to_ical()
