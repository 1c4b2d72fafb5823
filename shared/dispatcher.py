"""The reminder dispatcher: sleeps until the next due message, sends due ones through the ports.

Delivery is at most once: a row is claimed (``sending``) before the platform is called and
is never claimed again, whatever happens next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import notices, outbox, people
from shared.clock import Clock
from shared.identity import Reach
from shared.port import PLATFORM_ERROR, DeliveryError, DeliveryPort
from shared.program import Program
from shared.store.database import Database

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
# a safety net: on SQLite, rows added by other processes cannot wake this one
RECHECK = timedelta(minutes=5)
RETRY_DELAYS = (1.0, 3.0, 9.0)
# after the grace and the interrupted sends, how long the loop may take to record them and end
STOP_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Outcome:
    state: str
    reason: str | None = None
    detail: str | None = None
    dm_channel: str | None = None


class Dispatcher:
    def __init__(
        self,
        db: Database,
        program: Program,
        clock: Clock,
        *,
        concurrency: int = 8,
        retries: int = 3,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        self.db = db
        self.program = program
        self.clock = clock
        self.concurrency = concurrency
        self.retries = retries
        self.retry_delays = retry_delays
        self.ports: dict[str, DeliveryPort] = {}
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._next: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._pass_lock = asyncio.Lock()
        self._writing: set[asyncio.Task[None]] = set()
        # the platform calls in flight: the only work stop() interrupts, never a transaction
        self._sends: set[asyncio.Task[Outcome]] = set()
        self._cut_off = False
        self._listener: AsyncConnection | None = None

    # -- ports -----------------------------------------------------------------------------
    def attach(self, port: DeliveryPort) -> None:
        self.ports[port.platform] = port
        self.poke()

    def detach(self, port: DeliveryPort) -> None:
        if self.ports.get(port.platform) is port:
            del self.ports[port.platform]

    def reaches(self) -> list[Reach]:
        return [reach for port in self.ports.values() for reach in port.reach()]

    # -- waking ----------------------------------------------------------------------------
    def added(self, due_at: datetime | None = None) -> None:
        """Something was queued; wake the loop only if it is due before the current sleep ends."""
        if due_at is None or self._next is None or due_at < self._next:
            self._wake.set()

    def poke(self) -> None:
        self._wake.set()

    # -- the loop --------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._cut_off = False
            await self._listen()
            self._task = asyncio.create_task(self._run(), name="roundtable-dispatcher")

    async def _listen(self) -> None:
        """On PostgreSQL, wake up when another process queues something (LISTEN/NOTIFY)."""
        if self.db.is_sqlite:
            return
        try:
            self._listener = await self.db.engine.connect()
            raw = await self._listener.get_raw_connection()
            await raw.driver_connection.add_listener(outbox.CHANNEL, self._notified)
        except Exception as exc:
            # without it, other processes' messages are still found at the next recheck
            log.warning("cannot listen for queued messages (%s); rechecking every %s", exc, RECHECK)
            await self._unlisten()

    def _notified(self, _connection, pid: int, _channel: str, _payload: str) -> None:
        # what this core queued woke the loop already, through added(), only if due sooner
        if pid not in self.db.backend_pids:
            self.poke()

    async def _unlisten(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.close()

    async def _run(self) -> None:
        while not self._stopping:
            # cleared before looking at the queue, so a wake-up that arrives meanwhile is kept
            self._wake.clear()
            try:
                async with self.db.transaction() as conn:
                    stale = await outbox.expire_stale(conn, self.clock.now(), LEASE)
                if stale:
                    log.warning("%d messages were claimed by a sender that stopped mid-send", stale)
                await self.dispatch_due()
                reaches = self.reaches()
                async with self.db.transaction() as conn:
                    now = self.clock.now()
                    due = await outbox.next_due(conn, reaches, now) if reaches else None
                self._next = min(due, now + RECHECK) if due else now + RECHECK
                if self._stopping or (due is not None and due <= now):
                    continue
                await self.clock.sleep_until(self._next, self._wake)
            except asyncio.CancelledError:
                raise
            except Exception:
                # a database hiccup must not end reminders for good
                log.exception("the dispatcher loop failed; trying again shortly")
                await self.clock.sleep_until(self.clock.now() + timedelta(seconds=5), self._wake)

    async def dispatch_due(self) -> int:
        """Send everything due now; returns how many rows were handled.

        Rows are claimed ``concurrency`` at a time and all of a claim is sent at once, so a
        claimed row is never left waiting for a slot (a crash then loses no untouched row).
        """
        handled = 0
        async with self._pass_lock:
            while not self._stopping:
                reaches = self.reaches()
                if not reaches:
                    break
                now = self.clock.now()
                async with self.db.transaction() as conn:
                    rows = await outbox.claim(conn, reaches, now, self.concurrency, self.name)
                if not rows:
                    break
                await self._send_batch(rows)
                handled += len(rows)
                if len(rows) < self.concurrency:
                    break
        return handled

    async def _send_batch(self, rows: list[Row]) -> None:
        started: set[int] = set()
        tasks = [asyncio.create_task(self._deliver(row, started)) for row in rows]
        try:
            # every task runs to its end: none may go on sending after its row was handed back
            results = await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            unsent = [row.id for row in rows if row.id not in started]
            if unsent:
                await asyncio.shield(self._release(unsent))
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, Exception):
                log.error("message %s could not be handled: %r", row.id, result)

    async def _release(self, row_ids: list[int]) -> None:
        async with self.db.transaction() as conn:
            await outbox.release(conn, row_ids, self.name)

    async def _record(self, row: Row, outcome: Outcome) -> None:
        """Write an outcome even if we are being cancelled: the platform call is over."""
        task = asyncio.create_task(self._write(row, outcome))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)
        await asyncio.shield(task)

    async def _write(self, row: Row, outcome: Outcome) -> None:
        async with self.db.transaction() as conn:
            await outbox.finish(
                conn, row.id, self.name, outcome.state, self.clock.now(), outcome.reason, outcome.detail
            )
            if outcome.dm_channel and row.identity_id:
                await people.remember_dm_channel(conn, row.identity_id, outcome.dm_channel)

    async def _deliver(self, row: Row, started: set[int]) -> None:
        """Send one claimed row. Until ``started`` holds it, the row is handed back on failure."""
        if self._stopping:
            return
        port = self.ports.get(row.platform)
        if port is None:
            return
        now = self.clock.now()
        async with self.db.transaction() as conn:
            prepared = await notices.prepare(conn, self.program, row, now)
            recipient = await people.recipient(conn, row.identity_id) if row.identity_id else None
        if self._cut_off:
            return  # stopped while preparing: not started, so handed back
        started.add(row.id)
        if isinstance(prepared, notices.Skip):
            await self._record(row, Outcome(outbox.SKIPPED, prepared.reason))
            return
        if isinstance(prepared, notices.Send) and recipient is None:
            await self._record(row, Outcome(outbox.SKIPPED, "unknown_recipient"))
            return
        send = asyncio.ensure_future(self._attempt(row, port, prepared, recipient))
        self._sends.add(send)
        send.add_done_callback(self._sends.discard)
        try:
            outcome = await send
        except asyncio.CancelledError:
            # the platform may or may not have it: never send it again
            await self._record(row, Outcome(outbox.FAILED, "interrupted", "stopped mid-send"))
            if asyncio.current_task().cancelling():  # type: ignore[union-attr]
                raise
            return  # stop() interrupted the send, not this task
        await self._record(row, outcome)

    async def _attempt(self, row: Row, port: DeliveryPort, prepared, recipient) -> Outcome:
        for attempt in range(self.retries + 1):
            try:
                if isinstance(prepared, notices.Post):
                    await port.post_insight(prepared.channel, prepared.post)
                    return Outcome(outbox.SENT)
                receipt = await port.send_direct(recipient, prepared.message)
                changed = receipt.dm_channel if receipt.dm_channel != recipient.dm_channel else None
                return Outcome(outbox.SENT, dm_channel=changed)
            except DeliveryError as exc:
                if exc.retryable and attempt < self.retries and not self._stopping:
                    delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
                    log.info("retrying message %s in %.0fs: %s", row.id, delay, exc)
                    await asyncio.sleep(delay)
                    continue
                reason = exc.reason if not exc.retryable else PLATFORM_ERROR
                log.warning("message %s to %s failed: %s", row.id, row.platform, exc)
                return Outcome(outbox.FAILED, reason, exc.detail or str(exc))
            except Exception as exc:
                log.exception("message %s to %s failed unexpectedly", row.id, row.platform)
                return Outcome(outbox.FAILED, PLATFORM_ERROR, repr(exc))
        raise AssertionError("unreachable")

    async def stop(self, grace: float = 8.0) -> None:
        """Take no new work; let sends in flight finish for ``grace`` seconds, then stop.

        Past the grace only the platform calls are interrupted, not the loop: a transaction
        cancelled half-way can leave its connection, and SQLite's write lock, behind, or
        claimed rows that are neither sent nor handed back.
        """
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            self._cut_off = True
            for send in list(self._sends):
                send.cancel()
            done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
        if not done:  # the database does not answer: give up on it
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)
        await self._unlisten()
