"""Fixtures for the Slack adapter tests: the local Slack stand-in and a bot wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import resources

import pytest

from bots.slack.adapter import SlackAdapter
from shared.app import Roundtable
from shared.program import Program, parse_program
from shared.settings import Settings
from tests.conftest import make_settings
from tests.slack.slack_standin import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, SlackStandIn

THEME_CHANNEL = "C0THEME001"
ADMIN_ID = "UADMIN01"


@pytest.fixture
def program() -> Program:
    """The bundled program with a one-seat workshop and a Slack channel for one theme."""
    text = resources.files("shared").joinpath("default_program.toml").read_text("utf-8")
    text = text.replace("capacity = 30", "capacity = 1")
    text = text.replace(
        'id = "citizen-participation"', f'id = "citizen-participation"\nslack_channel = "{THEME_CHANNEL}"'
    )
    return parse_program(text, "test program")


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    fake = await SlackStandIn().start()
    fake.channels.add(THEME_CHANNEL)
    for user_id, name in (("UALICE01", "alice"), ("UBOB0001", "bob"), ("UCAROL01", "carol")):
        fake.add_user(user_id, name)
    fake.add_user(ADMIN_ID, "organizer")
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
def slack_settings(sqlite_url: str, standin: SlackStandIn) -> Settings:
    return make_settings(
        sqlite_url,
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=standin.api_url,
        slack_admin_ids=ADMIN_ID,
    )


@pytest.fixture
async def http_bot(sqlite_core: Roundtable, slack_settings: Settings) -> AsyncIterator[SlackAdapter]:
    """The adapter in HTTP mode on a free local port; ``bot.events_url`` is where Slack posts."""
    bot = SlackAdapter(sqlite_core, settings=slack_settings)
    port = await bot.start_http("127.0.0.1", 0)
    bot.events_url = f"http://127.0.0.1:{port}/slack/events"  # type: ignore[attr-defined]
    try:
        yield bot
    finally:
        await bot.close()
