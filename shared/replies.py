"""The words of the bot's replies to commands, in one place (``notices.py`` holds what it sends
on its own). Both share :func:`when` and :func:`join_button`."""

from __future__ import annotations

from datetime import datetime

from shared import platforms
from shared.commands import CommandSpec, usage
from shared.messages import Attachment, Button, Field, Message, moment, refusal, reply
from shared.program import Program, Session, Theme
from shared.registrations import CONFIRMED, FOLLOWING, WAITLISTED, RosterEntry, Standing

APOLOGY = "Sorry, something went wrong on my side. Please try again in a minute."


STORAGE_UNAVAILABLE = (
    "Sorry, my storage is unavailable, so nothing was saved and nothing changed. "
    "The organizers have been alerted; please try again later."
)


def storage_unavailable() -> Message:
    """The answer while the database is gone: never a confirmation of what was not stored."""
    return refusal(STORAGE_UNAVAILABLE)


def apology() -> Message:
    """The one answer to a failure that is ours, not the person's."""
    return refusal(APOLOGY)


def busy() -> Message:
    """The answer when too many commands wait already: try again, nothing was done."""
    return refusal(
        "So many people are here at once that I cannot take this right now. "
        "Nothing was changed: please try again in a moment."
    )


def already_working() -> Message:
    """The answer to the same command again while the first is still being worked on."""
    return refusal("I am still working on that; your answer is on its way.")


def when(session: Session) -> str:
    return f"{moment(session.starts_at, 'full')} ({moment(session.starts_at, 'relative')})"


def join_button(session: Session) -> Button:
    return Button("Join", url=session.join, style="primary")


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
        Button(f"Register: {s.id}" if s.capped else f"Follow: {s.id}", f"/register {s.id}")
        for s in program.sessions
        if now < s.starts_at and not s.cancelled
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
    if session.cancelled:
        return f"cancelled (it was planned for {moment(session.starts_at, 'full')})"
    if now >= session.ends_at:
        status = " · ended"
    elif now >= session.starts_at:
        status = " · happening now"
    text = f"{span} · {access}{status}"
    return f"{text}\n{session.description}" if session.description else text


def session_cancelled(program: Program, session: Session) -> str:
    """Refusing a cancelled session, with the sessions one may still register for."""
    valid = ", ".join(f"`{s.id}`" for s in program.open_sessions)
    others = f" Choose one of {valid}." if valid else ""
    return f"Sorry, {session.title} is cancelled, so it takes no registrations.{others}"


def session_picker(upcoming: list[Session]) -> Message:
    if not upcoming:
        return reply("Registration is closed: every session has started.")
    fields = [
        Field(s.title, f"{moment(s.starts_at, 'full')} ({moment(s.starts_at, 'relative')})") for s in upcoming
    ]
    buttons = [Button(s.title, f"/register {s.id}") for s in upcoming]
    return reply("Which session would you like to join?", fields=fields, buttons=buttons)


# -- seats -------------------------------------------------------------------------------------
def standing(program: Program, session: Session, result: Standing) -> Message:
    offsets = ", ".join(program.describe_offsets())
    again = "You were already registered: " if result.already else ""
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
        text = f"{e.name} ({', '.join(platforms.label(p) for p in e.platforms)})"
        said = [f"{q.label}: {e.answers[q.id]}" for q in session.questions if e.answers.get(q.id)]
        return f"{text} — {'; '.join(said)}" if said else text

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


