"""``roundtable run``: every adapter whose credentials are set, in one process, one dispatcher."""

from __future__ import annotations

import logging

from shared.program import Program
from shared.settings import Settings

log = logging.getLogger("roundtable")


def enabled_adapters(settings: Settings) -> list[str]:
    names = []
    if settings.discord_enabled:
        names.append("discord")
    if settings.slack_enabled:
        names.append(f"slack ({settings.slack_mode})")
    return names


async def run(settings: Settings, program: Program, *, console_name: str) -> int:
    from bots.cli import cmd_console

    if not enabled_adapters(settings):
        import argparse

        return await cmd_console(argparse.Namespace(name=console_name, organizer=False), settings, program)
    raise NotImplementedError("platform adapters are wired in by the Discord and Slack work")
