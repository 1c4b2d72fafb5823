"""Rendering of time markers for readers who see one fixed zone (the console, exports)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta

from shared.messages import TIME_MARKER


def utc_offset(at: datetime, zone: ZoneInfo) -> str:
    offset = at.astimezone(zone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def format_moment(at: datetime, style: str, zone: ZoneInfo, *, now: datetime, locale: str = "en") -> str:
    """One marker as text in ``zone``, with the zone's abbreviation and UTC offset."""
    if style == "relative":
        return format_timedelta(at - now, add_direction=True, locale=locale, threshold=1.5)
    if style == "time":
        return f"{format_datetime(at, 'HH:mm', tzinfo=zone, locale=locale)} {_abbr(at, zone)}"
    if style == "date":
        return format_datetime(at, "EEE d MMM y", tzinfo=zone, locale=locale)
    local = format_datetime(at, "EEE d MMM y, HH:mm", tzinfo=zone, locale=locale)
    return f"{local} {_abbr(at, zone)} ({utc_offset(at, zone)})"


def _abbr(at: datetime, zone: ZoneInfo) -> str:
    """The zone's short name; its IANA name where tzdata has none (``-05`` in Bogotá)."""
    name = at.astimezone(zone).tzname() or ""
    if not name or name[0] in "+-" or name.isdigit():
        return zone.key
    return name


def render_markers(text: str, zone: ZoneInfo, *, now: datetime, locale: str = "en") -> str:
    """Replace the core's time markers with times in ``zone``."""

    def one(match) -> str:
        at = datetime.fromtimestamp(int(match.group(1)), UTC)
        return format_moment(at, match.group(2), zone, now=now, locale=locale)

    return TIME_MARKER.sub(one, text)
