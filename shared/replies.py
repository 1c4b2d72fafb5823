"""The words of the bot's replies to commands, in one place (``notices.py`` holds what it sends
on its own). Both share :func:`when` and :func:`join_button`."""

from __future__ import annotations

from datetime import datetime

from shared import platforms, zones
from shared.commands import CommandSpec, usage
from shared.messages import Button, Field, Message, moment, refusal, reply
from shared.program import Program, Session, Theme
from shared.registrations import CONFIRMED, FOLLOWING, WAITLISTED, RosterEntry, Standing

APOLOGY = "Sorry, something went wrong on my side. Please try again in a minute."


def apology() -> Message:
    """The one answer to a failure that is ours, not the person's."""
    return refusal(APOLOGY)


def when(session: Session) -> str:
    return f"{moment(session.starts_at, 'full')} ({moment(session.starts_at, 'relative')})"


def join_button(session: Session) -> Button:
    return Button("Join", url=session.join, style="primary")


def started_ago(session: Session, now: datetime) -> str:
    """How long a running session has been on, in whole minutes."""
    minutes = max(0, int((now - session.starts_at).total_seconds() // 60))
    if minutes == 0:
        return "it has just started"
    return f"it started {minutes} minute{'s' if minutes != 1 else ''} ago"


# -- commands ----------------------------------------------------------------------------------
def unknown_command(name: str) -> Message:
    return refusal(f"There is no command `/{name}`. Try `/help`.")


def organizers_only(spec: CommandSpec) -> Message:
    return refusal(f"`/{spec.name}` is for the event's organizers.")


def missing_option(spec: CommandSpec, option: str) -> Message:
    return refusal(f"`/{spec.name}` needs a {option}. {usage(spec)}", error_field=option)


def help_text(program: Program, specs: list[CommandSpec]) -> Message:
    lines = [Field(usage(spec).removeprefix("Usage: ").strip("`"), spec.description) for spec in specs]
    return reply(f"{program.event.name} — what I can do:", fields=lines)


# -- the schedule ------------------------------------------------------------------------------
def schedule(program: Program, counts: dict[str, dict[str, int]], now: datetime) -> Message:
    event = program.event
    fields = [Field(s.title, session_line(s, counts.get(s.id, {}), now)) for s in program.sessions]
    buttons = [
        Button(f"Join now: {s.id}", url=s.join)
        if not s.capped and s.live(now)
        # an open session is followed until it ends: latecomers get the link at once
        else Button(f"Register: {s.id}" if s.capped else f"Follow: {s.id}", f"/register {s.id}")
        for s in program.sessions
        if s.accepts_registration(now)
    ]
    header = event.name if not event.series else f"{event.name} — {event.series}"
    return reply(header, fields=fields, buttons=buttons)


def session_line(session: Session, counts: dict[str, int], now: datetime) -> str:
    span = (
        f"{moment(session.starts_at, 'full')} – {moment(session.ends_at, 'time')} ({session.minutes} min, "
        f"{moment(session.starts_at, 'relative')})"
    )
    if session.capped:
        free = max(0, (session.capacity or 0) - counts.get(CONFIRMED, 0))
        waiting = counts.get(WAITLISTED, 0)
        seats = f"{free} of {session.capacity} seats free" + (f", {waiting} waiting" if waiting else "")
        access = f"registration only · {seats}"
    else:
        access = "open to everyone"
    status = ""
    if now >= session.ends_at:
        status = " · ended"
    elif session.live(now) and not session.capped:
        status = f" · 🔴 live now, join: {session.join}"
    elif session.live(now):
        status = " · happening now"
    text = f"{span} · {access}{status}"
    return f"{text}\n{session.description}" if session.description else text


def session_picker(upcoming: list[Session], now: datetime) -> Message:
    if not upcoming:
        return reply("Registration is closed: every session has started.")
    fields = [
        Field(
            s.title,
            f"live now: {started_ago(s, now)}"
            if s.live(now)
            else f"{moment(s.starts_at, 'full')} ({moment(s.starts_at, 'relative')})",
        )
        for s in upcoming
    ]
    buttons = [Button(s.title, f"/register {s.id}") for s in upcoming]
    return reply("Which session would you like to join?", fields=fields, buttons=buttons)


# -- seats -------------------------------------------------------------------------------------
def standing(program: Program, session: Session, result: Standing, now: datetime) -> Message:
    offsets = ", ".join(program.describe_offsets())
    again = "You were already registered: " if result.already else ""
    if result.status == FOLLOWING and session.live(now):
        # a latecomer: no reminder can come in time, so the link now
        text = f"{again}You are following {session.title}: {started_ago(session, now)} — join now."
        return reply(text, buttons=[join_button(session)], fields=[Field("Join link", session.join)])
    if result.status == FOLLOWING:
        text = (
            f"{again}You are following {session.title}, {when(session)}. "
            f"I will DM you the join link before it starts ({offsets})."
        )
        return reply(text, buttons=[join_button(session)], fields=[Field("Join link", session.join)])
    if result.status == CONFIRMED:
        text = (
            f"{again}Your seat is confirmed for {session.title}, {when(session)}. "
            f"I will DM you the join link before it starts ({offsets})."
        )
        return reply(text, buttons=[Button("Cancel my seat", f"/unregister {session.id}", style="danger")])
    text = (
        f"{again}{session.title} is full. You are #{result.position} on the waitlist; "
        "if a seat opens you move up at once and I will DM you."
    )
    return reply(text, buttons=[Button("Leave the waitlist", f"/unregister {session.id}", style="danger")])


def cancelled(session: Session, was: str | None) -> Message:
    if was is None:
        return reply(f"You were not registered for {session.title}; nothing to cancel.")
    what = {CONFIRMED: "seat", WAITLISTED: "waitlist place", FOLLOWING: "follow"}[was]
    return reply(f"Your {what} for {session.title} is cancelled. I will send you no more reminders for it.")


def confirm_cancel(session: Session, status: str | None) -> Message:
    """The second click of "I can't come"."""
    if status is None:
        return cancelled(session, None)
    what = {CONFIRMED: "seat", WAITLISTED: "waitlist place", FOLLOWING: "follow"}[status]
    text = f"Give back your {what} for {session.title}, {when(session)}?"
    if status == CONFIRMED:
        text += " The next person on the waitlist gets it at once."
    return reply(
        text,
        buttons=[
            Button(f"Yes, give back my {what}", f"/unregister {session.id}", style="danger"),
            Button("No, keep it", "/mysessions", style="secondary"),
        ],
    )


def my_sessions(program: Program, mine: list[Standing]) -> Message:
    order = {s.id: i for i, s in enumerate(program.sessions)}
    fields = []
    for place in sorted(mine, key=lambda s: order.get(s.session_id, 99)):
        session = program.session(place.session_id)
        if session is None:
            continue
        state = {
            CONFIRMED: "seat confirmed",
            FOLLOWING: "following",
            WAITLISTED: f"#{place.position} on the waitlist",
        }[place.status]
        fields.append(Field(session.title, f"{moment(session.starts_at, 'full')} · {state}"))
    if not fields:
        return reply("You have no sessions yet. See `/schedule`, then `/register <session>`.")
    return reply("Your sessions:", fields=fields)


# -- insights ----------------------------------------------------------------------------------
def insight_shared(theme: Theme, anonymous: bool) -> Message:
    places = [platforms.label(name) for name in theme.channels]
    where = f" It will appear in the theme's channel on {platforms.join(places)}." if places else ""
    who = " anonymously" if anonymous else ""
    return reply(f"Thank you! Your insight is shared in {theme.name}{who}.{where}")


def insight_list(theme: Theme | None, posts: list) -> Message:
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


# -- organizers --------------------------------------------------------------------------------
def roster(session: Session, entries: list[RosterEntry]) -> Message:
    if not entries:
        return reply(f"Nobody has registered for {session.title} yet.")
    held = [e for e in entries if e.status != WAITLISTED]
    waiting = [e for e in entries if e.status == WAITLISTED]

    def line(e: RosterEntry) -> str:
        return f"{e.name} ({', '.join(platforms.label(p) for p in e.platforms)})"

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


def announcement_queued(session: Session, people: int) -> Message:
    return reply(f"Your announcement is on its way to {people} people registered for {session.title}.")


# -- accounts ----------------------------------------------------------------------------------
def link_code(code: str, others: list[str]) -> Message:
    where = f"your other platform ({platforms.join(others, 'or')})" if others else "your other platform"
    return reply(
        f"Your link code is {code}. Within 10 minutes, type `/link {code}` with your account on "
        f"{where}, and both accounts become one: one seat, one set of reminders."
    )


def linked(program: Program, labels: tuple[str, ...], freed: tuple[str, ...]) -> Message:
    text = f"Linked: your {' and '.join(labels)} accounts are now one. `/mysessions` shows the same on each."
    if freed:
        titles = ", ".join(s.title for s in map(program.session, freed) if s)
        text += f" You held two places in {titles}; I kept the earlier one and freed the other."
    return reply(text)


# -- preferences -------------------------------------------------------------------------------
def zone_now(program: Program, chosen: str | None, reported: str | None, now: datetime) -> Message:
    example = f"`/timezone {zones.EXAMPLE}`"
    if chosen:
        text = f"Your time zone is {chosen}, as you chose: it is {moment(now, 'time')} there now."
    elif reported:
        text = f"Your time zone is {reported}, as your app reports it: it is {moment(now, 'time')} there now."
    else:
        text = (
            "You have not chosen a time zone. Where your app can, it shows times in your local time; "
            f"plain text uses {program.event.timezone}, the event's zone."
        )
    return reply(f"{text} To change it: {example}.")


def zone_set(zone: str, now: datetime) -> Message:
    return reply(f"Done: I will show you times in {zone}, where it is {moment(now, 'time')} now.")


def zone_unknown(typed: str, program: Program) -> Message:
    near = zones.suggestions(typed, limit=5) if typed.strip() else []
    known = ", ".join(dict.fromkeys((*program.event.zones, program.event.timezone)))
    hint = f" Did you mean {', '.join(near)}?" if near else ""
    return refusal(
        f"I do not know the time zone “{typed}”. Use an IANA name such as `/timezone {zones.EXAMPLE}` "
        f"(the event's cities: {known}).{hint}",
        error_field="zone",
    )
