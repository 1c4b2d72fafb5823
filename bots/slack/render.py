"""Rendering of the core's neutral messages as Slack Block Kit.

Core-authored text may carry time markers (``shared.messages.moment``); they become Slack date
tokens, which every reader's client shows in their own time zone. Anything a person
typed is escaped (``&``, ``<``, ``>``), so it can never form a mention, a channel link
or a date token, and it is sent with ``verbatim`` so Slack does not parse it either.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.i18n import _
from shared.messages import TIME_MARKER, Button, Field, InsightPost, Message
from shared.timefmt import format_moment

# Block Kit limits (https://api.slack.com/reference/block-kit)
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_PER_SECTION = 10
BUTTONS_PER_ACTIONS = 25
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
FALLBACK_TEXT_MAX = 3000

ACTION_PREFIX = "rt_cmd_"
ACTION_PATTERN = re.compile(r"^rt_cmd_\d+$")

_UTC = ZoneInfo("UTC")
_DATE_FORMATS = {
    "full": "{date_short_pretty} {time}",
    "date": "{date_short_pretty}",
    "time": "{time}",
    "relative": "{ago}",
}
_URL = re.compile(r"https?://[^\s<>|\"]+")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+)\)")


def escape(text: str) -> str:
    """Slack's three control characters, escaped; the result is inert plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's escaping of text it sends us (slash command text arrives escaped)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _fallback_time(unix: int, style: str, zone: ZoneInfo = _UTC, locale: str = "en") -> str:
    """A time as text in ``zone``, naming the zone (a fallback has no reader's clock)."""
    at = datetime.fromtimestamp(unix, UTC)
    return format_moment(at, "full" if style == "relative" else style, zone, now=at, locale=locale)


def slack_date(unix: int, style: str) -> str:
    """A Slack date token; the fallback (UTC) shows where a client cannot format it."""
    fmt = _DATE_FORMATS.get(style, _DATE_FORMATS["full"])
    return f"<!date^{unix}^{fmt}|{_fallback_time(unix, style)}>"


def _linkify(escaped: str) -> str:
    # links are explicit because mrkdwn objects go out with verbatim=True
    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        trail = ""
        while url and url[-1] in ".,;:!?)":
            trail = url[-1] + trail
            url = url[:-1]
        return f"<{url}>{trail}"

    return _URL.sub(one, escaped)


def _core_markup(plain: str) -> str:
    """Core text uses a little Markdown (``**bold**``, ``[label](url)``); say it in mrkdwn."""
    links: list[str] = []

    def keep_link(match: re.Match[str]) -> str:
        links.append(f"<{escape(match.group(2))}|{escape(match.group(1))}>")
        return f"\x00{len(links) - 1}\x00"

    text = _LINK.sub(keep_link, plain)
    text = _linkify(escape(text))
    text = _BOLD.sub(r"*\1*", text)
    return re.sub(r"\x00(\d+)\x00", lambda m: links[int(m.group(1))], text)


def mrkdwn(text: str) -> str:
    """Core-authored text as mrkdwn: escaped, with Slack date tokens for time markers."""
    out: list[str] = []
    last = 0
    for match in TIME_MARKER.finditer(text):
        out.append(_core_markup(text[last : match.start()]))
        out.append(slack_date(int(match.group(1)), match.group(2)))
        last = match.end()
    out.append(_core_markup(text[last:]))
    return "".join(out)


def plain(text: str, zone: ZoneInfo = _UTC, locale: str = "en") -> str:
    """Core text for places without formatting (notifications, modal errors): markers in ``zone``."""
    return TIME_MARKER.sub(lambda m: _fallback_time(int(m.group(1)), m.group(2), zone, locale), text).replace(
        "**", ""
    )


def people_text(text: str) -> str:
    """Text a person typed, as inert mrkdwn."""
    return escape(text)


def quoted(escaped: str) -> str:
    """Escaped people's text as a block quote: no line of it can pass for the bot's own."""
    return "\n".join("> " + line for line in escaped.split("\n"))


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # never cut through an escape sequence or a date token, which would break the markup
    for opener, closer in (("&", ";"), ("<", ">")):
        at = cut.rfind(opener)
        if at != -1 and cut.find(closer, at) == -1:
            cut = cut[:at]
    return cut + "…"


def _text(text: str, limit: int = SECTION_TEXT_MAX) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _truncate(text, limit) or " ", "verbatim": True}


def _field_text(item: Field, limit: int) -> str:
    value = quoted(people_text(item.value)) if item.verbatim else mrkdwn(item.value)
    return f"*{escape(item.name)}*\n{value or '—'}" if item.name else value or "—"


