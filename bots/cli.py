"""The ``roundtable`` command: run the bot, chat in the terminal, and the organizer tools."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from bots import registry
from shared.errors import StorageError
from shared.program import Program, ProgramError, load_program
from shared.settings import Settings
from shared.timefmt import format_moment
from shared.zones import EXAMPLE, canonical

# Each command imports what it uses, inside it: `program` and `--help` never load the
# database stack, a report never a platform SDK, and only `db` loads Alembic.
if TYPE_CHECKING:
    from bots import runner
    from shared.app import Roundtable

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)
log = logging.getLogger("roundtable")


class Failure(Exception):
    """A failure to report in one sentence, with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:

    parser = argparse.ArgumentParser(
        prog="roundtable", description="Roundtable: one event bot for Slack and Discord."
    )
    parser.add_argument(
        "--program", type=Path, help="the program TOML (default: ROUNDTABLE_PROGRAM or the bundled one)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the bot: every adapter whose credentials are set, else the console")
    for plugin in registry.plugins():
        for flag in plugin.run_flags:
            run.add_argument(flag.flag, action="store_true", help=flag.help)
    run.add_argument(
        "--as", dest="name", help="console name when no platform is configured (default: your login)"
    )
    run.add_argument(
        "--allow-drop",
        action="store_true",
        help="start even if the program leaves out sessions that people are registered to",
    )

    console = sub.add_parser("console", help="chat with the bot in this terminal, one command a line")
    console.add_argument("--as", dest="name", required=True, help="who you are in the chat")
    console.add_argument("--organizer", action="store_true", help="allow the organizer commands")
    console.add_argument(
        "--tz", help="show times in this IANA zone (a /timezone choice wins; default: the event's)"
    )

    check = sub.add_parser("check", help="validate the program and settings; show what `run` would start")
    check.add_argument(
        "--allow-drop", action="store_true", help="accept a program that leaves out sessions with registrants"
    )
    for plugin in registry.plugins():  # check what `run` with the same flags would start
        for flag in plugin.run_flags:
            check.add_argument(flag.flag, action="store_true", help=flag.help)

    program = sub.add_parser("program", help="show the schedule")
    program.add_argument("--tz", help="show times in this IANA zone (default: the event's)")
    program.add_argument("--format", choices=["table", "ics"], default="table", help="ics: an iCalendar file")

    roster = sub.add_parser("roster", help="confirmed seats and the waitlist of a session")
    roster.add_argument("session")
    roster.add_argument("--format", choices=["table", "csv", "json"], default="table")

    insights = sub.add_parser("insights", help="the insights shared, or a Markdown digest of them")
    insights.add_argument("--theme")
    insights.add_argument("--format", choices=["table", "csv", "json", "md"], default="table")

    fb = sub.add_parser("feedback", help="the ratings and lessons people gave after each session")
    fb.add_argument("--session")
    fb.add_argument("--format", choices=["table", "csv", "json", "md"], default="table")

    reminders = sub.add_parser("reminders", help="every queued message, with its state and reason")
    reminders.add_argument("--format", choices=["table", "json"], default="table")
    reminders.add_argument("--state", choices=["pending", "sending", "sent", "failed", "skipped"])
    reminders.add_argument("--limit", type=int, default=500)

    forget = sub.add_parser("forget", help="erase a person on request (GDPR Art. 17), as /forgetme does")
    forget.add_argument("--platform", required=True, help="the adapter name: slack, discord or console")
    forget.add_argument("--user", required=True, help="their user id on that platform, such as U123")

    purge = sub.add_parser("purge", help="purge personal data older than RETENTION_DAYS (for cron)")
    purge.add_argument("--days", type=int, help="override RETENTION_DAYS for this run")

    db = sub.add_parser("db", help="database tools")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="create or upgrade the schema")
    db_sub.add_parser("status", help="the schema's version")
    return parser


def load_settings(args: argparse.Namespace) -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise Failure(f"Invalid settings: {problems}", 2) from exc
    if args.program is not None:
        settings = settings.model_copy(update={"roundtable_program": args.program})
    return settings


