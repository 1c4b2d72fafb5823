"""The contract suite's fixture: one running adapter per platform, on one core each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.commands import CommandSpec, Invocation, add_command, remove_command
from shared.messages import Message, reply
from tests.conftest import make_settings
from tests.contract.drivers import THEME_CHANNELS, Driver, driving
from tests.support import opened_core, with_capacity

PLATFORMS = ["console", "slack", "discord", "memo"]
HYPHENATED = "say-hello"


async def _hello(core, inv: Invocation) -> Message:
    return reply(f"Hello, {inv.identity.display_name}!")


@pytest.fixture
def hyphenated_command():
    """A command whose name has a hyphen, present before any adapter starts (Discord syncs then)."""
    add_command(CommandSpec(HYPHENATED, "Say hello"), _hello)
    yield HYPHENATED
    remove_command(HYPHENATED)


@pytest.fixture(params=PLATFORMS)
async def driver(request, sqlite_url, clock, monkeypatch, hyphenated_command) -> AsyncIterator[Driver]:
    platform = request.param
    channels = {platform: THEME_CHANNELS[platform]} if platform in THEME_CHANNELS else {}
    program = with_capacity(1, **channels)
    async with (
        opened_core(make_settings(sqlite_url), program, clock, grace=1) as core,
        driving(platform, core, monkeypatch) as running,
    ):
        yield running