def _sections(text: str) -> list[dict[str, Any]]:
    """Long text split over several sections at line breaks."""
    blocks: list[dict[str, Any]] = []
    chunk = ""
    for line in text.split("\n"):
        if chunk and len(chunk) + 1 + len(line) > SECTION_TEXT_MAX:
            blocks.append({"type": "section", "text": _text(chunk)})
            chunk = line
        else:
            chunk = f"{chunk}\n{line}" if chunk else line
    if chunk.strip():
        blocks.append({"type": "section", "text": _text(chunk)})
    return blocks


def button(item: Button, index: int) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": f"{ACTION_PREFIX}{index}",
        "text": {"type": "plain_text", "text": _truncate(plain(item.label), BUTTON_TEXT_MAX), "emoji": True},
    }
    if item.url:
        # a link button (such as "Join"); Slack still sends a click, which is only acked
        element["url"] = item.url[:3000]
    else:
        element["value"] = item.action[:BUTTON_VALUE_MAX]
    if item.style in ("primary", "danger"):
        element["style"] = item.style
    return element


def blocks(message: Message, *, limit: int = MESSAGE_BLOCKS_MAX) -> list[dict[str, Any]]:
    """A neutral message as Block Kit blocks."""
    out: list[dict[str, Any]] = []
    if message.text:
        out.extend(_sections(mrkdwn(message.text)))
    inline: list[dict[str, Any]] = []

    def flush() -> None:
        for i in range(0, len(inline), FIELDS_PER_SECTION):
            out.append({"type": "section", "fields": inline[i : i + FIELDS_PER_SECTION]})
        inline.clear()

    for item in message.fields:
        if item.inline:
            inline.append(_text(_field_text(item, FIELD_TEXT_MAX), FIELD_TEXT_MAX))
        else:
            flush()
            out.append({"type": "section", "text": _text(_field_text(item, SECTION_TEXT_MAX))})
    flush()
    elements = [button(b, i) for i, b in enumerate(message.buttons)]
    for i in range(0, len(elements), BUTTONS_PER_ACTIONS):
        out.append(
            {
                "type": "actions",
                "elements": elements[i : i + BUTTONS_PER_ACTIONS],
            }
        )
    if len(out) > limit:
        # keep the buttons: they are how people act on the reply
        actions = [b for b in out if b["type"] == "actions"][: limit // 2]
        rest = [b for b in out if b["type"] != "actions"][: limit - len(actions) - 1]
        out = [
            *rest,
            {"type": "context", "elements": [_text("…and more: see the full list elsewhere.")]},
            *actions,
        ]
    return out


def fallback(message: Message) -> str:
    """The notification text of a message (Slack shows it where blocks cannot be).

    Times are in the reader's zone when the core knows it (Slack's own tz), else in UTC.
    """
    zone = ZoneInfo(message.zone) if message.zone else _UTC
    locale = message.locale or "en"
    parts = [escape(plain(message.text, zone, locale))] if message.text else []
    parts += [
        f"{escape(f.name)}: {escape(f.value) if f.verbatim else escape(plain(f.value, zone, locale))}"
        for f in message.fields
    ]
    return _truncate("\n".join(parts) or " ", FALLBACK_TEXT_MAX)


def insight_blocks(post: InsightPost) -> list[dict[str, Any]]:
    """An insight as it appears in a theme channel; all of it is people's text but the frame."""
    by = [escape(post.author) if post.author else _("anonymous")]
    if post.city:
        by.append(escape(post.city))
    by.append(escape(post.origin))
    return [
        {
            "type": "section",
            "text": _text(":bulb: *" + _("Insight · {theme}", theme=escape(post.theme_name)) + "*"),
        },
        *[
            {"type": "section", "text": _text(quoted(part.strip("\n")))}
            for part in _split(people_text(post.text), SECTION_TEXT_MAX // 2)
        ],
        {"type": "context", "elements": [_text("— " + " · ".join(by))]},
    ]


def insight_fallback(post: InsightPost) -> str:
    return _truncate(_("Insight · {theme}", theme=escape(post.theme_name)) + f": {escape(post.text)}", 300)


def _split(escaped: str, limit: int) -> list[str]:
    """Escaped text in pieces of at most ``limit``, never cutting an entity, preferring spaces."""
    pieces: list[str] = []
    while len(escaped) > limit:
        cut = limit
        amp = escaped.rfind("&", 0, cut)
        if amp != -1 and escaped.find(";", amp, cut) == -1:
            cut = amp
        space = max(escaped.rfind("\n", 0, cut), escaped.rfind(" ", 0, cut))
        if space > cut - 200:
            cut = space + 1
        pieces.append(escaped[:cut])
        escaped = escaped[cut:]
    pieces.append(escaped)
    return [p for p in pieces if p.strip()] or [" "]
