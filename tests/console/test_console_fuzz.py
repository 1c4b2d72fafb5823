"""Ten thousand generated console lines (issue 11): answers, refusals, never a traceback or an apology."""

from __future__ import annotations

import io
import logging
import random

import pytest
from rich.console import Console

from bots.console.adapter import ConsoleAdapter
from bots.console.settings import ConsoleSettings
from shared.commands import COMMANDS
from shared.replies import APOLOGY
from tests.contract.test_hostile_text import CORPUS

WORDS = ["workshop", "roundtable", "gala", "citizen-participation", "yes", "--", "-x", '"', "'", "\\"]


def _line(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        command = "/" + rng.choice([*COMMANDS, "quit-not", "", "/", "Register", "régister"])
    elif roll < 0.8:
        command = rng.choice(CORPUS)[:40]
    else:
        command = "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 20)))
    args = [
        rng.choice([*WORDS, rng.choice(CORPUS)[:60], str(rng.randint(-(10**12), 10**12))])
        for _ in range(rng.randrange(0, 4))
    ]
    line = " ".join([command, *args])
    # one command a line: what a terminal would send
    line = line.replace("\r", " ").replace("\n", " ").replace("\u2028", " ").replace("\u2029", " ")
    line = line.replace("\x0b", " ").replace("\x0c", " ").replace("\x1c", " ").replace("\x1d", " ")
    line = line.replace("\x1e", " ").replace("\x85", " ")
    return "" if line.strip() in ("/quit", "/exit") else line


@pytest.mark.slow
async def test_ten_thousand_generated_lines_never_raise(sqlite_core, caplog) -> None:
    caplog.set_level(logging.WARNING)
    rng = random.Random(11)
    lines = [_line(rng) for _ in range(10_000)]
    buffer = io.StringIO()
    for who, organizer in (("ann", False), ("orga", True)):
        half = lines[:5000] if who == "ann" else lines[5000:]
        adapter = ConsoleAdapter(
            sqlite_core,
            ConsoleSettings(name=who, organizer=organizer),
            stdin=io.StringIO("\n".join(half) + "\n"),
            console=Console(file=buffer, width=200),
        )
        await adapter.run()
    shown = buffer.getvalue()
    assert APOLOGY not in shown
    assert "Traceback" not in shown
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
