"""A new program loaded over an existing database: moves, access and capacity changes, removals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.app import Roundtable
from shared.commands import Invocation
from tests.support import outbox_rows, person, with_capacity


@pytest.fixture
def program():
    return with_capacity(2)


def changed(program, session_id, **update):
    sessions = [s.model_copy(update=update) if s.id == session_id else s for s in program.sessions]
    return program.model_copy(update={"sessions": sessions})


async def reopen(settings, program, clock) -> Roundtable:
    return await Roundtable.open(settings, program=program, clock=clock)


async def test_moving_twice_leaves_one_moved_notice(settings, program, clock):
    core = await reopen(settings, program, clock)
    await core.register(person("ann"), "workshop")
    await core.close()
    start = program.session("workshop").start
    for hours in (2, 3):
        core = await reopen(
            settings, changed(program, "workshop", start=start + timedelta(hours=hours)), clock
        )
        await core.close()
    core = await reopen(settings, changed(program, "workshop", start=start + timedelta(hours=3)), clock)
    try:
        notices = await outbox_rows(core, kind="moved", state="pending")
        assert len(notices) == 1
        assert notices[0].body == str(int(program.session("workshop").starts_at.timestamp() + 2 * 3600))
        reminders = await outbox_rows(core, kind="reminder", state="pending")
        assert len(reminders) == 3
    finally:
        await core.close()


async def test_an_open_session_that_becomes_capped_turns_follows_into_seats_in_order(
    settings, program, clock
):
    core = await reopen(settings, program, clock)
    for who in ("ann", "ben", "cid"):
        await core.register(person(who), "roundtable")
    await core.close()
    capped = changed(program, "roundtable", access="registration", capacity=2)
    core = await reopen(settings, capped, clock)
    try:
        roster = await core.handle(
            Invocation(person("o"), "roster", {"session": "roundtable"}, organizer=True)
        )
        assert roster.fields[0].value.splitlines() == ["1. Ann (Console)", "2. Ben (Console)"]
        assert roster.fields[1].value == "#1 Cid (Console)"
    finally:
        await core.close()
    core = await reopen(settings, program, clock)  # open again: everyone follows
    try:
        roster = await core.handle(
            Invocation(person("o"), "roster", {"session": "roundtable"}, organizer=True)
        )
        assert roster.fields[0].name == "Following (3)"
    finally:
        await core.close()


async def test_more_seats_promote_the_waitlist_and_fewer_take_no_seat_away(settings, program, clock):
    core = await reopen(settings, program, clock)
    for who in ("ann", "ben", "cid", "dot"):
        await core.register(person(who), "workshop")
    await core.close()
    core = await reopen(settings, changed(program, "workshop", capacity=3), clock)
    try:
        assert len(await outbox_rows(core, kind="promotion")) == 1
    finally:
        await core.close()
    core = await reopen(settings, changed(program, "workshop", capacity=1), clock)
    try:
        roster = await core.handle(Invocation(person("o"), "roster", {"session": "workshop"}, organizer=True))
        assert roster.fields[0].name == "Confirmed (3/1)"
    finally:
        await core.close()


async def test_a_removed_session_skips_its_reminders_and_a_restored_one_plans_them_again(
    settings, program, clock
):
    core = await reopen(settings, program, clock)
    await core.register(person("ann"), "workshop")
    await core.close()
    without = program.model_copy(update={"sessions": [program.session("roundtable")]})
    core = await reopen(settings, without, clock)
    try:
        assert {(r.state, r.reason) for r in await outbox_rows(core, kind="reminder")} == {
            ("skipped", "session_removed")
        }
    finally:
        await core.close()
    core = await reopen(settings, program, clock)
    try:
        assert len(await outbox_rows(core, kind="reminder", state="pending")) == 3
    finally:
        await core.close()


async def test_reports_do_not_apply_their_program(settings, program, clock):
    core = await reopen(settings, program, clock)
    await core.register(person("ann"), "workshop")
    await core.close()
    moved = changed(program, "workshop", start=program.session("workshop").start + timedelta(hours=1))
    report = await Roundtable.open(settings, program=moved, clock=clock, sync=False)
    try:
        assert await outbox_rows(report, kind="moved") == []
    finally:
        await report.close()
