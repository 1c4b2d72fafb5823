"""Calendar entries: the program feed, one person's entry, moves (SEQUENCE) and cancellations."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

from icalendar import Calendar

from shared.calendar import google_link, program_calendar, session_calendar, uid
from tests.support import T0, person, with_capacity

WORKSHOP_UID = "rise-cities-workshop-20261210@roundtable.invalid"


def test_each_session_is_an_event_at_its_utc_time(program):
    calendar = Calendar.from_ical(program_calendar(program, now=T0))
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {"rise-cities-roundtable-20261210@roundtable.invalid", WORKSHOP_UID}
    workshop = events[WORKSHOP_UID]
    session = program.session("workshop")
    assert workshop.decoded("dtstart") == session.starts_at
    assert workshop.decoded("dtend") == session.ends_at
    assert str(workshop["location"]) == session.join
    assert "By registration only." in str(workshop["description"])
    assert str(calendar["x-wr-timezone"]) == "Europe/Paris"
    assert int(workshop["sequence"]) == 0


def test_uids_differ_between_editions_and_use_the_domain(program):
    session = program.session("workshop")
    next_month = session.model_copy(update={"start": session.start + timedelta(days=28)})
    next_month._zone = session._zone
    assert uid(program, session) != uid(program, next_month)
    assert uid(program, session, "events.example.org").endswith("@events.example.org")


def test_a_cancellation_is_method_cancel_with_the_same_uid(program):
    session = program.session("workshop")
    calendar = Calendar.from_ical(session_calendar(program, session, now=T0, sequence=2, cancel=True))
    assert str(calendar["method"]) == "CANCEL"
    [entry] = calendar.walk("VEVENT")
    assert str(entry["uid"]) == WORKSHOP_UID and str(entry["status"]) == "CANCELLED"
    assert int(entry["sequence"]) == 3


def test_the_google_link_carries_the_times(program):
    session = program.session("workshop")
    query = parse_qs(urlparse(google_link(program, session)).query)
    assert query["dates"] == ["20261210T165000Z/20261210T173000Z"]
    assert query["action"] == ["TEMPLATE"]


async def test_a_confirmation_carries_the_entry_and_a_calendar_link(core):
    reply = await core.respond(person("ann"), line="/register workshop")
    [ics] = reply.files
    assert ics.filename == "workshop.ics" and ics.mime == "text/calendar"
    [entry] = Calendar.from_ical(ics.data).walk("VEVENT")
    assert str(entry["uid"]) == WORKSHOP_UID
    assert any(b.url and b.url.startswith("https://calendar.google.com/") for b in reply.buttons)
    gone = await core.respond(person("ann"), line="/unregister workshop")
    [cancel] = gone.files
    assert str(Calendar.from_ical(cancel.data)["method"]) == "CANCEL"


async def test_a_waitlist_place_has_no_entry(settings, clock):
    from tests.support import opened_core

    async with opened_core(settings, with_capacity(1), clock) as core:
        await core.respond(person("ann"), line="/register workshop")
        waiting = await core.respond(person("bob"), line="/register workshop")
        assert waiting.files == ()


async def test_a_moved_session_raises_the_sequence_and_the_dm_carries_the_new_entry(settings, clock):
    from tests.support import RecordingPort, opened_core

    program = with_capacity(None)
    async with opened_core(settings, program, clock) as core:
        await core.respond(person("ann"), line="/register workshop")
    workshop = program.session("workshop")
    later = workshop.model_copy(update={"start": workshop.start + timedelta(minutes=30)})
    moved = program.model_copy(
        update={"sessions": [later if s.id == "workshop" else s for s in program.sessions]}
    )
    async with opened_core(settings, moved, clock) as core:
        port = RecordingPort()
        core.attach(port)
        await core.dispatch_due()
        [dm] = [m for _, m in port.direct if m.kind == "moved"]
        [entry] = Calendar.from_ical(dm.files[0].data).walk("VEVENT")
        assert str(entry["uid"]) == WORKSHOP_UID and int(entry["sequence"]) == 1
        assert entry.decoded("dtstart") == workshop.starts_at + timedelta(minutes=30)