def load(settings: Settings) -> Program:
    try:
        return load_program(settings.roundtable_program)
    except ProgramError as exc:
        raise Failure(str(exc), 2) from exc


async def open_core(
    settings: Settings, program: Program, *, sync: bool = True, allow_drop: bool = True
) -> Roundtable:
    from shared import program_sync
    from shared.app import Roundtable
    from shared.store.database import DatabaseUrlError

    try:
        return await Roundtable.open(settings, program=program, sync=sync, allow_drop=allow_drop)
    except (DatabaseUrlError, program_sync.DropRefused) as exc:
        raise Failure(str(exc), 2) from exc
    except StorageError as exc:
        raise Failure(str(exc)) from exc


async def with_core(
    settings: Settings,
    program: Program,
    work: Callable[[Roundtable], Awaitable[int]],
    *,
    sync: bool = False,
) -> int:
    """Run ``work`` on a core; reports leave the schedule in the database as the bot set it."""

    core = await open_core(settings, program, sync=sync)
    try:
        return await work(core)
    finally:
        await core.close()


# -- commands --------------------------------------------------------------------------------
async def _run(
    settings: Settings, program: Program, chosen: list[runner.Chosen], *, allow_drop: bool = False
) -> int:
    from bots import runner

    core = await open_core(settings, program, allow_drop=allow_drop)
    try:
        return await runner.run(core, chosen)
    finally:
        await core.close(grace=0.1)


async def cmd_console(args, settings: Settings, program: Program) -> int:
    from bots import runner

    console = registry.plugin("console")
    tz = None
    if args.tz:
        tz = canonical(args.tz)
        if tz is None:
            raise Failure(f"{args.tz!r} is not an IANA time zone such as {EXAMPLE}", 2)
    chosen = runner.Chosen(console, console.settings(name=args.name, organizer=args.organizer, tz=tz))
    return await _run(settings, program, [chosen])


def _overrides(args) -> dict[str, dict[str, object]]:
    """``roundtable run`` flags, as settings of the adapters that declared them."""
    overrides: dict[str, dict[str, object]] = {}
    for plugin in registry.plugins():
        for flag in plugin.run_flags:
            if getattr(args, flag.flag.lstrip("-").replace("-", "_"), False):
                overrides.setdefault(plugin.name, {})[flag.setting] = flag.value
    if getattr(args, "name", None):
        overrides.setdefault("console", {})["name"] = args.name
    return overrides


async def cmd_run(args, settings: Settings, program: Program) -> int:
    from bots import runner

    if problems := runner.settings_problems(registry.plugins(), _overrides(args)):
        raise Failure("; ".join(problems), 2)
    chosen = runner.choose(registry.plugins(), _overrides(args))
    if all(c.plugin.fallback for c in chosen):
        log.info(
            "No platform tokens are set: opening the %s",
            " and ".join(c.plugin.summary(c.settings) for c in chosen),
        )
    return await _run(settings, program, chosen, allow_drop=args.allow_drop)


async def _dropped(settings: Settings, program: Program) -> list[tuple[str, int]]:
    """What the program would drop from the database `check` just reached; creates nothing."""
    from shared import program_sync
    from shared.store import database
    from shared.store.database import Database

    db = Database(settings.database_url, create=False)
    try:
        async with db.engine.connect() as conn:
            return await program_sync.dropped_with_people(conn, program)
    except database.FAILURES:
        return []  # no schema yet: nobody is registered
    finally:
        await db.close()


def _program_warnings(program: Program, now) -> list[str]:
    warnings = []
    for session in program.sessions:
        if session.join.startswith("http://"):
            warnings.append(
                f"session {session.id}: the join link {session.join} is not encrypted (http://); use https://"
            )
        if session.ends_at <= now:
            warnings.append(
                f"session {session.id} ended on {format_moment(session.ends_at, 'full', program.zone, now=now)}"
                ": is the date right?"
            )
    return warnings


