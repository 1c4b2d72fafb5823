"""The program as iCalendar."""

from __future__ import annotations

from icalendar import Calendar

from shared.calendar import program_calendar
from tests.support import T0


def test_each_session_is_an_event_at_its_utc_time(program):
    calendar = Calendar.from_ical(program_calendar(program, now=T0))
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {"roundtable@roundtable.invalid", "workshop@roundtable.invalid"}
    workshop = events["workshop@roundtable.invalid"]
    session = program.session("workshop")
    assert workshop.decoded("dtstart") == session.starts_at
    assert workshop.decoded("dtend") == session.ends_at
    assert str(workshop["location"]) == session.join
    assert "By registration only." in str(workshop["description"])
    assert str(calendar["x-wr-timezone"]) == "Europe/Paris"
