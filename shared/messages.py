"""The neutral model of replies and messages that every adapter renders natively.

Core-authored text (``Message.text`` and non-verbatim field values) may carry time
markers ``<t:UNIX:STYLE>`` (STYLE: ``F`` full date and time, ``R`` relative, ``t``
time only, ``D`` date only).  Adapters turn them into the reader's local time.
Anything a person typed travels only in fields marked ``verbatim``: adapters show it as
plain text, never as markup, mentions or time markers.  Field names are plain text too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

TIME_MARKER = re.compile(r"<t:(-?\d+):([FRtDf])>")
TimeStyle = Literal["F", "R", "t", "D", "f"]


def moment(at: datetime, style: TimeStyle = "F") -> str:
    """A time marker for an aware datetime."""
    if at.tzinfo is None:
        raise ValueError("moment() needs an aware datetime")
    return f"<t:{int(at.timestamp())}:{style}>"


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
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        from shared.identity import PLATFORM_LABELS

        return f"via {PLATFORM_LABELS.get(self.platform, self.platform)}"