async def cmd_check(args, settings: Settings, program: Program) -> int:
    from bots import runner
    from shared import program_sync
    from shared.clock import utcnow
    from shared.store.database import DatabaseUrlError
    from shared.store.probe import probe

    source = settings.roundtable_program or "the bundled program"
    out.print(
        f"[green]✓[/] {source}: {program.event.name} — {len(program.sessions)} sessions, {len(program.themes)} themes"
    )
    for session in program.sessions:
        cap = f"{session.capacity} seats" if session.capped else "open"
        out.print(
            f"  • {session.id}: {format_moment(session.starts_at, 'full', program.zone, now=session.starts_at)}, {session.minutes} min, {cap}"
        )
    out.print(f"  reminders: {', '.join(program.describe_offsets())} before each session")
    for note in program.deprecations:
        out.print(f"[yellow]![/] {escape(note)}")
    for warning in _program_warnings(program, utcnow()):
        out.print(f"[yellow]![/] {escape(warning)}")
    plugins = registry.plugins()
    problems = runner.channel_problems(program, plugins, str(source))
    for problem in problems:
        err.print(f"[red]✗[/] {escape(problem)}")
    try:
        found = await probe(settings.database_url)
    except DatabaseUrlError as exc:
        raise Failure(str(exc), 2) from exc
    if found.ok:
        out.print(f"[green]✓[/] {escape(found.summary)}")
    else:
        err.print(f"[red]✗[/] {escape(found.summary)}")
        problems.append(found.summary)
    for warning in found.warnings:
        out.print(f"[yellow]![/] {escape(warning)}")
    if found.connected and (dropped := await _dropped(settings, program)):
        refusal = program_sync.dropped_refusal(dropped, str(source))
        if args.allow_drop:
            out.print(f"[yellow]![/] {escape(refusal)} (--allow-drop: accepted)")
        else:
            err.print(f"[red]✗[/] {escape(refusal)}")
            problems.append(refusal)
    if found.connected and any(s.cancelled for s in program.sessions):
        await _check_cancelled(settings, program)
    chosen = runner.choose(plugins, _overrides(args))
    names = ", ".join(c.plugin.summary(c.settings) for c in chosen)
    if all(c.plugin.fallback for c in chosen):
        names += " (no platform tokens set)"
    out.print(f"[green]✓[/] adapters `run` starts: {names}")
    for plugin in plugins:
        for warning in plugin.settings().warnings():
            out.print(f"[yellow]![/] {escape(warning)}")
    for problem in runner.settings_problems(plugins, _overrides(args)):
        err.print(f"[red]✗[/] {escape(problem)}")
        problems.append(problem)
    return 2 if problems else 0


async def _check_cancelled(settings: Settings, program: Program) -> None:
    """How many people the next start tells of each cancelled session."""
    from shared import program_sync
    from shared.clock import utcnow
    from shared.store.database import Database

    db = Database(settings.database_url)
    try:
        async with db.transaction() as conn:
            counts = await program_sync.to_tell(conn, program, utcnow())
    except Exception as exc:  # a check reports, it does not fail on a database it cannot read
        out.print(f"[yellow]![/] cancelled sessions: cannot count whom to tell ({type(exc).__name__})")
        return
    finally:
        await db.close()
    for session_id, n in counts.items():
        told = "its registrants were told" if n is None else f"the next start tells {n} people"
        out.print(f"  ✗ {session_id} is cancelled: {told}")


async def cmd_program(args, settings: Settings, program: Program) -> int:
    if args.format == "ics":
        from shared.calendar import program_calendar
        from shared.clock import utcnow

        sequences = await _feed_sequences(settings, program)
        feed = program_calendar(program, now=utcnow(), domain=settings.calendar_domain, sequences=sequences)
        sys.stdout.buffer.write(feed)
        return 0
    try:
        zone = ZoneInfo(args.tz) if args.tz else program.zone
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Failure(f"{args.tz!r} is not an IANA time zone such as Europe/Paris", 2) from exc
    title = program.event.name + (f" — {program.event.series}" if program.event.series else "")
    table = Table(title=title)
    for column in ("session", "starts", "ends", "access", "join"):
        table.add_column(column)
    for s in program.sessions:
        access = f"registration, {s.capacity} seats" if s.capped else "open to all"
        table.add_row(
            f"{s.id}\n{s.title}",
            format_moment(s.starts_at, "full", zone, now=s.starts_at, locale=program.event.locale),
            format_moment(s.ends_at, "time", zone, now=s.ends_at, locale=program.event.locale),
            access,
            s.join,
        )
    out.print(table)
    out.print("Themes: " + ", ".join(f"{t.name} ({t.id})" for t in program.themes))
    return 0


