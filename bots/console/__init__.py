"""The terminal adapter: one person chatting with the bot, one command a line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bots.console.settings import ConsoleSettings
from shared.port import AdapterPlugin

if TYPE_CHECKING:
    from bots.console.adapter import ConsoleAdapter
    from shared.app import Roundtable

NAME = "console"


def build(core: Roundtable, settings: ConsoleSettings) -> ConsoleAdapter:
    from bots.console.adapter import ConsoleAdapter

    return ConsoleAdapter(core, settings)


ADAPTER = AdapterPlugin(
    name=NAME,
    label="Console",
    settings=ConsoleSettings,
    build=build,
    describe=lambda settings: f"console (as {settings.name})",
    fallback=True,
)
