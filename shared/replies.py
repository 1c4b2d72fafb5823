"""The words of the bot's replies to commands, in one place (``notices.py`` holds what it sends
on its own). Both share :func:`when` and :func:`join_button`.

Every sentence goes through :func:`shared.i18n._`, in the reader's locale (see ``i18n.py``
for the one-liner that updates the catalogs).
"""

from __future__ import annotations

from datetime import datetime

from shared import i18n, platforms, zones
from shared.commands import CommandSpec, usage
from shared.i18n import N_, _, ngettext
from shared.messages import Attachment, Button, Field, Message, moment, refusal, reply
from shared.program import Program, Session, Theme
from shared.registrations import CONFIRMED, FOLLOWING, WAITLISTED, RosterEntry, Standing

APOLOGY = N_("Sorry, something went wrong on my side. Please try again in a minute.")


STORAGE_UNAVAILABLE = N_(
    "Sorry, my storage is unavailable, so nothing was saved and nothing changed. "
    "The organizers have been alerted; please try again later."
)


def storage_unavailable() -> Message:
    """The answer while the database is gone: never a confirmation of what was not stored."""
    return refusal(_(STORAGE_UNAVAILABLE))


def apology() -> Message:
    """The one answer to a failure that is ours, not the person's."""
    return refusal(_(APOLOGY))


def busy() -> Message:
    """The answer when too many commands wait already: try again, nothing was done."""
    return refusal(
        _(
            "So many people are here at once that I cannot take this right now. "
            "Nothing was changed: please try again in a moment."
        )
    )


def already_working() -> Message:
    """The answer to the same command again while the first is still being worked on."""
    return refusal(_("I am still working on that; your answer is on its way."))


def when(session: Session) -> str:
    return f"{moment(session.starts_at, 'full')} ({moment(session.starts_at, 'relative')})"


def join_button(session: Session) -> Button:
    return Button(_("Join"), url=session.join, style="primary")


def calendar_button(program: Program, session: Session) -> Button:
    from shared.calendar import google_link

    return Button(_("Add to Google Calendar"), url=google_link(program, session), style="secondary")


