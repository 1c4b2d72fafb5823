"""The durable reminder queue and its dispatcher, driven by a controllable clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared import outbox
from shared.app import Roundtable
from shared.clock import FakeClock
from shared.commands import Invocation
from shared.identity import Reach
from shared.port import DMS_CLOSED, PLATFORM_ERROR, DeliveryError
from tests.support import T0, RecordingPort, outbox_rows, person, until, with_capacity


@pytest.fixture
def program():
    return with_capacity(1)


def workshop(core):
    return core.program.session("workshop")


async def test_each_registration_plans_one_reminder_per_offset(core):
    await core.register(person("ann"), "workshop")
    rows = await outbox_rows(core, kind="reminder")
    start = workshop(core).starts_at
    assert [r.due_at for r in rows] == [
        start - timedelta(days=1),
        start - timedelta(hours=1),
        start - timedelta(minutes=10),
    ]
    assert {r.state for r in rows} == {"pending"}
    assert {r.recipient for r in rows} == {"ann"}


async def test_only_reminders_still_ahead_are_planned(core, clock):
    await clock.set(workshop(core).starts_at - timedelta(minutes=30))
    await core.register(person("ann"), "workshop")
    rows = await outbox_rows(core, kind="reminder")
    assert [r.offset_seconds for r in rows] == [600]


async def test_cancelling_removes_pending_reminders(core):
    await core.register(person("ann"), "workshop")
    await core.register(person("ann"), "roundtable")
    await core.handle(Invocation(person("ann"), "unregister", {"session": "workshop"}))
    rows = await outbox_rows(core, kind="reminder")
    assert {r.session_id for r in rows} == {"roundtable"}


async def test_reminders_go_out_at_their_time_with_the_link_only_for_seats(core, clock):
    port = RecordingPort()
    core.attach(port)
    await core.register(person("ann"), "workshop")  # the one seat
    await core.register(person("ben"), "workshop")  # waitlisted
    await core.register(person("cid"), "roundtable")  # follows the open session
    await core.start()
    session = workshop(core)
    roundtable = core.program.session("roundtable")
    await clock.set(roundtable.starts_at - timedelta(days=1))
    await until(lambda: len(port.texts_for("cid")) == 1, what="the follower's reminder")
    assert roundtable.join in {b.url for b in port.direct[-1][1].buttons}
    await clock.set(session.starts_at - timedelta(days=1, seconds=1))
    await asyncio.sleep(0.2)
    assert len(port.direct) == 1  # nothing before its time
    await clock.set(session.starts_at - timedelta(days=1))
    await until(lambda: len(port.direct) == 3, what="the two workshop reminders")
    by_user = {r.user_id: m for r, m in port.direct}
    assert session.join in {b.url for b in by_user["ann"].buttons}
    assert "#1 on the waitlist" in by_user["ben"].text
    assert not any(b.url for b in by_user["ben"].buttons)
    assert session.join not in by_user["ben"].text + "".join(f.value for f in by_user["ben"].fields)


class RecordingClock(FakeClock):
    def __init__(self, start):
        super().__init__(start)
        self.sleeps = []

    async def sleep_until(self, when, wake):
        self.sleeps.append(when)
        await super().sleep_until(when, wake)


async def test_the_dispatcher_sleeps_until_the_next_due_time_and_wakes_for_an_earlier_one(settings, program):
    clock = RecordingClock(T0)
    core = await Roundtable.open(settings, program=program, clock=clock)
    try:
        core.attach(RecordingPort())
        await core.register(person("ann"), "workshop")
        await core.start()
        start = workshop(core).starts_at
        await until(
            lambda: (
                clock.sleeps and clock.sleeps[-1] == min(start - timedelta(days=1), T0 + timedelta(minutes=5))
            )
        )
        # nothing due for days: one sleep, capped at the safety recheck, not a poll per minute
        assert len(clock.sleeps) == 1
        # a promotion is due now: it is earlier, so the sleeper wakes
        port = core.dispatcher.ports["console"]
        await core.register(person("ben"), "workshop")
        await core.handle(Invocation(person("ann"), "unregister", {"session": "workshop"}))
        await until(lambda: port.texts_for("ben"), what="the promotion")
        # it went back to sleep until the same next due time, without polling in between
        await until(lambda: len(clock.sleeps) >= 2, what="the second sleep")
        await asyncio.sleep(0.2)
        # (a finished send frees its slot and wakes the loop once more: no timed polling)
        assert len(clock.sleeps) <= 4
        assert set(clock.sleeps) == {clock.sleeps[0]}
    finally:
        await core.close(grace=1)


async def test_after_downtime_a_started_session_gets_one_join_message(core, clock):
    port = RecordingPort()
    core.attach(port)
    await core.register(person("ann"), "workshop")
    session = workshop(core)
    await clock.set(session.starts_at + timedelta(minutes=5))
    await core.dispatch_due()
    texts = port.texts_for("ann")
    assert len(texts) == 1
    assert "has started — join here" in texts[0] and session.join in texts[0]
    states = sorted((r.state, r.reason) for r in await outbox_rows(core, kind="reminder"))
    assert states == [("sent", None), ("skipped", "superseded"), ("skipped", "superseded")]


async def test_after_downtime_an_ended_session_skips_its_reminders(core, clock):
    port = RecordingPort()
    core.attach(port)
    await core.register(person("ann"), "workshop")
    await clock.set(workshop(core).ends_at)
    await core.dispatch_due()
    assert port.direct == []
    states = [(r.offset_seconds, r.state, r.reason) for r in await outbox_rows(core, kind="reminder")]
    assert states == [
        (86400, "skipped", "superseded"),
        (3600, "skipped", "superseded"),
        (600, "skipped", "session_ended"),
    ]


async def test_a_reminder_missed_before_the_start_is_still_sent(core, clock):
    port = RecordingPort()
    core.attach(port)
    await core.register(person("ann"), "workshop")
    await clock.set(workshop(core).starts_at - timedelta(minutes=20))  # past 1d and 1h, before 10m
    await core.dispatch_due()
    [text] = port.texts_for("ann")  # one reminder, not a burst of the ones missed
    assert text.startswith("⏰ Reminder")
    states = [(r.offset_seconds, r.state, r.reason) for r in await outbox_rows(core, kind="reminder")]
    assert states == [(86400, "skipped", "superseded"), (3600, "sent", None), (600, "pending", None)]


async def test_failures_end_in_a_visible_state_with_their_reason(core, clock):
    port = RecordingPort()
    port.fail["ann"] = DeliveryError(DMS_CLOSED, "Cannot send messages to this user")
    port.fail["ben"] = DeliveryError(PLATFORM_ERROR, "502", retryable=True)
    core.attach(port)
    await core.register(person("ann"), "roundtable")
    await core.register(person("ben"), "roundtable")
    await clock.set(core.program.session("roundtable").starts_at - timedelta(days=1))
    for _ in range(6):  # a retry goes back to the queue, due a little later
        await core.dispatch_due()
        await clock.advance(timedelta(minutes=2))
    rows = {r.recipient: r for r in await outbox_rows(core, kind="reminder", offset_seconds=86400)}
    assert (rows["ann"].state, rows["ann"].reason) == ("failed", DMS_CLOSED)
    assert (rows["ben"].state, rows["ben"].reason) == ("failed", PLATFORM_ERROR)
    # a closed DM is not retried; a platform error is retried (settings: 2 retries)
    assert port.started == 1 + 3


async def test_sends_run_with_bounded_concurrency(settings, program, clock):
    core = await Roundtable.open(
        settings.model_copy(update={"dispatch_concurrency": 3}), program=program, clock=clock
    )
    try:
        active = peak = 0

        class Slow(RecordingPort):
            async def send_direct(self, recipient, message):
                nonlocal active, peak
                active += 1
                peak = max(peak, active)
                await asyncio.sleep(0.15)
                active -= 1
                return await super().send_direct(recipient, message)

        port = Slow()
        core.attach(port)
        for i in range(12):
            await core.register(person(f"p{i}"), "roundtable")
        await clock.set(core.program.session("roundtable").starts_at - timedelta(days=1))
        await core.dispatch_due()
        assert len(port.direct) == 12
        assert peak == 3
    finally:
        await core.close(grace=1)


async def test_the_dispatcher_reads_the_queue_in_batches(settings, program, clock):
    core = await Roundtable.open(
        settings.model_copy(update={"dispatch_concurrency": 5}), program=program, clock=clock
    )
    try:
        claimed = []
        original = outbox.claim

        async def spy(conn, reaches, now, limit, claimer, lease):
            rows = await original(conn, reaches, now, limit, claimer, lease)
            claimed.append(len(rows))
            return rows

        outbox_claim = pytest.MonkeyPatch()
        outbox_claim.setattr(outbox, "claim", spy)
        try:
            core.attach(RecordingPort())
            for i in range(12):
                await core.register(person(f"p{i}"), "roundtable")
            await clock.set(core.program.session("roundtable").starts_at - timedelta(days=1))
            assert await core.dispatch_due() == 12
        finally:
            outbox_claim.undo()
        assert [n for n in claimed if n] == [5, 5, 2]
    finally:
        await core.close(grace=1)


async def test_each_console_delivers_only_to_its_own_person(core):
    ann = RecordingPort(user_id="ann")
    core.attach(ann)
    await core.register(person("ann"), "workshop")
    await core.register(person("ben"), "workshop")
    await core.handle(Invocation(person("ann"), "unregister", {"session": "workshop"}))
    await core.dispatch_due()
    assert ann.direct == []
    [promotion] = await outbox_rows(core, kind="promotion")
    assert promotion.state == "pending"  # still queued for whoever can reach ben
    core.detach(ann)
    ben = RecordingPort(user_id="ben")
    core.attach(ben)
    await core.dispatch_due()
    assert len(ben.texts_for("ben")) == 1


async def test_a_moved_session_replans_and_tells_registrants(settings, program, clock):
    core = await Roundtable.open(settings, program=program, clock=clock)
    try:
        await core.register(person("ann"), "workshop")
    finally:
        await core.close()
    later = [
        s.model_copy(update={"start": s.start + timedelta(hours=2)}) if s.id == "workshop" else s
        for s in program.sessions
    ]
    moved = program.model_copy(update={"sessions": later})
    core = await Roundtable.open(settings, program=moved, clock=clock)
    try:
        port = RecordingPort()
        core.attach(port)
        start = core.program.session("workshop").starts_at
        assert start == program.session("workshop").starts_at + timedelta(hours=2)
        rows = await outbox_rows(core, kind="reminder", state="pending")
        assert [r.due_at for r in rows] == [
            start - timedelta(days=1),
            start - timedelta(hours=1),
            start - timedelta(minutes=10),
        ]
        await core.dispatch_due()
        [text] = port.texts_for("ann")
        assert "has moved" in text and f"⟦time:{int(start.timestamp())}:full⟧" in text
    finally:
        await core.close()
    # opening again with the same program changes nothing and tells nobody twice
    core = await Roundtable.open(settings, program=moved, clock=clock)
    try:
        assert len(await outbox_rows(core, kind="moved")) == 1
    finally:
        await core.close()


async def test_a_dead_dispatchers_claims_are_recovered_and_sent_once(core, clock):
    port = RecordingPort()
    core.attach(port)
    for who in ("ann", "ben"):
        await core.register(person(who), "workshop")
    await clock.set(workshop(core).starts_at - timedelta(days=1))
    async with core.db.transaction() as conn:
        rows = await outbox.claim(conn, [Reach("console")], clock.now(), 10, "dead-process")
    assert len(rows) == 2
    # the dead process had handed ann's to the platform, not ben's
    port.keys.add(f"rt{rows[0].id}")
    port.direct.append((None, None))
    async with core.db.transaction() as conn:
        assert await outbox.recover(conn, clock.now()) == 0  # the lease still runs
    await clock.advance(outbox.LEASE + timedelta(seconds=1))
    async with core.db.transaction() as conn:
        assert await outbox.recover(conn, clock.now()) == 2
    await core.dispatch_due()
    assert len(port.direct) == 2  # ann's not twice, ben's once
    assert {r.state for r in await outbox_rows(core, offset_seconds=86400)} == {"sent"}


async def test_a_port_that_cannot_deduplicate_fails_what_may_have_reached_it(core, clock):
    class Plain(RecordingPort):
        async def send_direct(self, recipient, message):
            return await super().send_direct(recipient, message)

        async def post_insight(self, channel, post):
            return await super().post_insight(channel, post)

    port = Plain()
    core.attach(port)
    await core.register(person("ann"), "workshop")
    await clock.set(workshop(core).starts_at - timedelta(days=1))
    async with core.db.transaction() as conn:
        await outbox.claim(conn, [Reach("console")], clock.now(), 10, "dead-process")
    await clock.advance(timedelta(seconds=30))
    await core.dispatcher.recover()
    await core.dispatch_due()
    assert port.direct == []
    [row] = await outbox_rows(core, offset_seconds=86400)
    assert (row.state, row.reason) == ("failed", "interrupted")


async def _restart(settings, program, clock, grace):
    """Send 40 due reminders with a slow port, stop half-way, start a second dispatcher."""
    first = await Roundtable.open(
        settings.model_copy(update={"dispatch_concurrency": 4}), program=program, clock=clock
    )
    port = RecordingPort(delay=0.05)
    first.attach(port)
    for i in range(40):
        await first.register(person(f"p{i}"), "roundtable")
    await clock.set(program.session("roundtable").starts_at - timedelta(days=1))
    await first.start()
    await until(lambda: len(port.direct) >= 10, what="the first sends")
    await first.close(grace=grace)
    first_sent = len(port.direct)
    assert first_sent < 40, "stopped half-way"
    second = await Roundtable.open(settings, program=program, clock=clock)
    try:
        second.attach(port)
        await second.dispatch_due()
        rows = await outbox_rows(second, offset_seconds=86400)
    finally:
        await second.close()
    return port, rows


async def test_restart_half_way_sends_nothing_twice_and_loses_nothing(settings, program, clock):
    port, rows = await _restart(settings, program, clock, grace=5)
    users = [r.user_id for r, _ in port.direct]
    assert len(users) == len(set(users)) == 40
    assert {r.state for r in rows} == {"sent"}


async def test_a_hard_stop_mid_send_resends_the_unknown_ones_once(settings, program, clock):
    port, rows = await _restart(settings, program, clock, grace=0.001)
    users = [r.user_id for r, _ in port.direct]
    assert len(users) == len(set(users)) == 40
    assert {r.state for r in rows} == {"sent"}


async def test_an_error_handling_one_message_sends_no_other_twice(settings, program, clock, monkeypatch):
    from shared import notices

    core = await Roundtable.open(
        settings.model_copy(update={"dispatch_concurrency": 3}), program=program, clock=clock
    )
    try:
        port = RecordingPort()
        core.attach(port)
        for who in ("ann", "ben", "cid", "dot"):
            await core.register(person(who), "roundtable")
        await clock.set(core.program.session("roundtable").starts_at - timedelta(days=1))
        real = notices.prepare
        calls = 0

        async def flaky(conn, program, row, now):
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("database is locked")
            return await real(conn, program, row, now)

        monkeypatch.setattr(notices, "prepare", flaky)
        await core.dispatch_due()
        await clock.advance(timedelta(seconds=5))
        await core.dispatch_due()
        users = [r.user_id for r, _ in port.direct]
        assert sorted(users) == ["ann", "ben", "cid", "dot"]  # each once; the failed one retried
    finally:
        await core.close(grace=1)


def test_reminders_due_after_the_announce_horizon_are_found_by_every_dispatcher_anyway() -> None:
    from shared import dispatcher, outbox

    # plan_reminders skips the NOTIFY for messages due past this; only safe while every
    # dispatcher looks again within it
    assert outbox.ANNOUNCE_HORIZON <= dispatcher.RECHECK