async def _feed_sequences(settings: Settings, program: Program) -> dict[str, int] | None:
    """The sessions' SEQUENCEs from the database the bot keeps, read as they are (no migration,
    no sync); None when there is no database yet, or none that can be read (then the program
    file alone: every SEQUENCE 0)."""
    from shared import calendar
    from shared.store.database import FAILURES, Database, DatabaseUrlError

    try:
        db = Database(settings.database_url, create=False)
    except DatabaseUrlError as exc:
        raise Failure(str(exc), 2) from exc
    try:
        if db.file is not None and not db.file.exists():
            return None  # the bot never ran here: nothing moved yet
        async with db.transaction() as conn:
            return await calendar.feed_sequences(conn, program)
    except FAILURES as exc:
        err.print(
            f"No readable database ({escape((str(exc) or type(exc).__name__).splitlines()[0])}): SEQUENCE from the program file."
        )
        return None
    finally:
        await db.close()


async def cmd_roster(args, settings: Settings, program: Program) -> int:
    from bots import reports

    session = program.session(args.session)
    if session is None:
        raise Failure(
            f"There is no session {args.session!r}; the program has {', '.join(s.id for s in program.sessions)}",
            2,
        )

    async def work(core: Roundtable) -> int:
        rows = await reports.roster_rows(core, session.id)
        if args.format == "json":
            out.print(
                reports.as_json({"session": session.id, "capacity": session.capacity, "entries": rows}),
                markup=False,
            )
        elif args.format == "csv":
            sys.stdout.write(reports.as_csv(rows))
        else:
            cap = (
                f"{sum(r['status'] == 'confirmed' for r in rows)}/{session.capacity} seats"
                if session.capped
                else "open"
            )
            out.print(
                reports.as_table(
                    rows,
                    f"{session.title} ({cap})",
                    ["position", "name", "status", "platforms", "registered_at"]
                    + [f"answer_{q.id}" for q in session.questions],
                )
            )
        return 0

    return await with_core(settings, program, work)


async def cmd_insights(args, settings: Settings, program: Program) -> int:
    from bots import reports

    if args.theme and program.theme(args.theme) is None:
        raise Failure(
            f"There is no theme {args.theme!r}; the program has {', '.join(t.id for t in program.themes)}", 2
        )

    async def work(core: Roundtable) -> int:
        theme = program.theme(args.theme).id if args.theme else None
        rows = await reports.insight_rows(core, theme)
        if args.format == "json":
            out.print(reports.as_json(rows), markup=False)
        elif args.format == "csv":
            sys.stdout.write(reports.as_csv(rows))
        elif args.format == "md":
            erased = await reports.erased_insights(core, theme)
            sys.stdout.write(reports.digest_markdown(core, rows, erased) + "\n")
        else:
            out.print(
                reports.as_table(
                    rows, "Insights", ["theme", "text", "author", "city", "platform", "created_at"]
                )
            )
        return 0

    return await with_core(settings, program, work)


async def cmd_feedback(args, settings: Settings, program: Program) -> int:
    from bots import reports

    if args.session and program.session(args.session) is None:
        raise Failure(
            f"There is no session {args.session!r}; the program has {', '.join(s.id for s in program.sessions)}",
            2,
        )

    async def work(core: Roundtable) -> int:
        rows = await reports.feedback_rows(core, args.session)
        if args.format == "json":
            out.print(reports.as_json(rows), markup=False)
        elif args.format == "csv":
            sys.stdout.write(reports.as_csv([{k: v for k, v in r.items() if k != "comments"} for r in rows]))
        elif args.format == "md":
            sys.stdout.write(reports.feedback_markdown(core, rows) + "\n")
        else:
            columns = ["session", "answers", "average", "1", "2", "3", "4", "5"]
            out.print(reports.as_table(rows, "Feedback", columns))
            for row in rows:
                for comment in row["comments"]:
                    out.print(f"  {row['session']}: {comment}", markup=False)
        return 0

    return await with_core(settings, program, work)


