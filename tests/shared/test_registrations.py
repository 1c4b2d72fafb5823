"""Seats, waitlists, follows and promotions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared import registrations
from shared.commands import Invocation
from shared.identity import Identity
from tests.support import RecordingPort, person, with_capacity


@pytest.fixture
def program():
    return with_capacity(2)


async def run(core, who, name, **args):
    return await core.handle(Invocation(person(who), name, args))


async def test_seats_then_a_fifo_waitlist(core):
    for who in ("ann", "ben"):
        assert "seat is confirmed" in (await run(core, who, "register", session="workshop")).text
    assert "#1 on the waitlist" in (await run(core, "cid", "register", session="workshop")).text
    assert "#2 on the waitlist" in (await run(core, "dot", "register", session="workshop")).text
    roster = await core.handle(Invocation(person("orga"), "roster", {"session": "workshop"}, organizer=True))
    confirmed, waiting = roster.fields
    assert confirmed.name == "Confirmed (2/2)"
    assert confirmed.value.splitlines() == ["1. Ann (Console)", "2. Ben (Console)"]
    assert waiting.value.splitlines() == ["#1 Cid (Console)", "#2 Dot (Console)"]


async def test_register_and_cancel_are_idempotent(core):
    await run(core, "ann", "register", session="workshop")
    again = await run(core, "ann", "register", session="workshop")
    assert again.text.startswith("You were already registered")
    assert "seat is confirmed" in again.text
    mine = await run(core, "ann", "mysessions")
    assert len(mine.fields) == 1
    assert "Your seat for" in (await run(core, "ann", "unregister", session="workshop")).text
    assert "nothing to cancel" in (await run(core, "ann", "unregister", session="workshop")).text
    assert "no sessions yet" in (await run(core, "ann", "mysessions")).text


async def test_a_cancellation_promotes_the_head_and_tells_them(core):
    port = RecordingPort()
    core.attach(port)
    for who in ("ann", "ben", "cid", "dot"):
        await run(core, who, "register", session="workshop")
    await run(core, "ann", "unregister", session="workshop")
    assert "seat confirmed" in (await run(core, "cid", "mysessions")).fields[0].value
    assert "#1 on the waitlist" in (await run(core, "dot", "mysessions")).fields[0].value
    await core.dispatch_due()
    promoted = port.texts_for("cid")
    assert len(promoted) == 1
    assert promoted[0].startswith("🎉 A seat opened up")
    _, message = next((r, m) for r, m in port.direct if r.user_id == "cid")
    assert any(b.url == core.program.session("workshop").join for b in message.buttons)
    assert port.texts_for("dot") == []


async def test_the_promoted_person_is_told_on_the_platform_they_registered_from(core):
    slack = RecordingPort(platform="slack")
    console = RecordingPort(platform="console")
    core.attach(slack)
    core.attach(console)
    await core.register(person("ann"), "workshop")
    await core.register(person("ben"), "workshop")
    await core.register(person("U42", platform="slack", workspace="T1"), "workshop")
    await run(core, "ann", "unregister", session="workshop")
    await core.dispatch_due()
    assert [r.user_id for r, _ in slack.direct] == ["U42"]
    assert console.direct == []


async def test_a_waitlisted_cancellation_promotes_nobody(core):
    port = RecordingPort()
    core.attach(port)
    for who in ("ann", "ben", "cid", "dot"):
        await run(core, who, "register", session="workshop")
    await run(core, "cid", "unregister", session="workshop")
    await core.dispatch_due()
    assert port.direct == []
    assert "#1 on the waitlist" in (await run(core, "dot", "mysessions")).fields[0].value


async def test_open_sessions_are_followed_without_a_cap(core):
    for i in range(5):
        reply = await run(core, f"p{i}", "register", session="roundtable")
        assert reply.text.startswith("You are following")
    roster = await core.handle(Invocation(person("o"), "roster", {"session": "roundtable"}, organizer=True))
    assert roster.fields[0].name == "Following (5)"
    assert len(roster.fields) == 1


async def test_registration_closes_at_the_start(core, clock):
    await clock.set(core.program.session("workshop").starts_at)
    reply = await run(core, "ann", "register", session="workshop")
    assert not reply.ok
    assert "closed when it started" in reply.text


async def test_unknown_and_missing_sessions_are_refused_politely(core):
    unknown = await run(core, "ann", "register", session="gala")
    assert not unknown.ok and unknown.ephemeral
    assert "There is no session called `gala`" in unknown.text and "`workshop`" in unknown.text
    missing = await core.handle(Invocation(person("ann"), "unregister", {}))
    assert not missing.ok and missing.error_field == "session"
    assert "needs a session" in missing.text


async def test_register_without_a_session_offers_a_picker_of_upcoming_sessions(core, clock):
    picker = await core.handle(Invocation(person("ann"), "register", {}))
    assert picker.ok
    assert [b.action for b in picker.buttons] == ["/register roundtable", "/register workshop"]
    # the open roundtable takes latecomers until it ends; the workshop closes at its start
    await clock.set(core.program.session("workshop").starts_at - timedelta(minutes=1))
    picker = await core.handle(Invocation(person("ann"), "register", {}))
    assert [b.action for b in picker.buttons] == ["/register roundtable", "/register workshop"]
    await clock.set(core.program.session("workshop").starts_at)
    picker = await core.handle(Invocation(person("ann"), "register", {}))
    assert picker.buttons == ()


async def test_organizer_commands_are_refused_to_others(core):
    for name, args in (
        ("roster", {"session": "workshop"}),
        ("announce", {"session": "workshop", "message": "hi"}),
    ):
        reply = await core.handle(Invocation(person("ann"), name, args, organizer=False))
        assert not reply.ok
        assert "for the event's organizers" in reply.text


async def test_announce_reaches_every_registrant_with_the_text_verbatim(core):
    port = RecordingPort()
    core.attach(port)
    for who in ("ann", "ben", "cid"):
        await run(core, who, "register", session="workshop")
    reply = await core.handle(
        Invocation(
            person("orga"), "announce", {"session": "workshop", "message": "Room <@&1> @here"}, organizer=True
        )
    )
    assert "3 people" in reply.text
    await core.dispatch_due()
    assert sorted(r.user_id for r, _ in port.direct) == ["ann", "ben", "cid"]
    field = port.direct[0][1].fields[0]
    assert (field.value, field.verbatim) == ("Room <@&1> @here", True)


async def test_schedule_shows_free_seats_and_register_buttons(core):
    await run(core, "ann", "register", session="workshop")
    schedule = await run(core, "ann", "schedule")
    assert "1 of 2 seats free" in schedule.fields[1].value
    assert "⟦time:" in schedule.fields[0].value  # times travel as markers for each reader's zone
    assert [b.action for b in schedule.buttons] == ["/register roundtable", "/register workshop"]


async def test_a_follow_made_by_a_gesture_is_undone_only_by_it(core):
    ann, ben = person("ann"), person("ben")
    followed = await core.follow_via(ann, "roundtable", "interested")
    assert followed is not None and "You are following" in followed.text
    assert await core.follow_via(ann, "roundtable", "interested") is None  # nothing new to say
    await run(core, "ben", "register", session="roundtable")
    assert await core.follow_via(ben, "roundtable", "interested") is None
    assert not await core.unfollow_via(ben, "roundtable", "interested")  # /register's own stays
    assert "following" in (await run(core, "ben", "mysessions")).fields[0].value
    [export] = (await run(core, "ann", "mydata")).files  # the person can see how it was made
    assert '"made_by": "interested"' in export.data.decode()
    assert await core.unfollow_via(ann, "roundtable", "interested")
    assert "no sessions yet" in (await run(core, "ann", "mysessions")).text

    # a seat is never taken by a gesture: a pointer to /register instead
    hint = await core.follow_via(ann, "workshop", "interested")
    assert hint is not None and "/register workshop" in hint.text
    assert "no sessions yet" in (await run(core, "ann", "mysessions")).text


async def test_a_resync_adds_the_marked_and_ends_the_unmarked(core):
    ann, ben = person("ann"), person("ben")
    await core.follow_via(ann, "roundtable", "interested")
    await run(core, "cid", "register", session="roundtable")
    done = await core.resync_via("roundtable", "console", "local", [ben], "interested")
    assert (done.added, done.removed) == (1, 1)
    assert "no sessions yet" in (await run(core, "ann", "mysessions")).text
    # ben from the list; cid's /register follow stays though cid is not in it
    for who in ("ben", "cid"):
        assert "following" in (await run(core, who, "mysessions")).fields[0].value


async def test_a_known_account_marking_without_a_name_keeps_its_stored_name(core):
    # a Discord mark brings only the user id: a known account must still get its follow
    await run(core, "ann", "register", session="workshop")
    nameless = Identity("console", "local", "ann", "")
    followed = await core.follow_via(nameless, "roundtable", "interested")
    assert followed is not None and "You are following" in followed.text
    async with core.db.transaction() as conn:
        [entry] = await registrations.roster(conn, "roundtable")
    assert entry.name == "Ann"
