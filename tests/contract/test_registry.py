"""A fourth platform joins through the registry alone: the runner finds it, starts it, stops it."""

from __future__ import annotations

import asyncio
import gc
import os
import signal

from bots import registry, runner
from tests.conftest import make_settings
from tests.contract import memo_adapter
from tests.support import opened_core, until, with_capacity


async def test_the_runner_starts_and_stops_a_registered_adapter(sqlite_url, clock, monkeypatch):
    registry.register(memo_adapter.ADAPTER)
    try:
        chosen = runner.choose(registry.plugins(), {"memo": {"MEMO_ENABLED": True}})
        assert [c.plugin.name for c in chosen] == ["memo"]  # enabled, so the console stays out
        without = runner.choose(registry.plugins())
        assert [c.plugin.name for c in without] == ["console"]
        async with opened_core(make_settings(sqlite_url), with_capacity(1, memo="room-1"), clock) as core:
            running = asyncio.create_task(runner.run(core, chosen))
            await until(lambda: "memo" in core.platforms(), what="the memo adapter to attach")
            # what start-up made is out of the collector's way while serving, and back after
            await until(lambda: gc.get_freeze_count() > 0, what="the start-up objects to be frozen")
            os.kill(os.getpid(), signal.SIGTERM)
            assert await asyncio.wait_for(running, 10) == 0
            assert core.platforms() == []
            assert gc.get_freeze_count() == 0
    finally:
        registry.unregister("memo")


def test_check_knows_each_adapters_channel_ids():
    program = with_capacity(None, slack="not-a-slack-id", discord="1200000000000000001", matrix="!room")
    problems = runner.channel_problems(program, registry.plugins())
    assert any("channels.slack" in p and "not a Slack channel id" in p for p in problems)
    assert not any("channels.discord" in p for p in problems)
    assert any("no adapter called 'matrix'" in p for p in problems)


async def test_an_adapter_that_lost_its_platform_for_good_makes_run_exit_3(sqlite_url, clock, monkeypatch):
    from shared.errors import AdapterDied

    async def died(self) -> None:
        await asyncio.sleep(0.05)
        raise AdapterDied("the memo line did not come back within 1s")

    monkeypatch.setattr(memo_adapter.MemoAdapter, "wait", died)
    registry.register(memo_adapter.ADAPTER)
    try:
        chosen = runner.choose(registry.plugins(), {"memo": {"MEMO_ENABLED": True}})
        async with opened_core(make_settings(sqlite_url), with_capacity(1, memo="room-1"), clock) as core:
            assert await asyncio.wait_for(runner.run(core, chosen), 10) == runner.DIED == 3
    finally:
        registry.unregister("memo")
