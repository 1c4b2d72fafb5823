"""Clocks: the real one, and a controllable one for tests. Both are aware and UTC."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        """Return at ``when`` or as soon as ``wake`` is set, whichever comes first."""
        ...


def utcnow() -> datetime:
    return datetime.now(UTC)


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        delay = (when - self.now()).total_seconds()
        if delay <= 0:
            return
        # long sleeps are capped so that wall-clock jumps (suspend, NTP) are noticed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=min(delay, 3600))


class FakeClock:
    """A clock that moves only when a test calls :meth:`advance` or :meth:`set`."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._tick = asyncio.Event()

    def now(self) -> datetime:
        return self._now

    async def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()
        # let woken sleepers run before the test goes on
        for _ in range(5):
            await asyncio.sleep(0)

    async def advance(self, delta: timedelta) -> None:
        await self.set(self._now + delta)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        while self._now < when and not wake.is_set():
            tick = asyncio.ensure_future(self._tick.wait())
            woken = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({tick, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                tick.cancel()
                woken.cancel()


def parse_duration(text: str) -> timedelta:
    """Parse ``1d``, ``1h``, ``10m``, ``30s`` or combinations such as ``1h30m``."""
    import re

    text = text.strip().lower()
    match = re.fullmatch(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not text or match is None:
        raise ValueError(f"{text!r} is not a duration like 1d, 1h, 10m or 1h30m")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


__all__ = ["Clock", "FakeClock", "SystemClock", "format_duration", "parse_duration", "timedelta", "utcnow"]
