"""The neutral model of replies and messages that every adapter renders natively.

Core-authored text (``Message.text`` and non-verbatim field values) may carry time
markers ``⟦time:UNIX:STYLE⟧`` (STYLE: ``full`` date and time, ``relative``, ``time`` only,
``date`` only), made by :func:`moment`.  Adapters turn them into the reader's local time.
Anything a person typed travels only in fields marked ``verbatim``: adapters show it as
plain text, never as markup, mentions or time markers.  Field names are plain text too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared import platforms

TIME_MARKER = re.compile(r"⟦time:(-?\d+):(full|relative|time|date)⟧")
TimeStyle = Literal["full", "relative", "time", "date"]


def moment(at: datetime, style: TimeStyle = "full") -> str:
    """A time marker for an aware datetime."""
    if at.tzinfo is None:
        raise ValueError("moment() needs an aware datetime")
    return f"⟦time:{int(at.timestamp())}:{style}⟧"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    value: str
    verbatim: bool = False
    inline: bool = False


@dataclass(frozen=True, slots=True)
class Button:
    """A button; ``action`` is a neutral command line such as ``/register workshop``.

    A button with a ``url`` is a link (such as "Join") and has no action.
    """

    label: str
    action: str = ""
    style: Literal["primary", "secondary", "danger"] = "primary"
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that goes with a message (a person's data as JSON, a calendar entry as
    ``text/calendar``); adapters deliver it the platform's way: an attachment, an uploaded
    file, or a file on disk. An adapter that cannot attach it says so in its logs; the text
    stands alone."""

    filename: str
    data: bytes
    mime: str = "application/json"


@dataclass(frozen=True, slots=True)
class FormField:
    """One field of a form; ``choices`` makes it a pick from a list."""

    id: str
    label: str
    required: bool = False
    choices: tuple[str, ...] = ()
    max_length: int = 200
    value: str = ""


@dataclass(frozen=True, slots=True)
class Form:
    """A form the core asks to be filled in: adapters render it natively (a modal where the
    platform has them, one line per field in a terminal) and answer with ``command`` and
    ``args`` plus one argument per field, keyed by the field's id."""

    title: str
    command: str
    args: tuple[tuple[str, str], ...]
    fields: tuple[FormField, ...]
    submit: str = "Send"


@dataclass(frozen=True, slots=True)
class Message:
    """A reply to a command, or a message the bot sends on its own."""

    text: str
    fields: tuple[Field, ...] = ()
    buttons: tuple[Button, ...] = ()
    ephemeral: bool = True
    ok: bool = True
    # set on failures that need a form field highlighted (e.g. a modal's "text")
    error_field: str | None = None
    kind: str = "reply"
    files: tuple[Attachment, ...] = ()
    # when set, the reply is a form to fill in; ``text`` is what to show where forms cannot be
    form: Form | None = None
    # the reader's IANA zone, for renderings in plain text; None: the adapter's default zone
    zone: str | None = None
    # the language it is written in, for dates and numbers an adapter formats itself
    locale: str | None = None


def reply(text: str, *, fields: list[Field] | tuple[Field, ...] = (), buttons=(), ephemeral=True) -> Message:
    return Message(text=text, fields=tuple(fields), buttons=tuple(buttons), ephemeral=ephemeral)


def refusal(text: str, *, error_field: str | None = None) -> Message:
    """A polite, ephemeral refusal of bad input."""
    return Message(text=text, ephemeral=True, ok=False, error_field=error_field, kind="error")


@dataclass(frozen=True, slots=True)
class InsightPost:
    """An insight as it is published into a theme channel."""

    insight_id: int
    theme_id: str
    theme_name: str
    text: str
    author: str | None  # None when anonymous
    city: str | None
    platform: str  # where it was shared from
    created_at: datetime

    @property
    def origin(self) -> str:
        return f"via {platforms.label(self.platform)}"
