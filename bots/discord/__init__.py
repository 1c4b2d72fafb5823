"""The Discord adapter (discord.py). Importing this package imports no SDK: ``ADAPTER`` builds
the adapter, and imports discord.py, only when the runner starts it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bots.discord.settings import DiscordSettings
from shared.port import AdapterPlugin

if TYPE_CHECKING:
    from bots.discord.adapter import DiscordAdapter
    from shared.app import Roundtable

NAME = "discord"


def build(core: Roundtable, settings: DiscordSettings) -> DiscordAdapter:
    from bots.discord.adapter import DiscordAdapter

    return DiscordAdapter(core, settings)


def check_channel(channel: str) -> str | None:
    if re.fullmatch(r"\d{15,21}", channel):
        return None
    return f"{channel!r} is not a Discord channel id (15 to 21 digits: right-click the channel → Copy Channel ID)"


ADAPTER = AdapterPlugin(
    name=NAME,
    label="Discord",
    settings=DiscordSettings,
    build=build,
    check_channel=check_channel,
)