async def cmd_reminders(args, settings: Settings, program: Program) -> int:
    from bots import reports

    async def work(core: Roundtable) -> int:
        rows, totals = await reports.reminder_rows(core, max(1, args.limit), args.state)
        if args.format == "json":
            out.print(reports.as_json({"totals": totals, "messages": rows}), markup=False)
        else:
            summary = ", ".join(f"{n} {s}" for s, n in sorted(totals.items())) or "nothing queued"
            columns = ["id", "kind", "session", "to", "platform", "due_at", "state", "reason"]
            out.print(reports.as_table(rows, f"Messages: {summary}", columns))
        return 0

    return await with_core(settings, program, work)


async def cmd_forget(args, settings: Settings, program: Program) -> int:
    from shared import privacy, replies

    async def work(core: Roundtable) -> int:
        async with core.db.transaction() as conn:
            people = await privacy.find_account(conn, args.platform, args.user)
            results = [
                await privacy.forget(conn, program, person_id, core.now(), via="organizer")
                for person_id in people
            ]
        if not results:
            out.print(f"Nothing stored for {escape(args.user)} on {escape(args.platform)}: nothing to erase.")
            return 0
        for erased in results:
            out.print(replies.forgotten(erased).text, markup=False)
        return 0

    return await with_core(settings, program, work)


async def cmd_purge(args, settings: Settings, program: Program) -> int:
    if args.days is not None:
        if args.days < 1:
            raise Failure("--days must be at least 1", 2)
        settings = settings.model_copy(update={"retention_days": args.days})

    async def work(core: Roundtable) -> int:
        purged = await core.purge()
        out.print(
            f"Purged {purged.registrations} registrations, {purged.messages} messages and {purged.people} "
            f"people older than {settings.retention_days} days"
            + (f" ({', '.join(purged.sessions)})" if purged.sessions else "")
            + "; their counts are kept.",
            markup=False,
        )
        return 0

    return await with_core(settings, program, work)


async def cmd_db(args, settings: Settings, program: Program) -> int:
    from shared.store.database import Database, DatabaseUrlError, safe_url

    try:
        db = Database(settings.database_url)
    except DatabaseUrlError as exc:
        raise Failure(str(exc), 2) from exc
    try:
        if args.db_command == "upgrade":
            await db.upgrade()
        current, head = await db.revision()
        state = "up to date" if current == head else f"behind (newest is {head})"
        out.print(f"{safe_url(settings.database_url)}: schema {current or 'none'}, {state}")
        return 0 if args.db_command == "upgrade" or current == head else 1
    except (OSError, ConnectionError) as exc:
        raise Failure(f"Cannot reach the database at {safe_url(settings.database_url)}: {exc}") from exc
    finally:
        await db.close()


COMMANDS = {
    "run": cmd_run,
    "console": cmd_console,
    "check": cmd_check,
    "program": cmd_program,
    "roster": cmd_roster,
    "insights": cmd_insights,
    "reminders": cmd_reminders,
    "feedback": cmd_feedback,
    "forget": cmd_forget,
    "purge": cmd_purge,
    "db": cmd_db,
}


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO",
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, rich_tracebacks=False)],
    )
    for noisy in ("discord.gateway", "discord.client", "slack_bolt", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args)
        configure_logging(settings.log_level)
        program = load(settings)
        return asyncio.run(COMMANDS[args.command](args, settings, program))
    except Failure as exc:
        err.print(f"[bold red]roundtable:[/] {exc}", markup=True, highlight=False)
        return exc.code
    except KeyboardInterrupt:
        return 130
