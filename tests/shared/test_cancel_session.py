"""A session cancelled in the program: its people are told once, its roster stays."""

from __future__ import annotations

import pytest

from shared import program_sync
from shared.app import Roundtable
from shared.commands import Invocation
from tests.support import RecordingPort, outbox_rows, person, with_capacity


@pytest.fixture
def program():
    return with_capacity(1)


def cancelled(program, session_id="workshop", message="The speaker is ill; see you in spring."):
    sessions = [
        s.model_copy(update={"cancelled": True, "cancel_message": message}) if s.id == session_id else s
        for s in program.sessions
    ]
    return program.model_copy(update={"sessions": sessions})


async def test_cancelling_tells_everyone_once_skips_reminders_and_keeps_the_roster(settings, program, clock):
    core = await Roundtable.open(settings, program=program, clock=clock)
    for who in ("ann", "ben"):
        await core.register(person(who), "workshop")  # ann holds the seat, ben waits
    await core.register(person("cid"), "roundtable")
    await core.close()

    gone = cancelled(program)
    core = await Roundtable.open(settings, program=gone, clock=clock)
    try:
        reminders = await outbox_rows(core, kind="reminder", session_id="workshop")
        assert reminders and {(r.state, r.reason) for r in reminders} == {("skipped", "cancelled")}
        assert {r.state for r in await outbox_rows(core, kind="reminder", session_id="roundtable")} == {
            "pending"
        }
        port = RecordingPort()
        core.attach(port)
        await core.dispatch_due()
        for who in ("ann", "ben"):
            (text,) = port.texts_for(who)
            assert "Workshop" in text and "is cancelled" in text
        (_, message) = next(item for item in port.direct if item[0].user_id == "ann")
        assert message.fields[0].value == "The speaker is ill; see you in spring."
        assert message.fields[0].verbatim
        # the calendar entry goes away with it: METHOD:CANCEL, same UID, a higher SEQUENCE
        (entry,) = message.files
        ics = entry.data.decode()
        assert entry.filename == "workshop.ics"
        assert "METHOD:CANCEL" in ics and "STATUS:CANCELLED" in ics and "SEQUENCE:1" in ics
        assert port.texts_for("cid") == []

        organizer = person("org")
        roster = await core.handle(Invocation(organizer, "roster", {"session": "workshop"}, organizer=True))
        assert "Ann" in roster.fields[0].value and "Ben" in roster.fields[1].value

        schedule = await core.handle(Invocation(person("dan"), "schedule"))
        line = next(f.value for f in schedule.fields if f.name == gone.session("workshop").title)
        assert "cancelled" in line
        assert all("workshop" not in b.action for b in schedule.buttons)

        refused = await core.register(person("dan"), "workshop")
        assert not refused.ok and "cancelled" in refused.text and "`roundtable`" in refused.text
        assert "`workshop`" not in refused.text
        picker = await core.handle(Invocation(person("dan"), "register"))
        assert all("workshop" not in b.action for b in picker.buttons)

        # ann leaves: nobody is promoted into a cancelled session
        await core.handle(Invocation(person("ann"), "unregister", {"session": "workshop"}))
        assert await outbox_rows(core, kind="promotion") == []
    finally:
        await core.close()

    # the next start tells nobody again
    core = await Roundtable.open(settings, program=gone, clock=clock)
    try:
        assert len(await outbox_rows(core, kind="cancelled")) == 2
        async with core.db.transaction() as conn:
            assert await program_sync.to_tell(conn, gone, clock.now()) == {"workshop": None}
    finally:
        await core.close()


async def test_check_counts_whom_the_next_start_tells(settings, program, clock):
    core = await Roundtable.open(settings, program=program, clock=clock)
    try:
        for who in ("ann", "ben", "cid"):
            await core.register(person(who), "workshop")
        async with core.db.transaction() as conn:
            assert await program_sync.to_tell(conn, cancelled(program), clock.now()) == {"workshop": 3}
            assert await program_sync.to_tell(conn, program, clock.now()) == {}
    finally:
        await core.close()


async def test_calling_off_a_cancellation_plans_reminders_again(settings, program, clock):
    core = await Roundtable.open(settings, program=program, clock=clock)
    await core.register(person("ann"), "workshop")
    await core.close()
    core = await Roundtable.open(settings, program=cancelled(program), clock=clock)
    await core.close()
    core = await Roundtable.open(settings, program=program, clock=clock)
    try:
        assert len(await outbox_rows(core, kind="reminder", state="pending")) == 3
        # the unsent "cancelled" notice is out of date
        assert await outbox_rows(core, kind="cancelled", state="pending") == []
    finally:
        await core.close()
