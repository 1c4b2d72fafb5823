"""The core facade: one object that adapters call, whatever the platform.

It holds the program, the database, the clock and the dispatcher; the commands' handlers
live in ``shared/handlers``, their wording in ``shared/replies.py``.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

import shared.handlers  # noqa: F401  (importing it registers every command's handler)
from shared import calendar, i18n, people, program_sync, replies
from shared.clock import Clock, SystemClock
from shared.commands import COMMANDS, HANDLERS, Invocation
from shared.dispatcher import Dispatcher
from shared.errors import Refusal
from shared.identity import Identity
from shared.inbound import Organizer, respond
from shared.insights import Limits
from shared.messages import Message, refusal
from shared.port import DeliveryPort
from shared.program import Program, load_program
from shared.settings import Settings
from shared.store import database
from shared.store.database import Database

log = logging.getLogger(__name__)


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
        self.limits = Limits(settings.insight_rate_limit, settings.insight_rate_window)
        self.dispatcher = Dispatcher(
            db,
            program,
            clock,
            concurrency=settings.dispatch_concurrency,
            retries=settings.dispatch_retries,
        )

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        program: Program | None = None,
        clock: Clock | None = None,
        upgrade: bool = True,
        sync: bool = True,
    ) -> Roundtable:
        """Load the program, open (and by default create or upgrade) the database.

        ``sync`` applies the program to the database (moved sessions, new capacities); only the
        bot itself does that, never a report, which may run with another program at hand.
        """
        program = program or load_program(settings.roundtable_program)
        db = Database(settings.database_url)
        core = cls(settings, program, db, clock or SystemClock())
        try:
            if upgrade:
                await db.upgrade()
            if sync:
                async with db.transaction() as conn:
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

    async def dispatch_due(self) -> int:
        return await self.dispatcher.dispatch_due()

    async def stop(self, grace: float | None = None) -> None:
        """Send nothing new; let sends in flight finish for ``grace`` seconds."""
        await self.dispatcher.stop(self.settings.shutdown_grace if grace is None else grace)

    async def close(self, grace: float | None = None) -> None:
        await self.stop(grace)
        await self.db.close()

    def now(self) -> datetime:
        return self.clock.now()

    def queued(self, due_at: datetime | None = None) -> None:
        """Something was queued (due at ``due_at``, or now): the dispatcher may need to wake."""
        self.dispatcher.added(due_at)

    # -- commands --------------------------------------------------------------------------
    async def respond(
        self,
        identity: Identity,
        *,
        command: str | None = None,
        args: dict[str, str] | None = None,
        line: str | None = None,
        organizer: Organizer = False,
    ) -> Message:
        """The one inbound path: see :func:`shared.inbound.respond`."""
        return await respond(self, identity, command=command, args=args, line=line, organizer=organizer)

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
        mine = await self._prefs(inv.identity)
        with i18n.using(mine.locale) as locale:
            try:
                message = await HANDLERS[spec.name](self, inv)
            except Refusal as exc:
                message = refusal(str(exc), error_field=exc.field)
        # /timezone and /language answer in what was just chosen: they set it themselves
        return dataclasses.replace(message, zone=message.zone or mine.zone, locale=message.locale or locale)

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