# -- your data ---------------------------------------------------------------------------------
def _counted(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _what(erased) -> str:
    parts = [
        _counted(erased.accounts, "account", "accounts"),
        _counted(erased.registrations, "registration", "registrations"),
        _counted(erased.insights, "insight", "insights"),
        _counted(erased.messages, "message for you (sent or planned)", "messages for you (sent or planned)"),
    ]
    if erased.feedback:
        parts.append(_counted(erased.feedback, "rating", "ratings"))
    return ", ".join(parts)


def nothing_to_forget() -> Message:
    return reply("I keep nothing about you: there is nothing to erase.")


def forget_confirm_word() -> str:
    return "To erase your data, type `/forgetme confirm`, or `/forgetme` to see what it erases."


def forget_ask(preview) -> Message:
    return reply(
        f"This erases everything I keep about you: {_what(preview)}. Seats you hold go to the "
        "waitlist. Counts without your name stay. It cannot be undone.",
        buttons=[Button("Erase my data", "/forgetme confirm", style="danger")],
    )


def forgotten(erased) -> Message:
    text = f"Done: I erased {_what(erased)}."
    if erased.promoted:
        text += f" {_counted(len(erased.promoted), 'seat', 'seats')} you held went to the waitlist."
    if erased.posts_removed:
        text += (
            f" I am taking down the {_counted(erased.posts_removed, 'channel post', 'channel posts')} "
            "I made of your insights."
        )
    if erased.posts_left:
        where = platforms.join([f"{n} on {platforms.label(p)}" for p, n in sorted(erased.posts_left.items())])
        text += (
            f" Your insights' channel posts ({where}) I could not take down myself; "
            "the organizers have a record and will remove them."
        )
    return reply(text)


def no_data() -> Message:
    return reply("I keep no data about you.")


def your_data(data: dict, filename: str, body: bytes) -> Message:
    counts = [
        _counted(len(data["accounts"]), "account", "accounts"),
        _counted(len(data["registrations"]), "registration", "registrations"),
        _counted(len(data["insights"]), "insight", "insights"),
        _counted(
            len(data["messages"]), "message for you (sent or planned)", "messages for you (sent or planned)"
        ),
    ]
    if data["feedback"]:
        counts.append(_counted(len(data["feedback"]), "rating", "ratings"))
    text = (
        f"Everything I keep about you is in the file {filename}: {', '.join(counts)}. `/forgetme` erases it."
    )
    return Message(text=text, files=(Attachment(filename, body),))


def file_not_delivered() -> Message:
    """An adapter could not hand over a file that went with a reply."""
    return refusal("Sorry, I could not send you the file just now. Please try again in a minute.")


def privacy_notice(program: Program, retention_days: int) -> Message:
    """The same text as the README's "Privacy" section, for organizers to adapt."""
    contact = program.event.privacy_contact or "the event's organizers"
    return reply(
        f"Privacy — {program.event.name}",
        fields=[
            Field(
                "What I keep",
                "Your account on each platform you use here (its id and display name); your "
                "registrations, waitlist places and follows; the insights you share; and the "
                "messages I send you, with whether they arrived.",
            ),
            Field(
                "Why",
                "To run the event: keep seats fair, remind you with the join link, and share the "
                "insights you choose to share. Nothing is sold or used for anything else.",
            ),
            Field(
                "For how long",
                f"Registrations and the messages about a session are deleted {retention_days} days "
                "after it ends; only counts without names stay. Insights stay until you erase them.",
            ),
            Field(
                "Your rights",
                "`/mydata` gives you everything I keep, as a file. `/forgetme` erases it at once. "
                f"For anything else, or to ask by e-mail, write to {contact}.",
            ),
        ],
    )


# -- registration questions --------------------------------------------------------------------
def questions_title(session: Session) -> str:
    return f"Register: {session.title}"[:45]


def questions_submit(session: Session) -> str:
    return "Register"


def questions_asked(session: Session) -> str:
    return f"{session.title} asks a few questions before you register."


def answer_required(label: str) -> str:
    return f"Please answer “{label}”: it is required."


def answer_too_long(label: str, limit: int, length: int) -> str:
    return f"Please keep “{label}” to {limit} characters; yours has {length}."


def answer_not_a_choice(label: str, choices: list[str]) -> str:
    return f"For “{label}”, please choose one of: {', '.join(choices)}."


def optional_hint(required: bool, choices: tuple[str, ...]) -> str:
    """The console's hint under a question."""
    hint = f"one of: {', '.join(choices)}" if choices else ""
    if not required:
        hint = f"{hint}; " if hint else ""
        hint += "optional, an empty line skips it"
    return f"({hint})" if hint else ""


def answers_saved(session: Session) -> str:
    return f"Your answers for {session.title} are saved."


def form_not_opened() -> Message:
    """An adapter could not open a form (a modal) in time."""
    return refusal("Sorry, I could not open the form in time. Please try the command again.")


# -- feedback ----------------------------------------------------------------------------------
LESSON = "One lesson you take home"
SHARE = "Share it as an insight?"
KEEP_PRIVATE = "No, keep it for the organizers"


def feedback_rating() -> str:
    return "Please rate with a number from 1 (poor) to 5 (excellent)."


def feedback_too_early(session: Session) -> str:
    return f"{session.title} has not started yet; you can rate it once it has."


def feedback_not_held(session: Session) -> str:
    return f"Feedback on {session.title} comes from the people who held a seat in it or followed it."


def feedback_form_title(session: Session) -> str:
    return f"Feedback: {session.title}"[:45]


def feedback_submit() -> str:
    return "Send"


def feedback_thanks(session: Session, rated, shared_in: str | None, *, ask: bool) -> Message:
    again = " (it replaces your earlier one)" if rated.again else ""
    text = f"Thank you! You rated {session.title} {rated.rating} out of 5{again}."
    if ask:
        text += " Is there one lesson you take home? It is optional."
    if shared_in:
        text += f" Your lesson is shared as an insight in {shared_in}."
    return reply(text)
