"""The console adapter in-process: replies, DMs as they arrive, and a failing database."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bots.console.adapter import ConsoleAdapter
from tests.support import console_settings, with_capacity


async def chat(core, name: str, lines: str) -> str:
    out = io.StringIO()
    adapter = ConsoleAdapter(
        core, console_settings(name), stdin=io.StringIO(lines), console=Console(file=out, width=200)
    )
    await adapter.run()
    return out.getvalue()


@pytest.fixture
def program():
    return with_capacity(1)


async def test_a_promotion_prints_on_the_promoted_persons_console(sqlite_core):
    await chat(sqlite_core, "ann", "/register workshop\n")
    assert "#1 on the waitlist" in await chat(sqlite_core, "ben", "/register workshop\n")
    ann = await chat(sqlite_core, "ann", "/unregister workshop\n")
    assert "A seat opened up" not in ann
    ben = await chat(sqlite_core, "ben", "")
    assert "📬 🎉 A seat opened up" in ben
    assert "17:50 CET (UTC+01:00)" in ben


async def test_a_database_failure_is_a_polite_line_and_the_chat_goes_on(sqlite_core, monkeypatch):
    calls = 0
    real = sqlite_core.handle

    async def flaky(inv):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk I/O error")
        return await real(inv)

    monkeypatch.setattr(sqlite_core, "handle", flaky)
    out = await chat(sqlite_core, "ann", "/mysessions\n/register roundtable\n")
    assert "Sorry, something went wrong on my side" in out
    assert "You are following Roundtable" in out
