"""A launch burst over Slack HTTP: ack first, one auth.test, busy past the bound, no doubles."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from bots.slack import adapter
from bots.slack.adapter import SlackAdapter
from shared.app import Roundtable
from shared.store.schema import registrations
from tests.slack.slack_standin import SlackStandIn, post_signed
from tests.slack.test_slack_http import texts

PEOPLE = [f"UBURST{n:03d}" for n in range(40)]


async def seats(core: Roundtable) -> int:
    async with core.db.transaction() as conn:
        return int((await conn.execute(select(func.count()).select_from(registrations))).scalar_one())


def hold_the_core(core: Roundtable, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Make every command wait for the returned gate, so that work piles up behind the acks."""
    gate = asyncio.Event()
    handle = core.handle

    async def held(inv: Any) -> Any:
        await gate.wait()
        return await handle(inv)

    monkeypatch.setattr(core, "handle", held)
    return gate


async def test_a_burst_is_acked_answered_once_each_with_one_auth_test(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable
) -> None:
    for user in PEOPLE:
        standin.add_user(user, user.lower())
    payloads = [standin.slash("/register", "workshop", user=u, key=f"burst-{u}") for u in PEOPLE]
    acks = await asyncio.gather(*(post_signed(http_bot.events_url, "slash_commands", p) for p in payloads))
    assert set(acks) == {(200, "")}
    answers = await standin.wait_for("response_url", len(PEOPLE), within=20)
    assert sorted(r.path.rsplit("/", 1)[1] for r in answers) == sorted(f"burst-{u}" for u in PEOPLE)
    shown = [texts(r.args["blocks"]) for r in answers]
    assert sum("waitlist" in t.lower() for t in shown) == len(PEOPLE) - 1  # one seat in this program
    assert await seats(sqlite_core) == len(PEOPLE)
    # authorized once at start, never per request
    assert len(standin.calls("auth.test")) == 1
    assert all(len(standin.calls("users.info", user=u)) == 1 for u in PEOPLE)


async def test_past_the_queue_bound_people_are_told_to_try_again(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = hold_the_core(sqlite_core, monkeypatch)
    monkeypatch.setattr(sqlite_core.work, "bound", 2)
    monkeypatch.setattr(sqlite_core.work, "workers", 1)
    for user in PEOPLE[:6]:
        standin.add_user(user, user.lower())
    acks = []
    for user in PEOPLE[:6]:  # one by one, so that which ones fit is certain
        payload = standin.slash("/register", "workshop", user=user, key=f"busy-{user}")
        acks.append(await post_signed(http_bot.events_url, "slash_commands", payload))
        await asyncio.sleep(0.02)
    assert all(status == 200 for status, _ in acks)
    busy = [body for _, body in acks if body]
    # one running, two waiting: the other three hear "busy" in the ack itself
    assert len(busy) == 3 and all("try again" in b for b in busy)
    gate.set()
    answers = await standin.wait_for("response_url", 3, within=10)
    await standin.quiet(0.3)
    assert len(standin.calls("response_url")) == 3 == len(answers)
    assert await seats(sqlite_core) == 3  # nothing done for the busy ones


async def test_a_slack_retry_of_an_answered_request_is_dropped(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable
) -> None:
    payload = standin.slash("/register", "workshop", user="UALICE01", key="retried")
    assert await post_signed(http_bot.events_url, "slash_commands", payload) == (200, "")
    await standin.wait_for("response_url")
    assert await post_signed(http_bot.events_url, "slash_commands", payload, retry=1) == (200, "")
    await standin.quiet(0.3)
    assert len(standin.calls("response_url")) == 1
    assert await seats(sqlite_core) == 1


async def test_a_double_click_registers_once_and_answers_once(
    http_bot: SlackAdapter,
    standin: SlackStandIn,
    sqlite_core: Roundtable,
    monkeypatch: pytest.MonkeyPatch,
    recwarn: pytest.WarningsRecorder,
) -> None:
    gate = hold_the_core(sqlite_core, monkeypatch)
    for n in (1, 2):
        payload = standin.click("/register workshop", user="UALICE01", key=f"click-{n}")
        status, _ = await post_signed(http_bot.events_url, "interactive", payload)
        assert status == 200
    gate.set()
    [answer] = await standin.wait_for("response_url")
    await standin.quiet(0.3)
    assert len(standin.calls("response_url")) == 1 and "workshop" in texts(answer.args["blocks"]).lower()
    # the dropped click started no identity lookup of its own (no coroutine left unawaited)
    gc.collect()
    assert not [w for w in recwarn if "never awaited" in str(w.message)]
    assert await seats(sqlite_core) == 1


async def test_the_ack_does_not_wait_for_users_info(
    http_bot: SlackAdapter, standin: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up = asyncio.Event()
    look_up = http_bot._look_up

    async def slow_lookup(user_id: str) -> Any:
        await looked_up.wait()
        return await look_up(user_id)

    monkeypatch.setattr(http_bot, "_look_up", slow_lookup)
    payload = standin.slash("/schedule", "", user="UCAROL01", key="slow-lookup")
    # acked while users.info is still held back
    assert await post_signed(http_bot.events_url, "slash_commands", payload) == (200, "")
    assert not standin.calls("response_url")
    looked_up.set()
    await standin.wait_for("response_url")


async def test_socket_mode_acks_before_the_core_answers_and_says_busy_past_the_bound(
    sqlite_core: Roundtable, slack_settings: Any, standin: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = hold_the_core(sqlite_core, monkeypatch)
    monkeypatch.setattr(sqlite_core.work, "workers", 1)
    bot = SlackAdapter(sqlite_core, slack_settings)
    await bot.start()
    try:
        # one runs (held by the gate), one waits, the third is refused; all acked at once
        monkeypatch.setattr(sqlite_core.work, "bound", 1)
        first = await standin.send_envelope(
            "slash_commands", standin.slash("/register", "workshop", user="UALICE01", key="sock1")
        )
        assert first.get("payload") in (None, {})
        await asyncio.sleep(0.05)
        second = await standin.send_envelope(
            "slash_commands", standin.slash("/register", "workshop", user="UBOB0001", key="sock2")
        )
        assert second.get("payload") in (None, {})  # queued behind the first
        third = await standin.send_envelope(
            "slash_commands", standin.slash("/register", "workshop", user="UCAROL01", key="sock3")
        )
        assert "try again" in third["payload"]["text"]  # the ack itself says busy
        assert not standin.calls("response_url")
        gate.set()
        answers = await standin.wait_for("response_url", 2)
        assert sorted(r.path.rsplit("/", 1)[1] for r in answers) == ["sock1", "sock2"]
    finally:
        await bot.close()


async def test_slack_failing_for_everyone_logs_a_few_lines_not_one_per_command(
    http_bot: SlackAdapter, standin: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    # a log line costs the loop far more than an ack: a burst must not write one per person
    caplog.set_level(logging.WARNING, logger="bots.slack.adapter")
    standin.fail("users.info", "ratelimited", times=None)
    people = [f"UFLOOD{n:03d}" for n in range(30)]
    payloads = [standin.slash("/register", "workshop", user=u, key=f"flood-{u}") for u in people]
    acks = await asyncio.gather(*(post_signed(http_bot.events_url, "slash_commands", p) for p in payloads))
    assert set(acks) == {(200, "")}
    await standin.wait_for("response_url", len(people), within=20)  # everyone still answered
    lines = [r.getMessage() for r in caplog.records if "users.info" in r.getMessage()]
    assert len(lines) == adapter.WARNINGS_PER_MINUTE + 1
    assert "not logging them for a minute" in lines[-1]
