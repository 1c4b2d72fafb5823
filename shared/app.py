"""The core facade: one object that adapters call, whatever the platform.

It holds the program, the database, the clock and the dispatcher; the commands' handlers
live in ``shared/handlers``, their wording in ``shared/replies.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import shared.handlers  # noqa: F401  (importing it registers every command's handler)
from shared import calendar, feedback, i18n, notices, people, privacy, program_sync, questions, replies
from shared.clock import Clock, SystemClock
from shared.commands import COMMANDS, HANDLERS, CommandLineError, Invocation, parse_line
from shared.dispatcher import Dispatcher
from shared.errors import Refusal
from shared.handlers import seats
from shared.identity import Identity
from shared.inbound import WorkQueue, respond
from shared.insights import Limits
from shared.messages import Message, refusal
from shared.port import DeliveryPort
from shared.program import Program, load_program
from shared.settings import Settings
from shared.store import database
from shared.store.database import Database

log = logging.getLogger(__name__)
# how often the running bot applies RETENTION_DAYS
RETENTION_EVERY = timedelta(hours=6)

STORAGE_CHECK_SECONDS = 5.0


class Roundtable:
    """The event's state and rules; adapters turn platform events into calls on it."""

    def __init__(self, settings: Settings, program: Program, db: Database, clock: Clock) -> None:
        missing = set(COMMANDS) - set(HANDLERS)
        if missing:
            raise RuntimeError(f"commands without a handler: {', '.join(sorted(missing))}")
        self.settings = settings
        calendar.domain = settings.calendar_domain
        self.program = program
        self.db = db
        self.clock = clock
        self._retention: asyncio.Task[None] | None = None
        self._retention_stop = asyncio.Event()
        # how many times something was queued to go out at once (the console delivers after those)
        self.due_now = 0
        self.limits = Limits(settings.insight_rate_limit, settings.insight_rate_window)
        # set when the storage went away under us: the runner stops and exits non-zero
        self.failed = asyncio.Event()
        self.failure: str | None = None
        self._watch: asyncio.Task[None] | None = None
        self.dispatcher = Dispatcher(
            db,
            program,
            clock,
            concurrency=settings.dispatch_concurrency,
            retries=settings.dispatch_retries,
        )
        # the adapters acknowledge first and queue the work here
        self.work = WorkQueue(workers=settings.inbound_workers, bound=settings.inbound_queue)
        # the adapters `roundtable run` started, for health reports (each may have ``health()``)
        self.adapters: list[Any] = []

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        program: Program | None = None,
        clock: Clock | None = None,
        upgrade: bool = True,
        sync: bool = True,
        allow_drop: bool = True,
    ) -> Roundtable:
        """Load the program, open (and by default create or upgrade) the database.

        ``sync`` applies the program to the database (moved sessions, new capacities); only the
        bot itself does that, never a report, which may run with another program at hand.
        Without ``allow_drop`` a program that leaves out a session people are registered to
        raises :class:`program_sync.DropRefused` and changes nothing.
        """
        program = program or load_program(settings.roundtable_program)
        db = Database(settings.database_url, pool_size=settings.database_pool_size)
        core = cls(settings, program, db, clock or SystemClock())
        try:
            if upgrade:
                await db.ensure_schema()
            if sync:
                async with db.transaction() as conn:
                    if not allow_drop and (dropped := await program_sync.dropped_with_people(conn, program)):
                        raise program_sync.DropRefused(
                            program_sync.dropped_refusal(
                                dropped, str(settings.roundtable_program or "the program")
                            )
                        )
                    changes = await program_sync.sync(conn, program, core.clock.now())
                for change in changes:
                    log.info("program: %s", change)
        except database.FAILURES as exc:
            await db.close()
            raise database.failure(settings.database_url, exc) from exc
        except BaseException:
            await db.close()
            raise
        return core

    # -- lifecycle -------------------------------------------------------------------------
    def attach(self, port: DeliveryPort) -> None:
        self.dispatcher.attach(port)

    def detach(self, port: DeliveryPort) -> None:
        self.dispatcher.detach(port)

    def platforms(self) -> list[str]:
        """The platforms attached now."""
        return list(self.dispatcher.ports)

    async def start(self) -> None:
        await self.dispatcher.start()
        if self.db.file is not None and self._watch is None:
            self._watch = asyncio.create_task(self._watch_storage(), name="storage-watch")
        if self._retention is None:
            self._retention_stop = asyncio.Event()
            self._retention = asyncio.create_task(self._retention_loop(), name="roundtable-retention")

    def storage_lost(self, exc: BaseException) -> None:
        """The database cannot keep what it is given: say so once, refuse, and stop the bot."""
        if self.failure is None:
            self.failure = str(exc)
            log.error("storage unavailable: %s; refusing commands and stopping", exc)
        self.failed.set()

    async def _watch_storage(self) -> None:
        # a stat every few seconds: the bot notices a vanished file even when nobody writes
        while not self.failed.is_set():
            await asyncio.sleep(STORAGE_CHECK_SECONDS)
            try:
                self.db.check_file()
            except database.StorageUnavailable as exc:
                self.storage_lost(exc)

    async def purge(self) -> privacy.Purged:
        """Apply the retention period once (the running bot does it every few hours)."""
        async with self.db.transaction() as conn:
            purged = await privacy.purge(conn, self.now(), self.settings.retention_days)
        if purged.registrations or purged.messages or purged.people:
            log.info(
                "retention: %d registrations, %d messages and %d people purged (%s)",
                purged.registrations,
                purged.messages,
                purged.people,
                ", ".join(purged.sessions) or "no session",
            )
        return purged

    async def ask_feedback(self) -> int:
        """Ask for feedback on the sessions that ended (the running bot does it as they end)."""
        async with self.db.transaction() as conn:
            asked = await feedback.ask(conn, self.program, self.now(), notices.FEEDBACK_WITHIN)
        if asked:
            self.queued()
        return asked

    async def _retention_loop(self) -> None:
        while not self._retention_stop.is_set():
            try:
                await self.ask_feedback()
                await self.purge()
            except asyncio.CancelledError:
                raise
            except database.StorageUnavailable as exc:
                self.storage_lost(exc)
            except Exception:
                # the next run tries again; nothing is half-purged (one transaction)
                log.exception("the retention purge failed; trying again later")
            # wall time, not the core's clock: the purge is idempotent, and the clock's sleeps
            # are the dispatcher's (tests count them)
            wait = RETENTION_EVERY
            ends = feedback.next_end(self.program, self.now())
            if ends is not None:
                wait = min(wait, ends - self.now() + timedelta(seconds=1))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._retention_stop.wait(), max(1.0, wait.total_seconds()))

    async def dispatch_due(self) -> int:
        return await self.dispatcher.dispatch_due()

    async def stop(self, grace: float | None = None) -> None:
        """Take no new commands and send nothing new; let work in flight finish for ``grace`` seconds."""
        grace = self.settings.shutdown_grace if grace is None else grace
        started = time.monotonic()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        retention, self._retention = self._retention, None
        if retention is not None:
            self._retention_stop.set()
            retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retention
        await self.work.close(grace)  # usually nothing waits, and this returns at once
        await self.dispatcher.stop(max(grace - (time.monotonic() - started), 0.1))

    async def close(self, grace: float | None = None) -> None:
        await self.stop(grace)
        await self.db.close()

    def now(self) -> datetime:
        return self.clock.now()

    def queued(self, due_at: datetime | None = None) -> None:
        """Something was queued (due at ``due_at``, or now): the dispatcher may need to wake."""
        if due_at is None or due_at <= self.now():
            self.due_now += 1
        self.dispatcher.added(due_at)

    # -- commands --------------------------------------------------------------------------
    # the one inbound path every adapter uses: see shared.inbound.respond
    respond = respond

    def asks_first(
        self, *, command: str | None = None, args: dict[str, str] | None = None, line: str | None = None
    ) -> bool:
        """Whether this command will answer with a form. A platform whose form must be the first
        answer to an interaction runs such a command before acknowledging it."""
        if line is not None:
            try:
                command, args = parse_line(line)
            except CommandLineError:
                return False
        return questions.asks(self.program, command or "", args or {})

    async def handle(self, inv: Invocation) -> Message:
        """Run one command; a refusal comes back as a polite message, never as an exception."""
        spec = COMMANDS.get(inv.name)
        if spec is None:
            return replies.unknown_command(inv.name)
        if spec.organizer_only and not inv.organizer:
            return replies.organizers_only(spec)
        # a command with a form has its handler judge every field: its words fit under a field
        for option in spec.options if not spec.form_when_empty else ():
            if option.required and not (inv.args.get(option.name) or "").strip():
                return replies.missing_option(spec, option.name)
        guess = None
        if spec.reads_prefs:
            # the handler reads the reader's preferences with its own statements (registration:
            # with their account); first in the language their platform gave
            with i18n.using(inv.identity.locale) as guess:
                try:
                    message = await HANDLERS[spec.name](self, inv)
                except Refusal as exc:
                    message = refusal(str(exc), error_field=exc.field)
            if message.locale is not None:
                return message
        mine = await self._prefs(inv.identity)
        if guess is None or i18n.negotiate(mine.locale) != guess:
            # (again, for a reply that did not learn the reader's language: a refusal, which
            # changed nothing, or a picker or form, which only read)
            with i18n.using(mine.locale) as locale:
                try:
                    message = await HANDLERS[spec.name](self, inv)
                except Refusal as exc:
                    message = refusal(str(exc), error_field=exc.field)
        else:
            locale = guess
        # /timezone and /language answer in what was just chosen: they set it themselves
        return dataclasses.replace(message, zone=message.zone or mine.zone, locale=message.locale or locale)

    async def language_of(self, identity: Identity) -> str:
        """The language to write to this person in (their choice, else their platform's), for
        the words an adapter writes itself: form titles, labels, placeholders."""
        return i18n.negotiate((await self._prefs(identity)).locale)

    async def _prefs(self, identity: Identity) -> people.Prefs:
        """The reader's zone and language; a failed lookup only costs them (defaults apply)."""
        try:
            async with self.db.transaction() as conn:
                return await people.prefs(conn, identity)
        except database.FAILURES as exc:
            log.warning("the preferences of a %s reader could not be read: %s", identity.platform, exc)
            return people.Prefs(reported_zone=identity.zone, reported_locale=identity.locale)

    async def register(self, identity: Identity, session_id: str) -> Message:
        return await self.handle(Invocation(identity, "register", {"session": session_id}))

    # a platform's own gesture for "I'm interested" (a mark on a server's event), in neutral terms
    def follows_by_mark(self, session_id: str) -> bool:
        """Whether a mark on the session's event makes a follow now (worth reading its list)."""
        session = self.program.session(session_id)
        return session is not None and seats.follows_by_mark(session, self.now())

    async def follow_via(self, identity: Identity, session_id: str, via: str) -> Message | None:
        """A follow of an open session made ``via`` a gesture; returns the DM to send, if any."""
        return await seats.follow_via(self, identity, session_id, via)

    async def unfollow_via(self, identity: Identity, session_id: str, via: str) -> bool:
        """The gesture undone: the follow it made ends; a place asked for by command stays."""
        return await seats.unfollow_via(self, identity, session_id, via)

    async def resync_via(
        self, session_id: str, platform: str, workspace: str, marked: list[Identity], via: str
    ) -> seats.Resynced:
        """The follows made ``via`` a gesture, brought in line with who has the mark now."""
        return await seats.resync_via(self, session_id, platform, workspace, marked, via)

    async def share_insight(
        self,
        identity: Identity,
        theme_id: str,
        text: str,
        city: str | None = None,
        anonymous: bool = False,
    ) -> Message:
        args = {"theme": theme_id, "text": text, "city": city or "", "anonymous": "yes" if anonymous else ""}
        return await self.handle(Invocation(identity, "insight", args))
