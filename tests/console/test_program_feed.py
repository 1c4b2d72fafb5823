"""`roundtable program --format ics`: the same UIDs and the current SEQUENCE as each person's file."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from bots.cli import cmd_program
from shared.program import Program
from tests.conftest import make_settings
from tests.support import RecordingPort, opened_core, person, with_capacity


def entries(ics: bytes) -> dict[str, Calendar]:
    return {str(e["uid"]): e for e in Calendar.from_ical(ics).walk("VEVENT")}


async def feed(settings, program: Program, capsysbinary: pytest.CaptureFixture[bytes]) -> dict[str, Calendar]:
    assert await cmd_program(argparse.Namespace(format="ics", tz=None), settings, program) == 0
    return entries(capsysbinary.readouterr().out)


async def test_the_feed_follows_the_database_sequence(
    tmp_path: Path, clock, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'rt.db'}")
    program = with_capacity(None)
    # no database yet: the program file alone, and reading the feed creates none
    assert {int(e["sequence"]) for e in (await feed(settings, program, capsysbinary)).values()} == {0}
    assert not (tmp_path / "rt.db").exists()

    async with opened_core(settings, program, clock) as core:
        [mine] = (await core.respond(person("ann"), line="/register workshop")).files
    [uid] = entries(mine.data)

    # the workshop moves half an hour (same day: same UID); the roundtable is called off
    workshop = program.session("workshop")
    later = workshop.model_copy(update={"start": workshop.start + timedelta(minutes=30)})
    moved = program.model_copy(
        update={
            "sessions": [
                later if s.id == "workshop" else s.model_copy(update={"cancelled": True})
                for s in program.sessions
            ]
        }
    )
    ahead = await feed(settings, moved, capsysbinary)  # before the bot syncs: the numbers it will give
    assert int(ahead[uid]["sequence"]) == 1

    async with opened_core(settings, moved, clock) as core:  # the bot's start syncs the program
        port = RecordingPort()
        core.attach(port)
        await core.dispatch_due()
        [dm] = [m for _, m in port.direct if m.kind == "moved"]
    [(moved_uid, moved_entry)] = entries(dm.files[0].data).items()

    shown = await feed(settings, moved, capsysbinary)
    assert moved_uid == uid and int(shown[uid]["sequence"]) == int(moved_entry["sequence"]) == 1
    assert shown[uid].decoded("dtstart") == moved_entry.decoded("dtstart")
    [called_off] = [e for u, e in shown.items() if u != uid]
    assert str(called_off["status"]) == "CANCELLED" and int(called_off["sequence"]) == 1
