"""``roundtable run``: every adapter whose credentials are set, in one process, one dispatcher."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Protocol

from shared.app import Roundtable
from shared.program import Program
from shared.settings import Settings

log = logging.getLogger("roundtable")


class Adapter(Protocol):
    platform: str

    async def close(self) -> None: ...


def enabled_adapters(settings: Settings) -> list[str]:
    names = []
    if settings.discord_enabled:
        names.append("discord")
    if settings.slack_enabled:
        names.append(f"slack ({settings.slack_mode})")
    return names


async def _start_discord(core: Roundtable) -> Adapter:
    from bots.discord import DiscordAdapter

    adapter = DiscordAdapter(core)
    try:
        await adapter.start()
    except BaseException:
        await adapter.close()
        raise
    guilds = ", ".join(f"{g.name} ({g.id})" for g in adapter.client.guilds) or "no server yet"
    log.info("Discord adapter started for %s", guilds)
    return adapter


async def _start_slack(core: Roundtable) -> Adapter:
    from bots.slack import SlackAdapter

    adapter = SlackAdapter(core)
    try:
        await adapter.connect()
    except BaseException:
        await adapter.close()
        raise
    log.info("Slack adapter started (%s mode) for workspace %s", adapter.mode, adapter.team_id)
    return adapter


async def _close_all(adapters: list[Adapter]) -> None:
    """Close every adapter at once, two seconds at most."""

    async def close(adapter: Adapter) -> None:
        try:
            await asyncio.wait_for(adapter.close(), timeout=2)
        except Exception as exc:
            log.warning("closing the %s adapter failed: %s", adapter.platform, exc)

    await asyncio.gather(*(close(a) for a in adapters))


async def run(settings: Settings, program: Program, *, console_name: str) -> int:
    from bots.cli import cmd_console, open_core

    if not enabled_adapters(settings):
        log.info("No platform tokens are set: opening the console adapter as %s", console_name)
        return await cmd_console(argparse.Namespace(name=console_name, organizer=False), settings, program)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    core = await open_core(settings, program)
    starters = []
    if settings.discord_enabled:
        starters.append(("Discord", _start_discord(core)))
    if settings.slack_enabled:
        starters.append(("Slack", _start_slack(core)))
    # side by side: a slow or failing platform does not hold up the other
    tasks = [asyncio.ensure_future(start) for _, start in starters]
    starting = asyncio.gather(*tasks, return_exceptions=True)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not starting.done():
        # SIGTERM while a platform is still connecting (up to 30 s): abandon the start
        log.info("Stopping before every adapter started")
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await _close_all([t.result() for t in tasks if not t.cancelled() and t.exception() is None])
        await core.close(grace=0.1)
        log.info("Stopped.")
        return 0
    results = starting.result()
    adapters: list[Adapter] = []
    for (name, _), result in zip(starters, results, strict=True):
        if isinstance(result, BaseException):
            log.error("%s adapter did not start: %s", name, result)
        else:
            adapters.append(result)
    if not adapters:
        log.error("No adapter could start; stopping.")
        await core.close()
        return 2

    await core.start()
    log.info(
        "Roundtable is running with %s. Stop with Ctrl-C or SIGTERM.", ", ".join(a.platform for a in adapters)
    )
    await stop.wait()

    log.info("Stopping: finishing the messages in flight (at most %g s)", settings.shutdown_grace)
    # the dispatcher first, while the platforms can still take what is in flight
    await core.dispatcher.stop(settings.shutdown_grace)
    await _close_all(adapters)
    await core.close(grace=0.1)
    log.info("Stopped.")
    return 0
