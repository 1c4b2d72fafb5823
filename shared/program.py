"""The program: the event, its sessions and its insight themes, read from a TOML file."""

from __future__ import annotations

import itertools
import re
import tomllib
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.clock import format_duration, parse_duration
from shared.i18n import _

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
AdapterName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,29}$")]
ChannelId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# before [themes.channels], each platform had its own key: `<adapter>_channel = "…"`
LEGACY_CHANNEL_KEY = re.compile(r"^([a-z][a-z0-9_-]{0,29})_channel$")


class ProgramError(Exception):
    """A program file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Event(_Strict):
    name: Name
    # whom people write to about their data (an e-mail address or a URL); shown by /privacy
    privacy_contact: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    series: Name | None = None
    timezone: str
    description: str = ""
    url: AnyHttpUrl | None = None
    locale: str = "en"
    # the zones of the event's cities, offered first where people pick their own zone
    zones: tuple[str, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Paris") from exc
        return value

    @field_validator("zones")
    @classmethod
    def _zones(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(cls._zone(value) for value in values)

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a locale such as en or fr_FR") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Reminders(_Strict):
    before: list[str] = Field(default_factory=lambda: ["1d", "1h", "10m"], max_length=10)

    @field_validator("before")
    @classmethod
    def _durations(cls, values: list[str]) -> list[str]:
        seen: set[timedelta] = set()
        for value in values:
            delta = parse_duration(value)
            if delta <= timedelta(0) or delta > timedelta(days=60):
                raise ValueError(f"{value!r} must be between 1s and 60d")
            if delta in seen:
                raise ValueError(f"{value!r} is listed twice")
            seen.add(delta)
        return values

    @property
    def offsets(self) -> list[timedelta]:
        # read on every registration and reply: parsed once per distinct list
        return list(_offsets(tuple(self.before)))


@cache
def _offsets(before: tuple[str, ...]) -> tuple[timedelta, ...]:
    return tuple(sorted((parse_duration(v) for v in before), reverse=True))


@cache
def _described(before: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(format_duration(o) for o in _offsets(before))


class Question(_Strict):
    """A question a session asks at registration (a city, an organisation, a role)."""

    id: Slug
    # some platforms cap a form field's label at 45 characters
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=45)]
    required: bool = False
    choices: list[Name] | None = Field(default=None, min_length=1, max_length=25)
    max_length: int = Field(default=200, ge=1, le=1000)


class Session(_Strict):
    id: Slug
    title: Name
    description: str = ""
    start: datetime
    minutes: int = Field(gt=0, le=24 * 60)
    access: Literal["open", "registration"]
    capacity: int | None = Field(default=None, gt=0, le=100_000)
    join_url: AnyHttpUrl
    # a cancelled session stays in the program: its registrants are told, its roster kept
    cancelled: bool = False
    cancel_message: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1500)] | None = None
    # asked at registration; a modal holds five fields at most
    questions: list[Question] = Field(default_factory=list, max_length=5)
    # per language (``title.fr = "…"``, ``description.es = "…"``), beside the default above
    titles: dict[str, str] = Field(default_factory=dict)
    descriptions: dict[str, str] = Field(default_factory=dict)
    # the [event] timezone, set by Program: times in the file are local to it
    _zone: str = PrivateAttr(default="UTC")

    @model_validator(mode="before")
    @classmethod
    def _languages(cls, data: object) -> object:
        """``title.en = …`` and ``title.fr = …``: the default is ``en`` (else the first given)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key, many in (("title", "titles"), ("description", "descriptions")):
            value = data.get(key)
            if isinstance(value, dict) and value:
                texts = {str(k).lower(): str(v) for k, v in value.items()}
                data[many] = texts
                data[key] = texts.get("en") or next(iter(texts.values()))
        return data

    def shown_title(self) -> str:
        """The title in the reader's language, else the default."""
        from shared.i18n import current

        return self.titles.get(current()) or self.title

    def shown_description(self) -> str:
        from shared.i18n import current

        return self.descriptions.get(current()) or self.description

    @model_validator(mode="after")
    def _unique_questions(self) -> Session:
        ids = [q.id for q in self.questions]
        if len(ids) != len(set(ids)):
            raise ValueError("questions: each question needs its own id")
        return self

    @model_validator(mode="after")
    def _capacity(self) -> Session:
        if self.access == "registration" and self.capacity is None:
            raise ValueError('a session with access "registration" needs a capacity')
        if self.access == "open" and self.capacity is not None:
            raise ValueError('an "open" session has no capacity; use access = "registration" to cap it')
        return self

    @property
    def timezone(self) -> str:
        return self._zone

    @property
    def starts_at(self) -> datetime:
        """The start in UTC (the file gives local time in the event's zone)."""
        local = self.start if self.start.tzinfo else self.start.replace(tzinfo=ZoneInfo(self._zone))
        return local.astimezone(UTC)

    @property
    def skipped_local_time(self) -> bool:
        """A local start that the clocks jump over when daylight saving time begins."""
        if self.start.tzinfo:
            return False
        zone = ZoneInfo(self._zone)
        return self.starts_at.astimezone(zone).replace(tzinfo=None) != self.start

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.minutes)

    @property
    def capped(self) -> bool:
        return self.capacity is not None

    def accepts_registration(self, now: datetime) -> bool:
        """Seats are given until the start; an open session takes latecomers until its end."""
        return now < (self.starts_at if self.capped else self.ends_at)

    def live(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    @property
    def join(self) -> str:
        return str(self.join_url)


class Theme(_Strict):
    id: Slug
    name: Name
    description: str = ""
    # adapter name -> that platform's channel id; each adapter checks its own ids
    channels: dict[AdapterName, ChannelId] = Field(default_factory=dict)


class Program(_Strict):
    event: Event
    reminders: Reminders = Field(default_factory=Reminders)
    sessions: list[Session] = Field(min_length=1)
    themes: list[Theme] = Field(min_length=1)
    # what `roundtable check` should tell the organizer to rename
    _deprecations: list[str] = PrivateAttr(default_factory=list)

    @property
    def deprecations(self) -> list[str]:
        return list(self._deprecations)

    @model_validator(mode="after")
    def _consistent(self) -> Program:
        for session in self.sessions:
            session._zone = self.event.timezone
            if session.skipped_local_time:
                raise ValueError(
                    f"sessions: {session.id!r} starts at {session.start:%Y-%m-%d %H:%M}, a time that does "
                    f"not exist in {self.event.timezone} (the clocks jump forward then)"
                )
        for kind, items in (("sessions", self.sessions), ("themes", self.themes)):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"{kind}: the id {item.id!r} is used twice")
                seen.add(item.id)
        ordered = sorted(self.sessions, key=lambda s: s.starts_at)
        for before, after in itertools.pairwise(ordered):
            if after.starts_at < before.ends_at:
                raise ValueError(
                    f"sessions: {before.id!r} ({before.minutes} min) overlaps {after.id!r}, which starts "
                    "before it ends"
                )
        return self

    def session(self, session_id: str) -> Session | None:
        return next((s for s in self.sessions if s.id == session_id), None)

    def theme(self, theme_id: str) -> Theme | None:
        wanted = theme_id.strip().lower().lstrip("#")
        return next((t for t in self.themes if t.id == wanted), None)

    @property
    def zone(self) -> ZoneInfo:
        return self.event.zone

    def unknown_session(self, typed: str) -> str:
        known = ", ".join(f"`{s.id}`" for s in self.sessions)
        return _no_such("session", typed) + " " + _("Choose one of {known}.", known=known)

    @property
    def open_sessions(self) -> list[Session]:
        """The sessions not cancelled: the ones people may still register for."""
        return [s for s in self.sessions if not s.cancelled]

    def unknown_theme(self, typed: str) -> str:
        known = ", ".join(f"`{t.id}`" for t in self.themes)
        return _no_such("theme", typed) + " " + _("Choose one of {known}.", known=known)

    def describe_offsets(self) -> list[str]:
        # in every registration's reply: formatted once per distinct list
        return list(_described(tuple(self.reminders.before)))


