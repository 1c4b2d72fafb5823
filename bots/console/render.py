"""Neutral messages as rich terminal text, times in the event's zone with their UTC offset."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rich.text import Text

from shared.messages import Message
from shared.timefmt import render_markers


def render(message: Message, zone: ZoneInfo, *, now: datetime, locale: str = "en", prefix: str = "") -> Text:
    """Build the text; people's words go in as plain text, so nothing they type is markup."""

    def times(text: str) -> str:
        return render_markers(text, zone, now=now, locale=locale)

    out = Text()
    style = "bold red" if not message.ok else ("bold cyan" if message.kind != "reply" else "bold")
    out.append(prefix + times(message.text), style=style)
    for field in message.fields:
        out.append("\n  ")
        out.append(field.name, style="bold")
        if field.verbatim:
            # people's words, set apart line by line: none of them can pass for the bot's
            out.append("\n    │ " + field.value.replace("\n", "\n    │ "), style="italic")
            continue
        value = times(field.value).replace("\n", "\n    ")
        out.append(("\n    " if "\n" in value or len(value) > 60 else ": ") + value)
    for button in message.buttons:
        out.append("\n  ")
        if button.url:
            out.append(f"[{button.label}] {button.url}", style="green")
        else:
            out.append(f"[{button.label}] type: {button.action}", style="green")
    return out
