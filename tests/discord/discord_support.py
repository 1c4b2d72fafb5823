"""Helpers shared by the Discord adapter tests (a module with a unique name, unlike conftest)."""

from __future__ import annotations

from shared.program import Program
from tests.support import with_capacity

THEME_CHANNEL = "1200000000000000001"  # the Discord channel of the citizen-participation theme
WORKSHOP_SEATS = 2


def discord_program() -> Program:
    """The bundled program with a Discord channel for one theme and a small workshop."""
    return with_capacity(WORKSHOP_SEATS, theme="citizen-participation", discord=THEME_CHANNEL)
