"""The reminder dispatcher: one lane per platform, each a sliding window of sends.

A claim is a lease of a few seconds (``LEASE``), renewed while the sends are in flight. If a
dispatcher dies, the next one recovers its rows once the lease runs out (within 30 s) and
marks them ``unsure``: before sending one again it makes sure the platform does not have it
(the port sends a stable key the platform deduplicates on, or looks the key up in what the
conversation holds). A port that cannot deduplicate fails such a row
as ``interrupted`` instead: at most once. See "Delivery guarantees" in the README.

Faults stay local: a retryable failure goes back to the queue with a later due time
(exponential, jittered, capped) and frees its slot at once; every platform call has a
timeout; each platform has its own lane, so one platform's outage never holds the other's.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import random
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import notices, outbox, people
from shared.clock import Clock
from shared.identity import Reach, Recipient
from shared.port import CANNOT_DELETE, PLATFORM_ERROR, DeliveryError, DeliveryPort
from shared.program import Program
from shared.store.database import Database, StorageUnavailable

log = logging.getLogger(__name__)

LEASE = outbox.LEASE
# how often (in real seconds) a dispatcher with sends in flight renews its leases
RENEW_EVERY = 4.0
# how often expired leases of other dispatchers are looked for, at the least
RECOVER_EVERY = timedelta(seconds=5)
# a safety net: on SQLite, rows added by other processes cannot wake this one
RECHECK = timedelta(minutes=5)
# the first retry's delay; each next one doubles, up to the cap; with jitter
RETRY_DELAYS = (2.0,)
RETRY_CAP = 60.0
# every platform call ends within this many seconds, or counts as a retryable failure
SEND_TIMEOUT = 20.0
# a database error while preparing a row: try it again this much later
HICCUP = timedelta(seconds=1)
# after the grace and the interrupted sends, how long the loop may take to record them and end
STOP_TIMEOUT = 5.0


def key_of(row_id: int) -> str:
    """The stable id a platform deduplicates on (short: some platforms cap it at 25 characters)."""
    return f"rt{row_id}"


def _accepts_key(method) -> bool:
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return "key" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


class Lane:
    """One platform's sends: at most ``window`` in flight; a finished one frees its slot at once."""

    def __init__(self, port: DeliveryPort, window: int) -> None:
        self.port = port
        self.platform = port.platform
        self.window = window
        self.sends: set[asyncio.Task[None]] = set()
        self.lock = asyncio.Lock()
        self.keyed = _accepts_key(port.send_direct) and _accepts_key(port.post_insight)
        self.lookup = getattr(port, "find_sent", None)

    @property
    def free(self) -> int:
        return self.window - len(self.sends)


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
        retry_cap: float = RETRY_CAP,
        send_timeout: float = SEND_TIMEOUT,
        lease: timedelta = LEASE,
    ) -> None:
        self.db = db
        self.program = program
        self.clock = clock
        self.concurrency = concurrency
        self.retries = retries
        self.retry_delays = retry_delays
        self.retry_cap = retry_cap
        self.send_timeout = send_timeout
        self.lease = lease
        self.lanes: dict[str, Lane] = {}
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._next: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._stopping = False
        # outcomes waiting to be written, a batch per transaction
        self._results: list[outbox.Result] = []
        self._flusher: asyncio.Task[None] | None = None
        # per platform: up to when overdue reminders were checked for superseded ones
        self._since: dict[str, datetime] = {}
        self._listener: AsyncConnection | None = None

    # -- ports -----------------------------------------------------------------------------
    @property
    def ports(self) -> dict[str, DeliveryPort]:
        return {platform: lane.port for platform, lane in self.lanes.items()}

    def attach(self, port: DeliveryPort) -> None:
        self.lanes[port.platform] = Lane(port, self.concurrency)
        self.poke()

    def detach(self, port: DeliveryPort) -> None:
        lane = self.lanes.get(port.platform)
        if lane is not None and lane.port is port:
            del self.lanes[port.platform]

    def reaches(self) -> list[Reach]:
        return [reach for lane in self.lanes.values() for reach in lane.port.reach()]

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
        next_recover: datetime | None = None
        while not self._stopping:
            # cleared before looking at the queue, so a wake-up that arrives meanwhile is kept
            self._wake.clear()
            try:
                now = self.clock.now()
                if next_recover is None or now >= next_recover:
                    await self.recover()
                    next_recover = now + RECOVER_EVERY
                for lane in list(self.lanes.values()):
                    await self._fill(lane)
                # a full lane wakes the loop when a slot frees; only lanes with room look ahead
                open_reaches = [r for lane in self.lanes.values() if lane.free > 0 for r in lane.port.reach()]
                async with self.db.transaction() as conn:
                    now = self.clock.now()
                    due = await outbox.next_due(conn, open_reaches, now)
                    lease_end = await outbox.next_lease_end(conn, self.name)
                horizon = now + RECHECK
                if lease_end is not None:  # another dispatcher's claim may need recovering then
                    horizon = min(horizon, max(lease_end + timedelta(milliseconds=1), next_recover))
                self._next = min(due, horizon) if due else horizon
                if self._stopping or (due is not None and due <= now):
                    await asyncio.sleep(0)
                    continue
                await self.clock.sleep_until(self._next, self._wake)
            except asyncio.CancelledError:
                raise
            except StorageUnavailable as exc:
                # the file went from under the bot: the core's watcher stops it; one line here
                log.error("the dispatcher stopped: %s", exc)
                await self.clock.sleep_until(self.clock.now() + timedelta(seconds=5), self._wake)
            except Exception:
                # a database hiccup must not end reminders for good
                log.exception("the dispatcher loop failed; trying again shortly")
                await self.clock.sleep_until(self.clock.now() + timedelta(seconds=5), self._wake)

    async def recover(self) -> int:
        """Put back in the queue what dispatchers that died had claimed (their lease ran out)."""
        async with self.db.transaction() as conn:
            count = await outbox.recover(conn, self.clock.now(), self.name)
        if count:
            log.warning("recovered %d messages claimed by a sender that stopped mid-send", count)
            self.poke()
        return count

    async def dispatch_due(self) -> int:
        """Send everything due now and record the outcomes; returns how many rows were claimed."""
        handled = 0
        while not self._stopping:
            got = 0
            for lane in list(self.lanes.values()):
                got += await self._fill(lane)
            handled += got
            sends = [send for lane in self.lanes.values() for send in lane.sends]
            if not sends:
                if got == 0:
                    break
                continue
            await asyncio.wait(sends, return_when=asyncio.FIRST_COMPLETED)
        await self._settle()
        return handled

    async def _settle(self) -> None:
        """Wait until every outcome so far is written."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def _fill(self, lane: Lane) -> int:
        """Lease as many due rows as the lane has free slots, and start sending each at once."""
        async with lane.lock:
            free = lane.free
            if free <= 0 or self._stopping or self.lanes.get(lane.platform) is not lane:
                return 0
            reaches = lane.port.reach()
            if not reaches:
                return 0
            now = self.clock.now()
            async with self.db.transaction() as conn:
                await outbox.skip_superseded(conn, lane.platform, now, self._since.get(lane.platform))
                rows = await outbox.claim(conn, reaches, now, free, self.name, self.lease)
            self._since[lane.platform] = now
            for row in rows:
                send = asyncio.create_task(self._send(lane, row))
                lane.sends.add(send)
                send.add_done_callback(self._freed(lane))
            if rows:
                self._keep_leases()
            return len(rows)

    def _freed(self, lane: Lane):
        def done(task: asyncio.Task[None]) -> None:
            lane.sends.discard(task)
            self._wake.set()

        return done

    # -- leases ----------------------------------------------------------------------------
    def _keep_leases(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(), name="roundtable-leases")

    def _busy(self) -> bool:
        return (
            bool(self._results)
            or any(lane.sends for lane in self.lanes.values())
            or (self._flusher is not None and not self._flusher.done())
        )

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            if not self._busy():
                return
            try:
                async with self.db.transaction() as conn:
                    await outbox.renew(conn, self.name, self.clock.now(), self.lease)
            except Exception as exc:
                log.warning("could not renew the leases of the sends in flight: %s", exc)

    # -- one send --------------------------------------------------------------------------
    async def _send(self, lane: Lane, row: Row) -> None:
        try:
            result = await self._deliver(lane, row)
        except asyncio.CancelledError:
            # stop() cut it off: whether the platform has it is unknown
            result = outbox.Result(
                row.id, outbox.PENDING, "interrupted", "stopped mid-send", unsure=True, counts=False
            )
        except Exception as exc:
            log.exception("message %s could not be handled", row.id)
            result = outbox.Result(row.id, outbox.FAILED, PLATFORM_ERROR, repr(exc))
        self._results.append(result)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="roundtable-outcomes")

    async def _flush(self) -> None:
        """Write the outcomes gathered so far, a batch in one transaction."""
        failures = 0
        while self._results:
            batch, self._results = self._results, []
            try:
                async with self.db.transaction() as conn:
                    await outbox.record(conn, self.name, batch, self.clock.now())
            except Exception as exc:
                failures += 1
                if failures > 5 or self._stopping:
                    # the rows stay claimed; once the lease ends they are recovered, as unsure
                    log.error("could not record %d outcomes: %s", len(batch), exc)
                    return
                self._results[:0] = batch
                await asyncio.sleep(0.2 * failures)
                continue
            if any(r.state == outbox.PENDING for r in batch):
                self._wake.set()

    async def _deliver(self, lane: Lane, row: Row) -> outbox.Result:
        now = self.clock.now()
        try:
            if notices.needs_database(row):
                async with self.db.transaction() as conn:
                    prepared = await notices.prepare(conn, self.program, row, now)
                    recipient = await people.recipient(conn, row.identity_id) if row.identity_id else None
            else:
                prepared = await notices.prepare(None, self.program, row, now)
                recipient = (
                    Recipient(
                        row.platform,
                        row.to_workspace,
                        row.to_user,
                        row.to_name,
                        row.to_dm,
                        zone=row.to_zone,
                        locale=row.to_locale,
                    )
                    if row.to_user is not None
                    else None
                )
        except Exception as exc:
            log.warning("message %s: could not prepare it (%s); trying again shortly", row.id, exc)
            return outbox.Result(
                row.id, outbox.PENDING, "database", repr(exc), retry_at=now + HICCUP, counts=False
            )
        if isinstance(prepared, notices.Skip):
            return outbox.Result(row.id, outbox.SKIPPED, prepared.reason)
        if isinstance(prepared, notices.Send) and recipient is None:
            return outbox.Result(row.id, outbox.SKIPPED, "unknown_recipient")
        if isinstance(prepared, notices.Unpost):
            # taking a post down twice is harmless (gone counts as done): no key, no lookup
            return await self._unpost(lane, row, prepared, now)
        key = key_of(row.id)
        channel = prepared.channel if isinstance(prepared, notices.Post) else None
        if row.unsure:
            if lane.lookup is not None:
                try:
                    found = await asyncio.wait_for(
                        lane.lookup(key, recipient=recipient, channel=channel), self.send_timeout
                    )
                except (DeliveryError, TimeoutError) as exc:
                    return self._retry(row, now, "lookup", str(exc) or "timed out", unsure=True)
                if found:
                    log.info("message %s had reached %s before; not sent again", row.id, row.platform)
                    return outbox.Result(row.id, outbox.SENT)
            elif not lane.keyed:
                return outbox.Result(
                    row.id, outbox.FAILED, "interrupted", "the sender stopped mid-send; not sent again"
                )
        extra = {"key": key} if lane.keyed else {}
        try:
            if isinstance(prepared, notices.Post):
                posted = await asyncio.wait_for(
                    lane.port.post_insight(prepared.channel, prepared.post, **extra), self.send_timeout
                )
                ref = getattr(posted, "ref", None)
                return outbox.Result(row.id, outbox.SENT, ref=ref)
            assert recipient is not None
            receipt = await asyncio.wait_for(
                lane.port.send_direct(recipient, prepared.message, **extra), self.send_timeout
            )
        except TimeoutError:
            return self._retry(
                row, now, PLATFORM_ERROR, f"no answer within {self.send_timeout:g}s", unsure=True
            )
        except DeliveryError as exc:
            if exc.retry_after is not None:
                log.info("message %s: %s asks to wait %.1fs", row.id, row.platform, exc.retry_after)
                return _rate_limited(row, now, exc)
            if exc.retryable:
                return self._retry(
                    row, now, PLATFORM_ERROR, exc.detail or str(exc), unsure=exc.sent is not False
                )
            log.warning("message %s to %s failed: %s", row.id, row.platform, exc)
            return outbox.Result(row.id, outbox.FAILED, exc.reason, exc.detail or str(exc))
        except Exception as exc:
            log.exception("message %s to %s failed unexpectedly", row.id, row.platform)
            return outbox.Result(row.id, outbox.FAILED, PLATFORM_ERROR, repr(exc))
        changed = receipt.dm_channel if receipt.dm_channel != recipient.dm_channel else None
        return outbox.Result(row.id, outbox.SENT, identity_id=row.identity_id, dm_channel=changed)

    async def _unpost(self, lane: Lane, row: Row, prepared: notices.Unpost, now: datetime) -> outbox.Result:
        """Take down a post; what the platform refuses is recorded with the erasures."""
        delete_post = getattr(lane.port, "delete_post", None)
        if delete_post is None:
            return outbox.Result(
                row.id,
                outbox.FAILED,
                CANNOT_DELETE,
                "this platform cannot take posts down",
                gone=row.platform,
            )
        try:
            await asyncio.wait_for(delete_post(prepared.channel, prepared.ref), self.send_timeout)
        except TimeoutError:
            return self._retry_unpost(row, now, f"no answer within {self.send_timeout:g}s")
        except DeliveryError as exc:
            if exc.retry_after is not None:
                return _rate_limited(row, now, exc)
            if exc.retryable:
                return self._retry_unpost(row, now, exc.detail or str(exc))
            log.warning("post %s on %s could not be taken down: %s", row.id, row.platform, exc)
            return outbox.Result(row.id, outbox.FAILED, exc.reason, exc.detail or str(exc), gone=row.platform)
        except Exception as exc:
            log.exception("post %s on %s: taking it down failed unexpectedly", row.id, row.platform)
            return outbox.Result(row.id, outbox.FAILED, PLATFORM_ERROR, repr(exc), gone=row.platform)
        return outbox.Result(row.id, outbox.SENT)

    def _retry_unpost(self, row: Row, now: datetime, detail: str) -> outbox.Result:
        result = self._retry(row, now, PLATFORM_ERROR, detail, unsure=False)
        if result.state == outbox.FAILED:
            return outbox.Result(row.id, outbox.FAILED, result.reason, result.detail, gone=row.platform)
        return result

    def retry_delay(self, attempt: int) -> float:
        """Exponential from the first delay, capped, with jitter (half to all of it)."""
        base = self.retry_delays[0] if self.retry_delays else 1.0
        delay = min(self.retry_cap, base * 2 ** max(attempt - 1, 0))
        return delay * random.uniform(0.5, 1.0)

    def _retry(self, row: Row, now: datetime, reason: str, detail: str, *, unsure: bool) -> outbox.Result:
        if row.attempts > self.retries:
            log.warning(
                "message %s to %s failed after %d attempts: %s", row.id, row.platform, row.attempts, detail
            )
            return outbox.Result(row.id, outbox.FAILED, reason, detail)
        delay = self.retry_delay(row.attempts)
        log.info("message %s: %s; trying again in %.1fs", row.id, detail, delay)
        return outbox.Result(
            row.id, outbox.PENDING, reason, detail, retry_at=now + timedelta(seconds=delay), unsure=unsure
        )

    async def stop(self, grace: float = 8.0) -> None:
        """Take no new work; let sends in flight finish for ``grace`` seconds, then cut them off.

        A send cut off goes back to the queue as ``unsure`` (checked before it is sent again);
        its outcome, like every other, is written before this returns.
        """
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        if task is not None:
            # the loop ends at its next look at the queue; it is never cancelled inside a
            # transaction (that can leave SQLite's write lock, or claimed rows, behind)
            await asyncio.wait({task}, timeout=grace)
        sends = [send for lane in self.lanes.values() for send in lane.sends]
        if sends:
            _, pending = await asyncio.wait(sends, timeout=max(deadline - loop.time(), 0.001))
            for send in pending:
                send.cancel()
            if pending:
                await asyncio.wait(pending, timeout=STOP_TIMEOUT)
        if task is not None and not task.done():
            done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
            if not done:  # the database does not answer: give up on it
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._settle(), STOP_TIMEOUT)
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
            self._renewer = None
        await self._unlisten()


def _rate_limited(row: Row, now: datetime, exc: DeliveryError) -> outbox.Result:
    """The platform asked to wait: the row waits in the queue, not in a slot, and the wait is
    not counted as a failed attempt."""
    return outbox.Result(
        row.id,
        outbox.PENDING,
        "rate_limited",
        exc.detail or str(exc),
        retry_at=now + timedelta(seconds=exc.retry_after or 0),
        counts=False,
    )
