"""An open session takes latecomers until it ends, and gives them the link at once."""

from __future__ import annotations

from datetime import timedelta

from tests.support import outbox_rows, person


async def test_a_latecomer_follows_a_running_open_session_and_gets_the_link(core, clock):
    roundtable = core.program.session("roundtable")
    await clock.set(roundtable.starts_at + timedelta(minutes=5))
    reply = await core.respond(person("lea"), line="/register roundtable")
    assert reply.ok
    assert "started 5 minutes ago — join now" in reply.text
    assert [b.url for b in reply.buttons] == [roundtable.join]
    # no reminder can come in time, and none is queued
    assert await outbox_rows(core, kind="reminder") == []


async def test_the_schedule_shows_live_now_with_the_link(core, clock):
    roundtable = core.program.session("roundtable")
    await clock.set(roundtable.starts_at + timedelta(minutes=1))
    schedule = await core.respond(person("lea"), line="/schedule")
    [line] = [f.value for f in schedule.fields if f.name == roundtable.title]
    assert "live now" in line and roundtable.join in line
    assert any(b.url == roundtable.join for b in schedule.buttons)
    picker = await core.respond(person("lea"), line="/register")
    assert "started 1 minute ago" in " ".join(f.value for f in picker.fields)


async def test_registration_only_sessions_still_close_at_the_start(core, clock):
    workshop = core.program.session("workshop")
    await clock.set(workshop.starts_at + timedelta(minutes=1))
    refused = await core.respond(person("lea"), line="/register workshop")
    assert not refused.ok and "closed when it started" in refused.text


async def test_an_open_session_closes_when_it_ends(core, clock):
    roundtable = core.program.session("roundtable")
    await clock.set(roundtable.ends_at)
    refused = await core.respond(person("lea"), line="/register roundtable")
    assert not refused.ok and "has ended" in refused.text
    schedule = await core.respond(person("lea"), line="/schedule")
    assert "live now" not in " ".join(f.value for f in schedule.fields)
