"""``roundtable run``: every enabled adapter in one process, around one core and one dispatcher.

The runner knows adapters only through the registry (:mod:`bots.registry`) and the
:class:`shared.port.Adapter` life cycle: start, wait, close.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from dataclasses import dataclass
from typing import Any

from shared.app import Roundtable
from shared.errors import AdapterStartError
from shared.port import Adapter, AdapterPlugin
from shared.program import Program

log = logging.getLogger("roundtable")

CLOSE_TIMEOUT = 2.0
# the exit code when a running adapter lost its platform for good (see RECONNECT_WITHIN)
DIED = 3
# the database cannot keep what it is given (a vanished SQLite file, a read-only disk)
STORAGE_LOST = 3


@dataclass(frozen=True, slots=True)
class Chosen:
    plugin: AdapterPlugin
    settings: Any


def choose(plugins: list[AdapterPlugin], overrides: dict[str, dict[str, Any]] | None = None) -> list[Chosen]:
    """The adapters `run` starts: every enabled one, else the fallback (the console).

    ``overrides`` maps an adapter's name to settings that win over its environment.
    """
    overrides = overrides or {}
    chosen = []
    for plugin in plugins:
        if plugin.fallback:
            continue
        settings = plugin.settings(**overrides.get(plugin.name, {}))
        if settings.enabled:
            chosen.append(Chosen(plugin, settings))
    if chosen:
        return chosen
    return [Chosen(p, p.settings(**overrides.get(p.name, {}))) for p in plugins if p.fallback]


def settings_problems(
    plugins: list[AdapterPlugin], overrides: dict[str, dict[str, Any]] | None = None
) -> list[str]:
    """Adapter settings that cannot work as given; each adapter's own settings name them."""
    overrides = overrides or {}
    problems: list[str] = []
    for plugin in plugins:
        settings = plugin.settings(**overrides.get(plugin.name, {}))
        check = getattr(settings, "problems", None)
        if check is not None:
            problems.extend(check())
    return problems


def channel_problems(program: Program, plugins: list[AdapterPlugin], source: str = "program") -> list[str]:
    """Theme channels their adapter refuses, and channels for adapters nobody knows."""
    by_name = {p.name: p for p in plugins}
    problems = []
    for index, theme in enumerate(program.themes):
        for name, channel in theme.channels.items():
            where = f"{source}: themes[{index}].channels.{name} (id {theme.id!r})"
            plugin = by_name.get(name)
            if plugin is None:
                known = ", ".join(p.name for p in plugins if not p.fallback)
                problems.append(f"{where}: there is no adapter called {name!r}; the adapters are {known}")
            elif complaint := plugin.check_channel(channel):
                problems.append(f"{where}: {complaint}")
    return problems


async def _start(plugin: AdapterPlugin, core: Roundtable, settings: Any) -> Adapter:
    adapter = plugin.build(core, settings)
    try:
        await adapter.start()
    except BaseException:
        await _close(adapter, 0.1)
        raise
    return adapter


async def _close(adapter: Adapter, grace: float) -> None:
    try:
        await asyncio.wait_for(adapter.close(grace), timeout=grace + CLOSE_TIMEOUT)
    except Exception as exc:
        log.warning("closing the %s adapter failed: %s", adapter.platform, exc or type(exc).__name__)


async def _close_all(adapters: list[Adapter], grace: float = 0.5) -> None:
    await asyncio.gather(*(_close(a, grace) for a in adapters))


async def run(core: Roundtable, chosen: list[Chosen]) -> int:
    """Start the chosen adapters side by side, serve until a signal or until one ends, then stop.

    Returns the exit code: 0 after a clean stop, 2 when no adapter could start, 3 when a
    running adapter lost its connection and could not get it back in time.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        return await _serve(core, chosen, stop)
    finally:
        gc.unfreeze()  # a process that goes on (a test, an embedding) gets its collector back
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def _serve(core: Roundtable, chosen: list[Chosen], stop: asyncio.Event) -> int:
    # posts to a channel id the platform would refuse fail one by one later: say so now
    for problem in channel_problems(core.program, [c.plugin for c in chosen if not c.plugin.fallback]):
        if "there is no adapter called" not in problem:
            log.warning("%s", problem)
    # side by side: a slow or failing platform does not hold up the others
    tasks = [asyncio.ensure_future(_start(c.plugin, core, c.settings)) for c in chosen]
    starting = asyncio.gather(*tasks, return_exceptions=True)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not starting.done():
        # SIGTERM while a platform is still connecting: abandon the start
        log.info("Stopping before every adapter started")
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await _close_all([t.result() for t in tasks if not t.cancelled() and t.exception() is None])
        await core.stop(0.1)
        log.info("Stopped.")
        return 0
    adapters: list[Adapter] = []
    for choice, result in zip(chosen, starting.result(), strict=True):
        if isinstance(result, AdapterStartError):
            log.error("%s adapter did not start: %s", choice.plugin.label, result)
        elif isinstance(result, BaseException):
            log.error("%s adapter did not start: %r", choice.plugin.label, result)
        else:
            adapters.append(result)
    if not adapters:
        log.error("No adapter could start; stopping.")
        return 2

    await core.start()
    # what start-up made (modules, the schema, the adapters' apps) lives as long as the process:
    # frozen out of the collector's sight, so that a full collection in a burst scans only what
    # the burst made; it took about 80 ms over the start-up objects on a 2-core machine, every
    # ack waiting behind it
    gc.collect()
    gc.freeze()
    # a terminal chat needs no operator's news on its stderr
    news = logging.DEBUG if all(c.plugin.fallback for c in chosen) else logging.INFO
    log.log(
        news,
        "Roundtable is running with %s. Stop with Ctrl-C or SIGTERM.",
        ", ".join(a.label for a in adapters),
    )
    core.adapters = list(adapters)
    waits = {asyncio.ensure_future(a.wait()): a for a in adapters}
    stopped = asyncio.ensure_future(stop.wait())
    failed = asyncio.ensure_future(core.failed.wait())
    done, _ = await asyncio.wait({stopped, failed, *waits}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    for waiting, adapter in waits.items():
        if waiting in done and not waiting.cancelled() and waiting.exception() is not None:
            # a connection lost for good: exit non-zero so that the host restarts the process
            log.error("The %s adapter stopped: %s", adapter.label, waiting.exception())
            code = DIED
    for waiting in (stopped, failed, *waits):
        waiting.cancel()

    grace = core.settings.shutdown_grace
    log.log(news, "Stopping: finishing the messages in flight (at most %g s)", grace)
    # the dispatcher first, while the platforms can still take what is in flight
    await core.stop(grace)
    await _close_all(adapters)
    if core.failed.is_set():
        log.error("Stopped: %s", core.failure)
        return STORAGE_LOST
    log.log(news, "Stopped." if code == 0 else f"Stopped (exit code {code}).")
    return code