def started_ago(session: Session, now: datetime) -> str:
    """How long a running session has been on, in whole minutes."""
    minutes = max(0, int((now - session.starts_at).total_seconds() // 60))
    if minutes == 0:
        return _("it has just started")
    return ngettext("it started {n} minute ago", "it started {n} minutes ago", minutes)


def _place(status: str) -> str:
    return {CONFIRMED: _("seat"), WAITLISTED: _("waitlist place"), FOLLOWING: _("follow")}[status]


# -- commands ----------------------------------------------------------------------------------
def unknown_command(name: str) -> Message:
    return refusal(_("There is no command `/{name}`. Try `/help`.", name=name))


def command_gone(name: str) -> Message:
    """A command a platform still offers from an older sync, which the bot no longer has."""
    return refusal(_("`/{name}` is no longer available. Try `/help`.", name=name))


def insight_form_not_opened() -> Message:
    """The insight form could not be opened; the typed command does the same."""
    return refusal(_("I could not open the form. Type `/insight <theme> <your insight>` instead."))


def organizers_only(spec: CommandSpec) -> Message:
    return refusal(_("`/{name}` is for the event's organizers.", name=spec.name))


def missing_option(spec: CommandSpec, option: str) -> Message:
    return refusal(
        _("`/{name}` needs a {option}.", name=spec.name, option=option) + " " + usage(spec),
        error_field=option,
    )


def help_text(program: Program, specs: list[CommandSpec]) -> Message:
    lines = [Field(usage(spec).removeprefix("Usage: ").strip("`"), _(spec.description)) for spec in specs]
    return reply(_("{event} — what I can do:", event=program.event.name), fields=lines)


# -- the schedule ------------------------------------------------------------------------------
def schedule(program: Program, counts: dict[str, dict[str, int]], now: datetime) -> Message:
    event = program.event
    fields = [Field(s.shown_title(), session_line(s, counts.get(s.id, {}), now)) for s in program.sessions]
    buttons = [
        Button(_("Join now: {session}", session=s.id), url=s.join)
        if not s.capped and s.live(now)
        # an open session is followed until it ends: latecomers get the link at once
        else Button(
            _("Register: {session}", session=s.id) if s.capped else _("Follow: {session}", session=s.id),
            f"/register {s.id}",
        )
        for s in program.sessions
        if s.accepts_registration(now) and not s.cancelled
    ]
    header = event.name if not event.series else f"{event.name} — {event.series}"
    return reply(header, fields=fields, buttons=buttons)


def session_line(session: Session, counts: dict[str, int], now: datetime) -> str:
    span = _(
        "{start} – {end} ({minutes} min, {relative})",
        start=moment(session.starts_at, "full"),
        end=moment(session.ends_at, "time"),
        minutes=session.minutes,
        relative=moment(session.starts_at, "relative"),
    )
    if session.capped:
        free = max(0, (session.capacity or 0) - counts.get(CONFIRMED, 0))
        waiting = counts.get(WAITLISTED, 0)
        seats = _("{free} of {capacity} seats free", free=free, capacity=session.capacity)
        if waiting:
            seats += _(", {waiting} waiting", waiting=waiting)
        access = _("registration only · {seats}", seats=seats)
    else:
        access = _("open to everyone")
    status = ""
    if session.cancelled:
        return _("cancelled (it was planned for {start})", start=moment(session.starts_at, "full"))
    if now >= session.ends_at:
        status = " · " + _("ended")
    elif session.live(now) and not session.capped:
        status = " · " + _("🔴 live now, join: {link}", link=session.join)
    elif session.live(now):
        status = " · " + _("happening now")
    text = f"{span} · {access}{status}"
    return f"{text}\n{session.shown_description()}" if session.shown_description() else text


def session_cancelled(program: Program, session: Session) -> str:
    """Refusing a cancelled session, with the sessions one may still register for."""
    valid = ", ".join(f"`{s.id}`" for s in program.open_sessions)
    text = _("Sorry, {title} is cancelled, so it takes no registrations.", title=session.shown_title())
    return f"{text} {_('Choose one of {sessions}.', sessions=valid)}" if valid else text


def session_picker(upcoming: list[Session], now: datetime) -> Message:
    if not upcoming:
        return reply(_("Registration is closed: every session has started."))
    fields = [
        Field(
            s.shown_title(),
            _("live now: {ago}", ago=started_ago(s, now))
            if s.live(now)
            else f"{moment(s.starts_at, 'full')} ({moment(s.starts_at, 'relative')})",
        )
        for s in upcoming
    ]
    buttons = [Button(s.shown_title(), f"/register {s.id}") for s in upcoming]
    return reply(_("Which session would you like to join?"), fields=fields, buttons=buttons)


# -- seats -------------------------------------------------------------------------------------
def standing(program: Program, session: Session, result: Standing, now: datetime) -> Message:
    offsets = ", ".join(program.describe_offsets())
    again = _("You were already registered: ") if result.already else ""
    link = Field(_("Join link"), session.join)
    if result.status == FOLLOWING and session.live(now):
        # a latecomer: no reminder can come in time, so the link now
        text = again + _(
            "You are following {title}: {ago} — join now.",
            title=session.shown_title(),
            ago=started_ago(session, now),
        )
        return reply(text, buttons=[join_button(session)], fields=[link])
    if result.status == FOLLOWING:
        text = again + _(
            "You are following {title}, {when}. I will DM you the join link before it starts ({offsets}).",
            title=session.shown_title(),
            when=when(session),
            offsets=offsets,
        )
        return reply(text, buttons=[join_button(session)], fields=[link])
    if result.status == CONFIRMED:
        text = again + _(
            "Your seat is confirmed for {title}, {when}. I will DM you the join link before it starts ({offsets}).",
            title=session.shown_title(),
            when=when(session),
            offsets=offsets,
        )
        return reply(text, buttons=[Button(_("Cancel my seat"), f"/unregister {session.id}", style="danger")])
    text = again + _(
        "{title} is full. You are #{position} on the waitlist; if a seat opens you move up at once and I will DM you.",
        title=session.shown_title(),
        position=result.position,
    )
    return reply(text, buttons=[Button(_("Leave the waitlist"), f"/unregister {session.id}", style="danger")])


def followed_via(session: Session) -> Message:
    """The DM after a follow made by a gesture on the platform (a mark on the server's event)."""
    text = _(
        "🔔 You are following {title}, {when}: I will DM you the join link before it starts. "
        "To stop, take your mark off the event.",
        title=session.shown_title(),
        when=when(session),
    )
    return Message(
        text=text,
        fields=(Field(_("Join link"), session.join),),
        buttons=(join_button(session),),
        ephemeral=False,
    )


def seats_by_registration(session: Session) -> Message:
    """The DM after a mark on the event of a session with seats: a mark takes no seat."""
    text = _(
        "Marking the event does not reserve a seat: {title} has seats by registration only. "
        "To take one (or a place on the waitlist), use `/register {session}` or the button below.",
        title=session.shown_title(),
        session=session.id,
    )
    return Message(text=text, buttons=(Button(_("Register"), f"/register {session.id}"),), ephemeral=False)


def cancelled(session: Session, was: str | None) -> Message:
    if was is None:
        return reply(
            _("You were not registered for {title}; nothing to cancel.", title=session.shown_title())
        )
    return reply(
        _(
            "Your {place} for {title} is cancelled. I will send you no more reminders for it.",
            place=_place(was),
            title=session.shown_title(),
        )
    )


def confirm_cancel(session: Session, status: str | None) -> Message:
    """The second click of "I can't come"."""
    if status is None:
        return cancelled(session, None)
    what = _place(status)
    text = _(
        "Give back your {place} for {title}, {when}?",
        place=what,
        title=session.shown_title(),
        when=when(session),
    )
    if status == CONFIRMED:
        text += " " + _("The next person on the waitlist gets it at once.")
    return reply(
        text,
        buttons=[
            Button(_("Yes, give back my {place}", place=what), f"/unregister {session.id}", style="danger"),
            Button(_("No, keep it"), "/mysessions", style="secondary"),
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
            CONFIRMED: _("seat confirmed"),
            FOLLOWING: _("following"),
            WAITLISTED: _("#{position} on the waitlist", position=place.position),
        }[place.status]
        fields.append(Field(session.shown_title(), f"{moment(session.starts_at, 'full')} · {state}"))
    if not fields:
        return reply(_("You have no sessions yet. See `/schedule`, then `/register <session>`."))
    return reply(_("Your sessions:"), fields=fields)


# -- insights ----------------------------------------------------------------------------------
def insight_shared(theme: Theme, anonymous: bool) -> Message:
    places = [platforms.label(name) for name in theme.channels]
    where = (
        " " + _("It will appear in the theme's channel on {places}.", places=platforms.join(places))
        if places
        else ""
    )
    if anonymous:
        return reply(_("Thank you! Your insight is shared in {theme} anonymously.", theme=theme.name) + where)
    return reply(_("Thank you! Your insight is shared in {theme}.", theme=theme.name) + where)


def insight_list(theme: Theme | None, posts: list) -> Message:
    if not posts:
        if theme:
            return reply(
                _("No insights in {theme} yet. Share one with `/insight <theme> <text>`.", theme=theme.name)
            )
        return reply(_("No insights yet. Share one with `/insight <theme> <text>`."))
    fields = [
        Field(
            " · ".join(x for x in (p.theme_name, p.author or _("anonymous"), p.city, p.origin) if x),
            p.text,
            verbatim=True,
        )
        for p in posts
    ]
    title = _("Latest insights in {theme}:", theme=theme.name) if theme else _("Latest insights:")
    return reply(title, fields=fields)


# -- organizers --------------------------------------------------------------------------------
def roster(session: Session, entries: list[RosterEntry]) -> Message:
    if not entries:
        return reply(_("Nobody has registered for {title} yet.", title=session.shown_title()))
    held = [e for e in entries if e.status != WAITLISTED]
    waiting = [e for e in entries if e.status == WAITLISTED]

    def line(e: RosterEntry) -> str:
        text = f"{e.name} ({', '.join(platforms.label(p) for p in e.platforms)})"
        said = [f"{q.label}: {e.answers[q.id]}" for q in session.questions if e.answers.get(q.id)]
        return f"{text} — {'; '.join(said)}" if said else text

    label = _("Confirmed") if session.capped else _("Following")
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
                _("Waitlist ({count})", count=len(waiting)),
                "\n".join(f"#{e.position} {line(e)}" for e in waiting) or "—",
                verbatim=True,
            )
        )
    return reply(_("Roster of {title}", title=session.shown_title()), fields=fields)


def announcement_queued(session: Session, people: int) -> Message:
    return reply(
        ngettext(
            "Your announcement is on its way to {n} person registered for {title}.",
            "Your announcement is on its way to {n} people registered for {title}.",
            people,
            title=session.shown_title(),
        )
    )


# -- accounts ----------------------------------------------------------------------------------
def link_code(code: str, others: list[str]) -> Message:
    where = (
        _("your other platform ({platforms})", platforms=platforms.join(others, platforms.OR))
        if others
        else _("your other platform")
    )
    return reply(
        _(
            "Your link code is {code}. Within 10 minutes, type `/link {code}` with your account on "
            "{where}, and both accounts become one: one seat, one set of reminders.",
            code=code,
            where=where,
        )
    )


def linked(program: Program, labels: tuple[str, ...], freed: tuple[str, ...]) -> Message:
    text = _(
        "Linked: your {accounts} accounts are now one. `/mysessions` shows the same on each.",
        accounts=platforms.join(list(labels)),
    )
    if freed:
        titles = ", ".join(s.shown_title() for s in map(program.session, freed) if s)
        text += " " + _(
            "You held two places in {titles}; I kept the earlier one and freed the other.", titles=titles
        )
    return reply(text)


# -- your data ---------------------------------------------------------------------------------
def _what(erased) -> str:
    return _listed(erased.accounts, erased.registrations, erased.insights, erased.messages, erased.feedback)


def _listed(accounts: int, registrations: int, insights: int, messages: int, ratings: int) -> str:
    parts = [
        ngettext("{n} account", "{n} accounts", accounts),
        ngettext("{n} registration", "{n} registrations", registrations),
        ngettext("{n} insight", "{n} insights", insights),
        ngettext("{n} message for you (sent or planned)", "{n} messages for you (sent or planned)", messages),
    ]
    if ratings:
        parts.append(ngettext("{n} rating", "{n} ratings", ratings))
    return ", ".join(parts)


def nothing_to_forget() -> Message:
    return reply(_("I keep nothing about you: there is nothing to erase."))


def forget_confirm_word() -> str:
    return _("To erase your data, type `/forgetme confirm`, or `/forgetme` to see what it erases.")


def forget_ask(preview) -> Message:
    return reply(
        _(
            "This erases everything I keep about you: {what}. Seats you hold go to the "
            "waitlist. Counts without your name stay. It cannot be undone.",
            what=_what(preview),
        ),
        buttons=[Button(_("Erase my data"), "/forgetme confirm", style="danger")],
    )


def forgotten(erased) -> Message:
    text = _("Done: I erased {what}.", what=_what(erased))
    if erased.promoted:
        text += " " + ngettext(
            "{n} seat you held went to the waitlist.",
            "{n} seats you held went to the waitlist.",
            len(erased.promoted),
        )
    if erased.posts_removed:
        text += " " + ngettext(
            "I am taking down the {n} channel post I made of your insights.",
            "I am taking down the {n} channel posts I made of your insights.",
            erased.posts_removed,
        )
    if erased.posts_left:
        where = platforms.join(
            [
                _("{count} on {platform}", count=n, platform=platforms.label(p))
                for p, n in sorted(erased.posts_left.items())
            ]
        )
        text += " " + _(
            "Your insights' channel posts ({where}) I could not take down myself; "
            "the organizers have a record and will remove them.",
            where=where,
        )
    return reply(text)


def no_data() -> Message:
    return reply(_("I keep no data about you."))


def your_data(data: dict, filename: str, body: bytes) -> Message:
    counts = _listed(
        len(data["accounts"]),
        len(data["registrations"]),
        len(data["insights"]),
        len(data["messages"]),
        len(data["feedback"]),
    )
    text = _(
        "Everything I keep about you is in the file {filename}: {counts}. `/forgetme` erases it.",
        filename=filename,
        counts=counts,
    )
    return Message(text=text, files=(Attachment(filename, body),))


def file_not_delivered() -> Message:
    """An adapter could not hand over a file that went with a reply."""
    return refusal(_("Sorry, I could not send you the file just now. Please try again in a minute."))


def privacy_notice(program: Program, retention_days: int) -> Message:
    """The same text as the README's "Privacy" section, for organizers to adapt."""
    contact = program.event.privacy_contact or _("the event's organizers")
    return reply(
        _("Privacy — {event}", event=program.event.name),
        fields=[
            Field(
                _("What I keep"),
                _(
                    "Your account on each platform you use here (its id and display name); your "
                    "registrations, waitlist places and follows; the insights you share; and the "
                    "messages I send you, with whether they arrived."
                ),
            ),
            Field(
                _("Why"),
                _(
                    "To run the event: keep seats fair, remind you with the join link, and share the "
                    "insights you choose to share. Nothing is sold or used for anything else."
                ),
            ),
            Field(
                _("For how long"),
                _(
                    "Registrations and the messages about a session are deleted {days} days "
                    "after it ends; only counts without names stay. Insights stay until you erase them.",
                    days=retention_days,
                )
                + " "
                + _(
                    "A mark you put on a session's event, once I have acted on it, is kept as a one-way "
                    "fingerprint of your account (never your name or id) until you take the mark off or the "
                    "session's records are deleted: it keeps me from following you again after `/forgetme`."
                ),
            ),
            Field(
                _("Your rights"),
                _(
                    "`/mydata` gives you everything I keep, as a file. `/forgetme` erases it at once. "
                    "For anything else, or to ask by e-mail, write to {contact}.",
                    contact=contact,
                ),
            ),
        ],
    )


# -- registration questions --------------------------------------------------------------------
def questions_title(session: Session) -> str:
    return _("Register: {title}", title=session.shown_title())[:45]


def questions_submit(session: Session) -> str:
    return _("Register")


def questions_asked(session: Session) -> str:
    return _("{title} asks a few questions before you register.", title=session.shown_title())


def answer_required(label: str) -> str:
    return _("Please answer “{label}”: it is required.", label=label)


def answer_too_long(label: str, limit: int, length: int) -> str:
    return _(
        "Please keep “{label}” to {limit} characters; yours has {length}.",
        label=label,
        limit=limit,
        length=length,
    )


def answer_not_a_choice(label: str, choices: list[str]) -> str:
    return _("For “{label}”, please choose one of: {choices}.", label=label, choices=", ".join(choices))


def optional_hint(required: bool, choices: tuple[str, ...]) -> str:
    """The console's hint under a question."""
    hint = _("one of: {choices}", choices=", ".join(choices)) if choices else ""
    if not required:
        hint = f"{hint}; " if hint else ""
        hint += _("optional, an empty line skips it")
    return f"({hint})" if hint else ""


def answers_saved(session: Session) -> str:
    return _("Your answers for {title} are saved.", title=session.shown_title())


def form_not_opened() -> Message:
    """An adapter could not open a form (a modal) in time."""
    return refusal(_("Sorry, I could not open the form in time. Please try the command again."))


# -- feedback ----------------------------------------------------------------------------------
# marked here, translated where they are shown (``_(replies.LESSON)``)
LESSON = N_("One lesson you take home")
SHARE = N_("Share it as an insight?")
KEEP_PRIVATE = N_("No, keep it for the organizers")


def feedback_rating() -> str:
    return _("Please rate with a number from 1 (poor) to 5 (excellent).")


def feedback_too_early(session: Session) -> str:
    return _("{title} has not started yet; you can rate it once it has.", title=session.shown_title())


def feedback_not_held(session: Session) -> str:
    return _(
        "Feedback on {title} comes from the people who held a seat in it or followed it.",
        title=session.shown_title(),
    )


def feedback_form_title(session: Session) -> str:
    return _("Feedback: {title}", title=session.shown_title())[:45]


def feedback_submit() -> str:
    return _("Send")


def feedback_thanks(session: Session, rated, shared_in: str | None, *, ask: bool) -> Message:
    if rated.again:
        text = _(
            "Thank you! You rated {title} {rating} out of 5 (it replaces your earlier one).",
            title=session.shown_title(),
            rating=rated.rating,
        )
    else:
        text = _(
            "Thank you! You rated {title} {rating} out of 5.",
            title=session.shown_title(),
            rating=rated.rating,
        )
    if ask:
        text += " " + _("Is there one lesson you take home? It is optional.")
    if shared_in:
        text += " " + _("Your lesson is shared as an insight in {where}.", where=shared_in)
    return reply(text)


# -- preferences -------------------------------------------------------------------------------
def zone_now(program: Program, chosen: str | None, reported: str | None, now: datetime) -> Message:
    example = f"`/timezone {zones.EXAMPLE}`"
    if chosen:
        text = _(
            "Your time zone is {zone}, as you chose: it is {time} there now.",
            zone=chosen,
            time=moment(now, "time"),
        )
    elif reported:
        text = _(
            "Your time zone is {zone}, as your app reports it: it is {time} there now.",
            zone=reported,
            time=moment(now, "time"),
        )
    else:
        text = _(
            "You have not chosen a time zone. Where your app can, it shows times in your local time; "
            "plain text uses {zone}, the event's zone.",
            zone=program.event.timezone,
        )
    return reply(text + " " + _("To change it: {example}.", example=example))


def zone_set(zone: str, now: datetime) -> Message:
    done = reply(
        _(
            "Done: I will show you times in {zone}, where it is {time} now.",
            zone=zone,
            time=moment(now, "time"),
        )
    )
    # the answer already reads in the new zone
    return Message(text=done.text, zone=zone)


def zone_unknown(typed: str, program: Program) -> Message:
    near = zones.suggestions(typed, limit=5) if typed.strip() else []
    known = ", ".join(dict.fromkeys((*program.event.zones, program.event.timezone)))
    text = _(
        "I do not know the time zone “{typed}”. Use an IANA name such as `/timezone {example}` "
        "(the event's cities: {known}).",
        typed=typed,
        example=zones.EXAMPLE,
        known=known,
    )
    if near:
        text += " " + _("Did you mean {zones}?", zones=", ".join(near))
    return refusal(text, error_field="zone")


def language_now(chosen: str | None, current: str) -> Message:
    names = ", ".join(f"`{code}` ({name})" for code, name in i18n.NAMES.items())
    if chosen:
        text = _("I write to you in {language}, as you chose.", language=i18n.language_name(current))
    else:
        text = _("I write to you in {language}, as your app asks.", language=i18n.language_name(current))
    return reply(text + " " + _("To change it: `/language <code>` with one of {names}.", names=names))


def language_set(language: str) -> Message:
    return reply(_("Done: I will write to you in {language}.", language=i18n.language_name(language)))


def language_unknown(typed: str) -> Message:
    names = ", ".join(f"`{code}` ({name})" for code, name in i18n.NAMES.items())
    return refusal(
        _("I do not speak “{typed}”. Choose one of {names}.", typed=typed, names=names),
        error_field="language",
    )
