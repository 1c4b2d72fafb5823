"""Fixtures for the Slack adapter tests: the local Slack stand-in and a bot wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bots.slack.adapter import SlackAdapter
from bots.slack.settings import SlackSettings
from shared.app import Roundtable
from shared.program import Program
from tests import support
from tests.slack.slack_standin import SlackStandIn

THEME_CHANNEL = "C0THEME001"
ADMIN_ID = "UADMIN01"


@pytest.fixture
def program() -> Program:
    """The bundled program with a one-seat workshop and a Slack channel for one theme."""
    return support.with_capacity(1, theme="citizen-participation", slack=THEME_CHANNEL)


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
def slack_settings(standin: SlackStandIn) -> SlackSettings:
    return support.slack_settings(standin, admin_ids=ADMIN_ID)


@pytest.fixture
async def http_bot(sqlite_core: Roundtable, slack_settings: SlackSettings) -> AsyncIterator[SlackAdapter]:
    """The adapter in HTTP mode on a free local port; ``bot.events_url`` is where Slack posts."""
    bot = SlackAdapter(sqlite_core, slack_settings)
    port = await bot.start_http("127.0.0.1", 0)
    bot.events_url = f"http://127.0.0.1:{port}/slack/events"  # type: ignore[attr-defined]
    try:
        yield bot
    finally:
        await bot.close()