def _no_such(kind: str, typed: str) -> str:
    typed = typed.strip()
    session = kind == "session"
    if not typed:
        return _("Which session?") if session else _("Which theme?")
    # echo only what looks like an id: the reply is core text, which adapters render as markup
    if re.fullmatch(r"[A-Za-z0-9_#-]{1,50}", typed):
        if session:
            return _("There is no session called `{typed}`.", typed=typed)
        return _("There is no theme called `{typed}`.", typed=typed)
    return _("There is no such session.") if session else _("There is no such theme.")


def _location(loc: tuple[int | str, ...], data: dict) -> str:
    parts: list[str] = []
    node: object = data
    for step in loc:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            parts.append(f".{step}" if parts else str(step))
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            node = None
    where = "".join(parts)
    # name sessions and themes by id, not only by index
    if len(loc) >= 2 and loc[0] in ("sessions", "themes") and isinstance(loc[1], int):
        items = data.get(str(loc[0])) or []
        if loc[1] < len(items) and isinstance(items[loc[1]], dict) and "id" in items[loc[1]]:
            where += f" (id {items[loc[1]]['id']!r})"
    return where or "the program"


def _migrate_channel_keys(data: dict, source: str) -> list[str]:
    """Move the old per-platform theme keys into ``channels``; say what to rename."""
    notes = []
    for index, theme in enumerate(data.get("themes") or []):
        if not isinstance(theme, dict):
            continue
        for key in [k for k in theme if isinstance(k, str) and LEGACY_CHANNEL_KEY.match(k)]:
            adapter = LEGACY_CHANNEL_KEY.match(key).group(1)  # type: ignore[union-attr]
            value = theme.pop(key)
            channels = theme.setdefault("channels", {})
            if isinstance(channels, dict) and value is not None:
                channels.setdefault(adapter, value)
            where = f"themes[{index}] (id {theme.get('id')!r})"
            notes.append(
                f"{source}: {where}: `{key}` is deprecated and will stop working in the next release; "
                f"write it as `{adapter} = …` under `[themes.channels]`"
            )
    return notes


