"""A fourth platform that lives only in the tests: an in-memory chat.

It is what a contributor writes to add a platform: settings of its own, an adapter that turns
its events into ``core.respond`` calls and renders replies, a delivery port, and one
:class:`shared.port.AdapterPlugin` registered with ``bots.registry.register`` — nothing in
``shared/`` changes for it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.app import Roundtable
from shared.identity import Identity, Reach, Recipient
from shared.messages import InsightPost, Message
from shared.port import UNKNOWN_CHANNEL, AdapterPlugin, DeliveryError, Receipt
from shared.timefmt import render_markers

NAME = "memo"
ROOM = "room-citizen-participation"


class MemoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEMO_", extra="ignore")

    enabled_: bool = Field(default=False, alias="MEMO_ENABLED")
    organizers: Annotated[list[str], NoDecode] = []
    rooms: Annotated[list[str], NoDecode] = [ROOM]

    @property
    def enabled(self) -> bool:
        return self.enabled_

    def warnings(self) -> list[str]:
        return []


@dataclass
class Said:
    """What a person saw in answer to something they typed."""

    text: str
    private: bool


def plain(message: Message) -> str:
    """A neutral message as this platform's plain text, times in UTC."""
    now = datetime.now(UTC)

    def times(text: str) -> str:
        return render_markers(text, ZoneInfo("UTC"), now=now)

    lines = [times(message.text)]
    lines += [f"{f.name}: {f.value if f.verbatim else times(f.value)}" for f in message.fields]
    lines += [f"[{b.label}]" for b in message.buttons]
    return "\n".join(lines)


class MemoAdapter:
    platform = NAME
    label = "Memo"

    def __init__(self, core: Roundtable, settings: MemoSettings) -> None:
        self.core = core
        self.settings = settings
        self.dms: dict[str, list[str]] = {}
        self.rooms: dict[str, list[str]] = {room: [] for room in settings.rooms}
        self.posted: dict[str, tuple[str, str]] = {}  # ref -> (room, text)
        self._closed = asyncio.Event()
        self._live = False

    # -- life cycle ------------------------------------------------------------------------
    async def start(self) -> None:
        self._live = True
        self.core.attach(self)

    async def wait(self) -> None:
        await self._closed.wait()

    async def close(self, grace: float = 0.5) -> None:
        self._live = False
        self.core.detach(self)
        self._closed.set()

    # -- inbound: what people type ---------------------------------------------------------
    async def type(self, user: str, line: str) -> Said:
        identity = Identity(NAME, "memo", user, user.title())
        message = await self.core.respond(identity, line=line, organizer=user in self.settings.organizers)
        return Said(plain(message), message.ephemeral)

    # -- the delivery port -----------------------------------------------------------------
    def reach(self) -> list[Reach]:
        return [Reach(NAME)] if self._live else []

    async def send_direct(self, recipient: Recipient, message: Message) -> Receipt:
        self.dms.setdefault(recipient.user_id, []).append(plain(message))
        return Receipt()

    async def post_insight(self, channel: str, post: InsightPost) -> Receipt:
        if channel not in self.rooms:
            raise DeliveryError(UNKNOWN_CHANNEL, channel)
        who = post.author or "anonymous"
        text = f"{post.theme_name}: {post.text} — {who}, {post.origin}"
        self.rooms[channel].append(text)
        ref = f"m{len(self.posted) + 1}"
        self.posted[ref] = (channel, text)
        return Receipt(ref=ref)

    async def delete_post(self, channel: str, ref: str) -> None:
        posted = self.posted.pop(ref, None)
        if posted is not None and posted[1] in self.rooms.get(channel, []):
            self.rooms[channel].remove(posted[1])


def build(core: Roundtable, settings: MemoSettings) -> MemoAdapter:
    return MemoAdapter(core, settings)


ADAPTER = AdapterPlugin(
    name=NAME,
    label="Memo",
    settings=MemoSettings,
    build=build,
    check_channel=lambda channel: None if channel.startswith("room-") else f"{channel!r} is not a room",
)
