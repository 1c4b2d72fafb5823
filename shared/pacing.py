"""Pacing a lane of sends to a platform's ceiling: a static limiter, and an adaptive one.

Both are shared by every send of one adapter (acquire before each platform request).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class RateLimiter:
    """At most ``rate`` requests per second, evenly spaced (a token bucket of ``burst``).

    Acquiring reserves the next free moment, so concurrent senders queue up fairly.
    """

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._last = time.monotonic()

    def _reserve(self, cost: float) -> float:
        """Take ``cost`` tokens now, going into debt; returns how long to wait for them."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= cost
        return max(0.0, -self._tokens / self.rate)

    async def acquire(self, cost: float = 1.0) -> None:
        wait = self._reserve(cost)
        if wait > 0:
            await asyncio.sleep(wait)


class AdaptivePacer:
    """No cap until the platform pushes back.

    A 429 pauses every send for its ``Retry-After`` and sets a cap at half the rate that
    tripped it; then each ``window`` seconds without a 429 raise the cap by ``step``, until
    it is lifted again. So an unthrottled workspace is never held back.
    """

    def __init__(self, *, floor: float = 1.0, step: float = 1.25, window: float = 2.0, lift: float = 200.0):
        self.floor = floor
        self.step = step
        self.window = window
        self.lift = lift  # past this many per second the cap is dropped
        self.limiter: RateLimiter | None = None
        self._paused_until = 0.0
        self._calm_since = 0.0
        self._recent: deque[float] = deque()

    @property
    def rate(self) -> float | None:
        return self.limiter.rate if self.limiter else None

    def _observed(self, now: float) -> float:
        while self._recent and now - self._recent[0] > 1.0:
            self._recent.popleft()
        return float(len(self._recent))

    async def acquire(self) -> None:
        now = time.monotonic()
        if self._paused_until > now:
            await asyncio.sleep(self._paused_until - now)
        if self.limiter is not None:
            now = time.monotonic()
            if now - self._calm_since >= self.window:
                self._calm_since = now
                faster = self.limiter.rate * self.step
                self.limiter = None if faster >= self.lift else RateLimiter(faster)
            if self.limiter is not None:
                await self.limiter.acquire()
        self._recent.append(time.monotonic())

    def throttled(self, retry_after: float) -> None:
        """The platform answered 429: pause, and slow down."""
        now = time.monotonic()
        self._paused_until = max(self._paused_until, now + retry_after)
        current = self.limiter.rate if self.limiter else max(self._observed(now), self.floor * 2)
        self.limiter = RateLimiter(max(self.floor, current / 2))
        self._calm_since = now + retry_after
