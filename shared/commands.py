"""The one command set every adapter offers, its handlers, and parsing of typed command lines.

Specs are data (adapters build native commands from them); handlers are registered
explicitly with :func:`handler` by the feature modules in ``shared/handlers``.
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from shared.errors import Refusal
from shared.i18n import N_, _
from shared.identity import Identity
from shared.messages import Message

if TYPE_CHECKING:
    from shared.app import Roundtable

ChoicesFrom = Literal["sessions", "themes", "zones"] | None


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    description: str
    required: bool = True
    choices_from: ChoicesFrom = None
    rest: bool = False  # takes the remainder of a typed line
    # set by the bot's own buttons only: adapters leave it out of their native command forms
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command, and the hints adapters need to present it natively."""

    name: str
    description: str
    options: tuple[Option, ...] = ()
    organizer_only: bool = False
    # the option whose emptiness opens a form (a modal) where the platform has forms
    form_when_empty: str | None = None
    # sends to other people or channels, so it may take a while: acknowledge before running it
    fans_out: bool = False
    # the handler reads the reader's zone and language with its own statements and sets them on
    # its reply (saving the core a lookup); a reply without a locale gets the lookup after all
    reads_prefs: bool = False

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("schedule", N_("Show the event's sessions and times")),
        CommandSpec(
            "register",
            N_("Take a seat in a session, or follow an open one"),
            (
                Option(
                    "session",
                    N_("The session (leave empty to pick)"),
                    required=False,
                    choices_from="sessions",
                ),
            ),
            reads_prefs=True,
        ),
        CommandSpec(
            "unregister",
            N_("Give up your seat, waitlist place or follow"),
            (
                Option("session", N_("The session"), choices_from="sessions"),
                # "ask": the one-click "I can't come" of a reminder asks before it frees the seat
                Option("step", N_("ask to confirm first"), required=False, hidden=True),
            ),
        ),
        CommandSpec("mysessions", N_("Your seats, waitlist positions and follows")),
        CommandSpec(
            "insight",
            N_("Share a post-crisis lesson in a themed channel"),
            (
                Option("theme", N_("The theme"), choices_from="themes"),
                Option("text", N_("Your insight"), rest=True),
            ),
            form_when_empty="text",
            fans_out=True,
        ),
        CommandSpec(
            "insights",
            N_("The latest insights, by theme"),
            (Option("theme", N_("Only this theme"), required=False, choices_from="themes"),),
        ),
        CommandSpec(
            "roster",
            N_("Confirmed seats and the waitlist of a session"),
            (Option("session", N_("The session"), choices_from="sessions"),),
            organizer_only=True,
            fans_out=True,
        ),
        CommandSpec(
            "announce",
            N_("Send a message to everyone registered for a session"),
            (
                Option("session", N_("The session"), choices_from="sessions"),
                Option("message", N_("The message"), rest=True),
            ),
            organizer_only=True,
            fans_out=True,
        ),
        CommandSpec(
            "link",
            N_("Link your accounts on two platforms"),
            (Option("code", N_("A code from /link"), required=False),),
        ),
        CommandSpec(
            "feedback",
            N_("Rate a session from 1 to 5, with one lesson you take home if you like"),
            (
                Option("session", N_("The session"), choices_from="sessions"),
                Option("rating", N_("1 (poor) to 5 (excellent)")),
                Option("text", N_("One lesson you take home (optional)"), required=False, rest=True),
            ),
        ),
        CommandSpec("privacy", N_("What the bot keeps about you, why, for how long, and whom to ask")),
        CommandSpec("mydata", N_("Everything the bot keeps about you, as a file")),
        CommandSpec(
            "forgetme",
            N_("Erase everything the bot keeps about you (asks to confirm)"),
            (Option("confirm", N_("Type confirm to erase at once"), required=False),),
        ),
        CommandSpec(
            "timezone",
            N_("Show or set the time zone your times are shown in"),
            (
                Option(
                    "zone", N_("An IANA zone such as America/Bogota"), required=False, choices_from="zones"
                ),
            ),
        ),
        CommandSpec(
            "language",
            N_("Show or set the language I write to you in"),
            (Option("language", N_("en, fr or es"), required=False),),
        ),
        CommandSpec("help", N_("What the bot can do")),
    )
}


@dataclass(frozen=True, slots=True)
class Invocation:
    """A command as the core sees it, whatever platform it came from."""

    identity: Identity
    name: str
    args: dict[str, str] = field(default_factory=dict)
    organizer: bool = False


Handler = Callable[["Roundtable", Invocation], Awaitable[Message]]
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    """Register the function that runs the command ``name``."""

    def register(function: Handler) -> Handler:
        if name not in COMMANDS:
            raise KeyError(f"no command spec named {name!r}")
        HANDLERS[name] = function
        return function

    return register


def add_command(spec: CommandSpec, function: Handler) -> None:
    """Add a command to the set (extensions and tests); its name may contain hyphens."""
    COMMANDS[spec.name] = spec
    HANDLERS[spec.name] = function


def remove_command(name: str) -> None:
    COMMANDS.pop(name, None)
    HANDLERS.pop(name, None)


class CommandLineError(Refusal):
    """A typed line that is not a command; the message is fit to show the person."""


def parse_line(line: str) -> tuple[str, dict[str, str]]:
    """Parse ``/insight citizen-participation We opened ...`` into a name and arguments.

    Options bind in order; a ``rest`` option takes the remaining text as typed.
    Arguments may be quoted. Missing required options are left to the core to report.
    """
    line = line.strip()
    if not line.startswith("/"):
        raise CommandLineError(_("Commands start with `/`. Try `/help`."))
    head, _sep, tail = line[1:].partition(" ")
    name = head.lower()
    spec = COMMANDS.get(name)
    if spec is None:
        raise CommandLineError(_("There is no command `/{name}`. Try `/help`.", name=head))
    args: dict[str, str] = {}
    remaining = tail.strip()
    for option in spec.options:
        if not remaining:
            break
        if option.rest:
            args[option.name] = remaining
            remaining = ""
            break
        try:
            lexer = shlex.shlex(remaining, posix=True)
            lexer.whitespace_split = True
            token = lexer.get_token() or ""
            remaining = lexer.instream.read().strip()
        except ValueError as exc:
            raise CommandLineError(_("I could not read that line ({problem}).", problem=exc)) from exc
        args[option.name] = token
    if remaining:
        raise CommandLineError(_("`/{name}` takes fewer words.", name=name) + " " + usage(spec))
    return name, args


def usage(spec: CommandSpec) -> str:
    parts = [f"/{spec.name}"]
    for option in spec.options:
        if option.hidden:
            continue
        parts.append(f"<{option.name}>" if option.required else f"[{option.name}]")
    return "Usage: `" + " ".join(parts) + "`"
