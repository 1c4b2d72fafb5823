"""The core facade: one object that adapters call, whatever the platform."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from shared import insights, linking, outbox, program_sync, registrations
from shared.clock import Clock, SystemClock
from shared.commands import COMMANDS, Invocation, usage
from shared.dispatcher import Dispatcher
from shared.identity import PLATFORM_LABELS, Identity
from shared.insights import InsightError, Limits
from shared.linking import LinkError
from shared.messages import Button, Field, Message, moment, refusal, reply
from shared.port import DeliveryPort
from shared.program import Program, Session, load_program
from shared.registrations import CONFIRMED, FOLLOWING, WAITLISTED, RegistrationError
from shared.settings import Settings
from shared.store.database import Database
from shared.store.schema import registrations as registrations_table

log = logging.getLogger(__name__)

MAX_ANNOUNCEMENT = 1500


class Roundtable:
    """The event's state and rules; adapters turn platform events into calls on it."""

    def __init__(self, settings: Settings, program: Program, db: Database, clock: Clock) -> None:
        self.settings = settings
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
        except BaseException:
            await db.close()
            raise
        return core

    # -- lifecycle -------------------------------------------------------------------------
    def attach(self, port: DeliveryPort) -> None:
        self.dispatcher.attach(port)

    def detach(self, port: DeliveryPort) -> None:
        self.dispatcher.detach(port)

    async def start(self) -> None:
        await self.dispatcher.start()

    async def dispatch_due(self) -> int:
        return await self.dispatcher.dispatch_due()

    async def close(self, grace: float | None = None) -> None:
        await self.dispatcher.stop(self.settings.shutdown_grace if grace is None else grace)
        await self.db.close()

    def now(self) -> datetime:
        return self.clock.now()

    # -- commands --------------------------------------------------------------------------
    async def handle(self, inv: Invocation) -> Message:
        """Run one command; a refusal comes back as a polite message, never as an exception."""
        spec = COMMANDS.get(inv.name)
        if spec is None:
            return refusal(f"There is no command `/{inv.name}`. Try `/help`.")
        if spec.organizer_only and not inv.organizer:
            return refusal(f"`/{spec.name}` is for the event's organizers.")
        for option in spec.options:
            if option.required and not (inv.args.get(option.name) or "").strip():
                return refusal(
                    f"`/{spec.name}` needs a {option.name}. {usage(spec)}", error_field=option.name
                )
        handler = getattr(self, f"_cmd_{inv.name}")
        try:
            return await handler(inv)
        except (RegistrationError, InsightError) as exc:
            return refusal(str(exc), error_field=exc.field)

    async def _cmd_help(self, inv: Invocation) -> Message:
        lines = []
        for spec in COMMANDS.values():
            if spec.organizer_only and not inv.organizer:
                continue
            lines.append(Field(usage(spec).removeprefix("Usage: ").strip("`"), spec.description))
        return reply(f"{self.program.event.name} — what I can do:", fields=lines)

    async def _cmd_schedule(self, inv: Invocation) -> Message:
        event = self.program.event
        fields = []
        async with self.db.transaction() as conn:
            for session in self.program.sessions:
                counts = await registrations.counts(conn, session.id)
                fields.append(Field(session.title, self._session_line(session, counts)))
        buttons = [
            Button(f"Register: {s.id}" if s.capped else f"Follow: {s.id}", f"/register {s.id}")
            for s in self.program.sessions
            if self.now() < s.starts_at
        ]
        header = event.name if not event.series else f"{event.name} — {event.series}"
        return reply(header, fields=fields, buttons=buttons)

    def _session_line(self, session: Session, counts: dict[str, int]) -> str:
        span = (
            f"{moment(session.starts_at, 'F')} – {moment(session.ends_at, 't')} ({session.minutes} min, "
            f"{moment(session.starts_at, 'R')})"
        )
        if session.capped:
            free = max(0, (session.capacity or 0) - counts.get(CONFIRMED, 0))
            waiting = counts.get(WAITLISTED, 0)
            seats = f"{free} of {session.capacity} seats free" + (f", {waiting} waiting" if waiting else "")
            access = f"registration only · {seats}"
        else:
            access = "open to everyone"
        status = ""
        if self.now() >= session.ends_at:
            status = " · ended"
        elif self.now() >= session.starts_at:
            status = " · happening now"
        text = f"{span} · {access}{status}"
        return f"{text}\n{session.description}" if session.description else text

    async def register(self, identity: Identity, session_id: str) -> Message:
        return await self.handle(Invocation(identity, "register", {"session": session_id}))

    async def _cmd_register(self, inv: Invocation) -> Message:
        session_id = (inv.args.get("session") or "").strip().lower()
        if not session_id:
            return self._session_picker()
        async with self.db.transaction() as conn:
            result = await registrations.register(conn, self.program, inv.identity, session_id, self.now())
        session = self.program.session(result.session_id)
        assert session is not None
        if result.first_due is not None:
            self.dispatcher.added(result.first_due)
        return self._standing_reply(session, result)

    def _session_picker(self) -> Message:
        upcoming = [s for s in self.program.sessions if self.now() < s.starts_at]
        if not upcoming:
            return reply("Registration is closed: every session has started.")
        fields = [
            Field(s.title, f"{moment(s.starts_at, 'F')} ({moment(s.starts_at, 'R')})") for s in upcoming
        ]
        buttons = [Button(s.title, f"/register {s.id}") for s in upcoming]
        return reply("Which session would you like to join?", fields=fields, buttons=buttons)

    def _standing_reply(self, session: Session, result: registrations.Standing) -> Message:
        when = f"{moment(session.starts_at, 'F')} ({moment(session.starts_at, 'R')})"
        offsets = ", ".join(self.program.describe_offsets())
        again = "You were already registered: " if result.already else ""
        if result.status == FOLLOWING:
            text = f"{again}You are following {session.title}, {when}. I will DM you the join link before it starts ({offsets})."
            return reply(
                text, buttons=[Button("Join", url=session.join)], fields=[Field("Join link", session.join)]
            )
        if result.status == CONFIRMED:
            text = f"{again}Your seat is confirmed for {session.title}, {when}. I will DM you the join link before it starts ({offsets})."
            return reply(
                text, buttons=[Button("Cancel my seat", f"/unregister {session.id}", style="danger")]
            )
        text = (
            f"{again}{session.title} is full. You are #{result.position} on the waitlist; "
            "if a seat opens you move up at once and I will DM you."
        )
        return reply(
            text, buttons=[Button("Leave the waitlist", f"/unregister {session.id}", style="danger")]
        )

    async def _cmd_unregister(self, inv: Invocation) -> Message:
        session_id = inv.args["session"].strip().lower()
        async with self.db.transaction() as conn:
            result = await registrations.cancel(conn, self.program, inv.identity, session_id, self.now())
        session = self.program.session(result.session_id)
        assert session is not None
        if result.promoted:
            self.dispatcher.added()
        if result.was is None:
            return reply(f"You were not registered for {session.title}; nothing to cancel.")
        what = {CONFIRMED: "seat", WAITLISTED: "waitlist place", FOLLOWING: "follow"}[result.was]
        return reply(
            f"Your {what} for {session.title} is cancelled. I will send you no more reminders for it."
        )

    async def _cmd_mysessions(self, inv: Invocation) -> Message:
        async with self.db.transaction() as conn:
            mine = await registrations.mine(conn, inv.identity)
        order = {s.id: i for i, s in enumerate(self.program.sessions)}
        fields = []
        for standing in sorted(mine, key=lambda s: order.get(s.session_id, 99)):
            session = self.program.session(standing.session_id)
            if session is None:
                continue
            state = {
                CONFIRMED: "seat confirmed",
                FOLLOWING: "following",
                WAITLISTED: f"#{standing.position} on the waitlist",
            }[standing.status]
            fields.append(Field(session.title, f"{moment(session.starts_at, 'F')} · {state}"))
        if not fields:
            return reply("You have no sessions yet. See `/schedule`, then `/register <session>`.")
        return reply("Your sessions:", fields=fields)

    async def _cmd_insight(self, inv: Invocation) -> Message:
        return await self.share_insight(inv.identity, inv.args.get("theme", ""), inv.args.get("text", ""))

    async def share_insight(
        self,
        identity: Identity,
        theme_id: str,
        text: str,
        city: str | None = None,
        anonymous: bool = False,
    ) -> Message:
        try:
            async with self.db.transaction() as conn:
                post = await insights.submit(
                    conn, self.program, identity, theme_id, text, city, anonymous, self.limits, self.now()
                )
        except InsightError as exc:
            return refusal(str(exc), error_field=exc.field)
        self.dispatcher.added()
        theme = self.program.theme(post.theme_id)
        assert theme is not None
        places = [
            PLATFORM_LABELS[p]
            for p, c in (("slack", theme.slack_channel), ("discord", theme.discord_channel))
            if c
        ]
        where = f" It will appear in the theme's channel on {' and '.join(places)}." if places else ""
        who = " anonymously" if anonymous else ""
        return reply(f"Thank you! Your insight is shared in {theme.name}{who}.{where}")

    async def _cmd_insights(self, inv: Invocation) -> Message:
        theme_id = (inv.args.get("theme") or "").strip()
        theme = None
        if theme_id:
            theme = self.program.theme(theme_id)
            if theme is None:
                return refusal(self.program.unknown_theme(theme_id), error_field="theme")
        async with self.db.transaction() as conn:
            posts = await insights.latest(conn, self.program, theme.id if theme else None)
        if not posts:
            where = f" in {theme.name}" if theme else ""
            return reply(f"No insights{where} yet. Share one with `/insight <theme> <text>`.")
        fields = [
            Field(
                " · ".join(x for x in (p.theme_name, p.author or "anonymous", p.city, p.origin) if x),
                p.text,
                verbatim=True,
            )
            for p in posts
        ]
        title = f"Latest insights in {theme.name}" if theme else "Latest insights"
        return reply(title + ":", fields=fields)

    async def _cmd_roster(self, inv: Invocation) -> Message:
        session = registrations.session_or_raise(self.program, inv.args["session"])
        async with self.db.transaction() as conn:
            entries = await registrations.roster(conn, session.id)
        if not entries:
            return reply(f"Nobody has registered for {session.title} yet.")
        held = [e for e in entries if e.status != WAITLISTED]
        waiting = [e for e in entries if e.status == WAITLISTED]

        def line(e: registrations.RosterEntry) -> str:
            platforms = ", ".join(PLATFORM_LABELS.get(p, p) for p in e.platforms)
            return f"{e.name} ({platforms})"

        label = "Confirmed" if session.capped else "Following"
        fields = [
            Field(
                f"{label} ({len(held)}" + (f"/{session.capacity})" if session.capped else ")"),
                "\n".join(f"{i}. {line(e)}" for i, e in enumerate(held, 1)) or "—",
                verbatim=True,
            )
        ]
        if session.capped:
            fields.append(
                Field(
                    f"Waitlist ({len(waiting)})",
                    "\n".join(f"#{e.position} {line(e)}" for e in waiting) or "—",
                    verbatim=True,
                )
            )
        return reply(f"Roster of {session.title}", fields=fields)

    async def _cmd_announce(self, inv: Invocation) -> Message:
        session = registrations.session_or_raise(self.program, inv.args["session"])
        body = insights.clean_text(inv.args["message"])
        if not body:
            return refusal("The announcement is empty.", error_field="message")
        if len(body) > MAX_ANNOUNCEMENT:
            return refusal(
                f"Please keep an announcement to {MAX_ANNOUNCEMENT} characters.", error_field="message"
            )
        now = self.now()
        async with self.db.transaction() as conn:
            people = (
                (
                    await conn.execute(
                        select(registrations_table.c.person_id).where(
                            registrations_table.c.session_id == session.id
                        )
                    )
                )
                .scalars()
                .all()
            )
            for person_id in people:
                target = await registrations.target_of(conn, person_id, session.id)
                if target is not None:
                    await outbox.enqueue_notice(conn, "announcement", target, session.id, now, body=body)
        self.dispatcher.added()
        return reply(
            f"Your announcement is on its way to {len(people)} people registered for {session.title}."
        )

    async def _cmd_link(self, inv: Invocation) -> Message:
        code = (inv.args.get("code") or "").strip()
        if not code:
            async with self.db.transaction() as conn:
                code = await linking.issue(conn, inv.identity, self.now())
            return reply(
                f"Your link code is {code}. Within 10 minutes, type `/link {code}` with your account on the "
                "other platform (Slack or Discord), and both accounts become one: one seat, one set of reminders."
            )
        try:
            async with self.db.transaction() as conn:
                linked = await linking.redeem(conn, self.program, inv.identity, code, self.now())
        except LinkError as exc:
            return refusal(str(exc), error_field=exc.field)
        if linked.promoted:
            self.dispatcher.added()
        text = f"Linked: your {' and '.join(linked.platforms)} accounts are now one. `/mysessions` shows the same on each."
        if linked.freed:
            titles = ", ".join(s.title for s in map(self.program.session, linked.freed) if s)
            text += f" You held two places in {titles}; I kept the earlier one and freed the other."
        return reply(text)
