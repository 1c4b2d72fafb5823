"""The Slack adapter (slack-bolt): slash commands, buttons, the insight modal, App Home, DMs and
theme posts. Importing this package imports no SDK; ``ADAPTER`` builds the adapter when the
runner starts it (Socket Mode, or HTTP on $PORT with ``SLACK_MODE=http``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bots.slack.settings import SlackSettings
from shared.port import AdapterPlugin, RunFlag

if TYPE_CHECKING:
    from bots.slack.adapter import SlackAdapter
    from shared.app import Roundtable

NAME = "slack"


def build(core: Roundtable, settings: SlackSettings) -> SlackAdapter:
    from bots.slack.adapter import SlackAdapter

    return SlackAdapter(core, settings)


def check_channel(channel: str) -> str | None:
    if re.fullmatch(r"[CG][A-Z0-9]{6,}", channel):
        return None
    return f"{channel!r} is not a Slack channel id (C… or G…: the channel's details show it at the bottom)"


ADAPTER = AdapterPlugin(
    name=NAME,
    label="Slack",
    settings=SlackSettings,
    build=build,
    describe=lambda settings: f"slack ({settings.mode})",
    check_channel=check_channel,
    run_flags=(RunFlag("--slack-http", "mode", "http", "serve Slack over HTTP instead of Socket Mode"),),
)
