"""The delivery engine: lanes per platform, retries back in the queue, priorities, leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from shared import outbox
from shared.commands import Invocation
from shared.port import PLATFORM_ERROR, DeliveryError
from tests.support import RecordingPort, outbox_rows, person, until


def roundtable_start(core):
    return core.program.session("roundtable").starts_at


class Hanging(RecordingPort):
    """A platform whose every call hangs (or fails with a 500 after a while)."""

    async def send_direct(self, recipient, message, *, key=None):
        self.started += 1
        await asyncio.sleep(3600)


async def test_one_platform_hanging_never_holds_the_other(core, clock):
    core.dispatcher.send_timeout = 0.3
    discord, slack = Hanging(platform="discord"), RecordingPort(platform="slack")
    core.attach(discord)
    core.attach(slack)
    core.dispatcher.concurrency = 8
    for lane in core.dispatcher.lanes.values():
        lane.window = 8
    for i in range(30):
        await core.register(person(f"d{i}", "discord", "g"), "roundtable")
        await core.register(person(f"s{i}", "slack", "T1"), "roundtable")
    await clock.set(roundtable_start(core) - timedelta(days=1))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await core.start()
    await until(lambda: len(slack.direct) == 30, limit=3, what="every Slack reminder")
    assert loop.time() - started < 1.0  # not one Slack send waited for the hanging platform
    assert discord.started == core.dispatcher.concurrency  # one window in flight, no more
    await until(lambda: discord.started >= 2 * core.dispatcher.concurrency, what="timeouts free slots")
    rows = await outbox_rows(core, platform="discord", offset_seconds=86400)
    retried = [r for r in rows if r.state == "pending" and r.attempts >= 1]
    assert retried and all(r.unsure and r.due_at > clock.now() for r in retried)


async def test_a_retryable_failure_goes_back_to_the_queue_and_frees_its_slot(settings, program, clock):
    from shared.app import Roundtable

    core = await Roundtable.open(
        settings.model_copy(update={"dispatch_concurrency": 1}), program=program, clock=clock
    )
    try:
        port = RecordingPort()
        port.fail["ann"] = DeliveryError(PLATFORM_ERROR, "500", retryable=True)
        core.attach(port)
        for who in ("ann", "ben", "cid"):
            await core.register(person(who), "roundtable")
        await clock.set(roundtable_start(core) - timedelta(days=1))
        await core.dispatch_due()
        assert sorted(r.user_id for r, _ in port.direct) == ["ben", "cid"]
        [ann] = [r for r in await outbox_rows(core, offset_seconds=86400) if r.recipient == "ann"]
        assert ann.state == "pending" and ann.attempts == 1 and ann.reason == PLATFORM_ERROR
        # exponential with jitter: the first retry after half to all of the first delay
        delay = (ann.due_at - clock.now()).total_seconds()
        assert core.dispatcher.retry_delays[0] / 2 <= delay <= core.dispatcher.retry_delays[0]
        del port.fail["ann"]
        await clock.advance(timedelta(seconds=delay))
        await core.dispatch_due()
        assert sorted(r.user_id for r, _ in port.direct) == ["ann", "ben", "cid"]
    finally:
        await core.close(grace=1)


async def test_backoff_doubles_up_to_a_cap(core):
    dispatcher = core.dispatcher
    dispatcher.retry_delays, dispatcher.retry_cap = (2.0,), 60.0
    assert [max(dispatcher.retry_delay(n) for _ in range(50)) <= 2.0 * 2 ** (n - 1) for n in (1, 2, 3)] == [
        True
    ] * 3
    assert all(30.0 <= dispatcher.retry_delay(12) <= 60.0 for _ in range(50))


async def test_a_rate_limit_reschedules_without_spending_an_attempt(core, clock):
    port = RecordingPort()
    port.fail["ann"] = DeliveryError(PLATFORM_ERROR, "429", retry_after=30)
    core.attach(port)
    await core.register(person("ann"), "roundtable")
    await clock.set(roundtable_start(core) - timedelta(days=1))
    await core.dispatch_due()
    [row] = await outbox_rows(core, offset_seconds=86400)
    assert (row.state, row.attempts, row.unsure) == ("pending", 0, False)
    assert row.due_at == clock.now() + timedelta(seconds=30)


async def test_personal_messages_due_now_go_before_an_announcement_fan_out(settings, program, clock):
    from shared.app import Roundtable

    core = await Roundtable.open(
        settings.model_copy(update={"dispatch_concurrency": 1}), program=program, clock=clock
    )
    try:
        order: list[str] = []

        class Ordered(RecordingPort):
            async def send_direct(self, recipient, message, *, key=None):
                order.append(message.kind)
                return await super().send_direct(recipient, message, key=key)

        for i in range(5):
            await core.register(person(f"p{i}"), "workshop")
        # an announcement to all five, queued before their reminders fall due
        reply = await core.handle(
            Invocation(
                person("org"), "announce", {"session": "workshop", "message": "Bring a pen"}, organizer=True
            )
        )
        assert reply.ok, reply.text
        await clock.set(core.program.session("workshop").starts_at - timedelta(hours=1))
        core.attach(Ordered())
        await core.dispatch_due()
        assert order[:5] == ["reminder"] * 5 and order[5:] == ["announcement"] * 5
    finally:
        await core.close(grace=1)


async def test_leases_are_renewed_while_sending(core, clock, monkeypatch):
    from shared import dispatcher as dispatching

    monkeypatch.setattr(dispatching, "RENEW_EVERY", 0.05)
    port = RecordingPort(delay=0.4)
    core.attach(port)
    await core.register(person("ann"), "roundtable")
    await clock.set(roundtable_start(core) - timedelta(days=1))
    sending = asyncio.create_task(core.dispatch_due())
    await until(lambda: port.started == 1)
    await clock.advance(outbox.LEASE * 2)  # long past the first lease
    await asyncio.sleep(0.15)
    async with core.db.transaction() as conn:
        assert await outbox.recover(conn, clock.now()) == 0  # renewed: still ours
    await sending
    [row] = await outbox_rows(core, offset_seconds=86400)
    assert row.state == "sent" and len(port.direct) == 1
