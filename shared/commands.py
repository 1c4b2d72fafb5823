"""The one command set every adapter offers, and parsing of typed command lines."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Literal

from shared.identity import Identity

ChoicesFrom = Literal["sessions", "themes"] | None


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    description: str
    required: bool = True
    choices_from: ChoicesFrom = None
    rest: bool = False  # takes the remainder of a typed line


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    description: str
    options: tuple[Option, ...] = ()
    organizer_only: bool = False


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("schedule", "Show the event's sessions and times"),
        CommandSpec(
            "register",
            "Take a seat in a session, or follow an open one",
            (
                Option(
                    "session", "The session (leave empty to pick)", required=False, choices_from="sessions"
                ),
            ),
        ),
        CommandSpec(
            "unregister",
            "Give up your seat, waitlist place or follow",
            (Option("session", "The session", choices_from="sessions"),),
        ),
        CommandSpec("mysessions", "Your seats, waitlist positions and follows"),
        CommandSpec(
            "insight",
            "Share a post-crisis lesson in a themed channel",
            (
                Option("theme", "The theme", choices_from="themes"),
                Option("text", "Your insight", rest=True),
            ),
        ),
        CommandSpec(
            "insights",
            "The latest insights, by theme",
            (Option("theme", "Only this theme", required=False, choices_from="themes"),),
        ),
        CommandSpec(
            "roster",
            "Confirmed seats and the waitlist of a session",
            (Option("session", "The session", choices_from="sessions"),),
            organizer_only=True,
        ),
        CommandSpec(
            "announce",
            "Send a message to everyone registered for a session",
            (
                Option("session", "The session", choices_from="sessions"),
                Option("message", "The message", rest=True),
            ),
            organizer_only=True,
        ),
        CommandSpec(
            "link",
            "Link your accounts on Slack and Discord",
            (Option("code", "A code from /link", required=False),),
        ),
        CommandSpec("help", "What the bot can do"),
    )
}


@dataclass(frozen=True, slots=True)
class Invocation:
    """A command as the core sees it, whatever platform it came from."""

    identity: Identity
    name: str
    args: dict[str, str] = field(default_factory=dict)
    organizer: bool = False


class CommandLineError(ValueError):
    """A typed line that is not a command; the message is fit to show the person."""


def parse_line(line: str) -> tuple[str, dict[str, str]]:
    """Parse ``/insight citizen-participation We opened ...`` into a name and arguments.

    Options bind in order; a ``rest`` option takes the remaining text as typed.
    Arguments may be quoted. Missing required options are left to the core to report.
    """
    line = line.strip()
    if not line.startswith("/"):
        raise CommandLineError("Commands start with `/`. Try `/help`.")
    head, _, tail = line[1:].partition(" ")
    name = head.lower()
    spec = COMMANDS.get(name)
    if spec is None:
        raise CommandLineError(f"There is no command `/{head}`. Try `/help`.")
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
            raise CommandLineError(f"I could not read that line ({exc}).") from exc
        args[option.name] = token
    if remaining:
        raise CommandLineError(f"`/{name}` takes fewer words. {usage(spec)}")
    return name, args


def usage(spec: CommandSpec) -> str:
    parts = [f"/{spec.name}"]
    for option in spec.options:
        parts.append(f"<{option.name}>" if option.required else f"[{option.name}]")
    return "Usage: `" + " ".join(parts) + "`"
