"""The one inbound path every adapter uses: parse, invoke, handle, apologise."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import TYPE_CHECKING

from shared import i18n, replies
from shared.commands import COMMANDS, Invocation, parse_line
from shared.errors import Refusal
from shared.identity import Identity
from shared.messages import Message, refusal
from shared.store.database import StorageUnavailable

if TYPE_CHECKING:
    from shared.app import Roundtable

log = logging.getLogger(__name__)

# an adapter may know at once whether someone organizes, or only after a lookup it would
# rather not make for every command
Organizer = bool | Callable[[], Awaitable[bool]]


async def respond(
    core: Roundtable,
    identity: Identity,
    *,
    command: str | None = None,
    args: dict[str, str] | None = None,
    line: str | None = None,
    organizer: Organizer = False,
) -> Message:
    """The reply to a command given by name and arguments, or typed as a line.

    Bad input comes back as a polite refusal, a failure of ours as the one apology;
    nothing raises.
    """
    if core.db.lost is not None:
        return replies.storage_unavailable()
    try:
        if line is not None:
            try:
                command, args = parse_line(line)
            except Refusal:
                # said again in the reader's language
                mine = await core._prefs(identity)
                with i18n.using(mine.locale) as locale:
                    try:
                        parse_line(line)
                    except Refusal as exc:
                        return dataclasses.replace(refusal(str(exc), error_field=exc.field), locale=locale)
                raise
        spec = COMMANDS.get(command or "")
        if spec is None:
            return replies.unknown_command(command or "")
        allowed = False
        if spec.organizer_only or spec.name == "help":
            allowed = organizer if isinstance(organizer, bool) else await organizer()
        return await core.handle(Invocation(identity, spec.name, dict(args or {}), organizer=allowed))
    except Refusal as exc:
        return refusal(str(exc), error_field=exc.field)
    except StorageUnavailable as exc:
        core.storage_lost(exc)
        return replies.storage_unavailable()
    except Exception:
        log.exception("/%s from %s failed", command or "?", identity.platform)
        return replies.apology()


class Admission(enum.Enum):
    """What the work queue did with a job."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # the same person's same command is already queued or running
    BUSY = "busy"  # the queue is full: the adapter says so politely instead of timing out


Job = Callable[[], Awaitable[object]]


class WorkQueue:
    """The bounded queue behind every adapter's ack, worked by a small pool.

    Adapters acknowledge an interaction first, then :meth:`submit` the work; the answer goes
    out through the platform's follow-up path. The bound turns an overload into a polite
    "busy" reply rather than a pile of late acks, and the pool keeps the event loop free
    enough to keep acknowledging. A job keyed like one already waiting or running (a double
    click, a platform's retry) is refused as a duplicate, so each person gets one answer.
    """

    def __init__(self, *, workers: int = 8, bound: int = 2000, linger: float = 0.0) -> None:
        self.workers = workers
        self.bound = bound
        # a key stays taken this long after its job ends; 0: only while queued or running, so
        # that the same command typed again later is answered again
        self.linger = linger
        self._queue: asyncio.Queue[tuple[Job, Hashable | None]] = asyncio.Queue()
        self._keys: dict[Hashable, float] = {}  # key -> time it frees (inf while queued/running)
        self._pool: list[asyncio.Task[None]] = []
        self._urgent: set[asyncio.Task[object]] = set()
        self._closed = False

    def __len__(self) -> int:
        return self._queue.qsize()

    def full(self) -> bool:
        return self._closed or self._queue.qsize() >= self.bound

    def submit(self, job: Job, *, key: Hashable | None = None) -> Admission:
        """Queue ``job`` (never blocks); the caller answers BUSY and DUPLICATE itself."""
        if key is not None and self._taken(key):
            return Admission.DUPLICATE
        if self.full():
            return Admission.BUSY
        self._ensure_pool()
        if key is not None:
            self._keys[key] = math.inf
        self._queue.put_nowait((job, key))
        return Admission.ACCEPTED

    def urgent(self, job: Job) -> None:
        """Run ``job`` now, beside the queue: for answers with a deadline of their own
        (a form must open within the 3 seconds its trigger lives)."""
        task = asyncio.ensure_future(self._guarded(job))
        self._urgent.add(task)
        task.add_done_callback(self._urgent.discard)

    def _taken(self, key: Hashable) -> bool:
        frees = self._keys.get(key)
        if frees is None:
            return False
        if frees > time.monotonic():
            return True
        del self._keys[key]
        return False

    def _ensure_pool(self) -> None:
        # started on first use: the queue is made before any event loop runs
        self._pool = [t for t in self._pool if not t.done()]
        while len(self._pool) < self.workers:
            self._pool.append(asyncio.ensure_future(self._work()))

    async def _work(self) -> None:
        while True:
            job, key = await self._queue.get()
            try:
                await self._guarded(job)
            finally:
                if key is not None:
                    self._keys[key] = time.monotonic() + self.linger
                    if len(self._keys) > 4 * self.bound:  # forget freed keys now and then
                        now = time.monotonic()
                        self._keys = {k: t for k, t in self._keys.items() if t > now}
                self._queue.task_done()

    @staticmethod
    async def _guarded(job: Job) -> None:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:  # a job answers its own errors; this is the last resort
            log.exception("inbound: a queued command failed")

    async def close(self, grace: float = 1.0) -> None:
        """Take nothing new; let queued and running work finish for ``grace`` seconds."""
        self._closed = True
        if self._pool or self._urgent:
            waiting = [asyncio.ensure_future(self._queue.join()), *self._urgent]
            _, pending = await asyncio.wait(waiting, timeout=grace)
            for task in [*pending, *self._pool]:
                task.cancel()
            await asyncio.gather(*pending, *self._pool, return_exceptions=True)
        self._pool = []