def parse_program(text: str, source: str = "program.toml") -> Program:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProgramError(f"{source}: not valid TOML: {exc}") from exc
    notes = _migrate_channel_keys(data, source)
    try:
        program = Program.model_validate(data)
        program._deprecations = notes
        return program
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            lines.append(f"{source}: {_location(tuple(error['loc']), data)}: {_friendly(error)}")
        raise ProgramError("\n".join(lines)) from exc


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _friendly(error: dict) -> str:
    """A validation error in plain words, with how to fix it (never pydantic's own wording)."""
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    field = next((str(p) for p in reversed(error["loc"]) if isinstance(p, str)), "this field")
    if kind == "value_error":
        return error["msg"].removeprefix("Value error, ")
    if kind == "missing":
        if field in ("event", "reminders"):
            return f"is missing: add a [{field}] table"
        if field in ("sessions", "themes"):
            return f"is missing: add at least one [[{field}]] table"
        return f"is missing: add `{field} = …` here"
    if kind == "extra_forbidden":
        return f"unknown key: remove `{field}` or check its spelling"
    if kind.startswith("url_") or (kind == "string_type" and field.endswith("url")):
        return (
            f"{_shown(value)} is not a full web address: write the whole link, "
            "starting with https://, such as https://zoom.us/j/123456"
        )
    if kind.startswith(("datetime_", "date_", "time_")):
        return (
            f"{_shown(value)} is not a date and time: write it as 2026-12-10T17:00:00 "
            "(the event's local time, without quotes)"
        )
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{_shown(value)} is not a whole number: write it without quotes, such as 30"
    if kind in ("bool_parsing", "bool_type"):
        return f"{_shown(value)} is neither true nor false: write true or false, without quotes"
    if kind == "greater_than":
        return f"{_shown(value)} is too small: it must be more than {ctx.get('gt')}"
    if kind in ("less_than_equal", "less_than"):
        return f"{_shown(value)} is too large: it must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "literal_error":
        return f"{_shown(value)} is not allowed here: use one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return (
            f"{_shown(value)} cannot be used as a name here: use lowercase letters, digits, - and _, "
            "starting with a letter or digit, such as workshop-1"
        )
    if kind == "string_too_short":
        return "is empty: write some text between the quotes"
    if kind == "string_too_long":
        return f"is too long: at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} entry: add one"
    if kind == "too_long":
        return f"has too many entries: at most {ctx.get('max_length')}"
    if kind in ("string_type", "str_type"):
        return f"{_shown(value)} is not text: put it between quotes"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a table: write it as [{field}] with `key = value` lines under it"
    if kind == "list_type":
        return f'must be a list, written as [[{field}]] tables or ["…", "…"]'
    return (
        f"{_shown(value)} is not valid here ({error['msg'].lower()}); see the bundled program for an example"
    )


def load_program(path: Path | str | None = None) -> Program:
    """Read and validate a program file; ``None`` loads the bundled default."""
    if path is None:
        text = resources.files("shared").joinpath("default_program.toml").read_text("utf-8")
        return parse_program(text, "default_program.toml (bundled)")
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ProgramError(f"{path}: cannot read the program file: {exc.strerror or exc}") from exc
    return parse_program(text, str(path))
