"""Program errors in plain words (issue 11): what is wrong and how to fix it, never pydantic's wording."""

from __future__ import annotations

from importlib import resources

import pytest

from shared.program import ProgramError, parse_program

BASE = resources.files("shared").joinpath("default_program.toml").read_text("utf-8")
RAW = ("relative URL without a base", "invalid character in year", "(top level)", "Input should", "[type=")
DUPLICATE = (
    '\n[[sessions]]\nid = "roundtable"\ntitle = "Again"\nstart = 2026-12-11T17:00:00\n'
    'minutes = 5\naccess = "open"\njoin_url = "https://example.org"\n'
)


@pytest.mark.parametrize(
    ("old", "new", "where", "says"),
    [
        (
            'join_url = "https://us02web.zoom.us/j/4955033387"',
            'join_url = "zoom.us/j/1"',
            "sessions[0].join_url (id 'roundtable')",
            "starting with https://",
        ),
        (
            "start = 2026-12-10T17:00:00",
            'start = "20x6-12-10T17:00"',
            "sessions[0].start (id 'roundtable')",
            "write it as 2026-12-10T17:00:00",
        ),
        ("", DUPLICATE, "the program: sessions", "used twice"),
        ('access = "open"', 'access = "public"', "sessions[0].access", "use one of 'open' or 'registration'"),
        ('id = "roundtable"', 'id = "Round Table"', "sessions[0].id", "lowercase letters"),
        ("minutes = 50\n", "", "sessions[0].minutes (id 'roundtable')", "add `minutes = …`"),
        ("minutes = 50", "minutes = 0", "sessions[0].minutes", "must be more than 0"),
        ("minutes = 50", "minutes = 50\nroom = 3", "sessions[0].room", "unknown key: remove `room`"),
    ],
)
def test_program_errors_say_what_and_how(old: str, new: str, where: str, says: str) -> None:
    text = BASE.replace(old, new, 1) if old else BASE + new
    with pytest.raises(ProgramError) as caught:
        parse_program(text, "event.toml")
    message = str(caught.value)
    assert message.startswith(f"event.toml: {where}"), message
    assert says in message
    assert not any(raw in message for raw in RAW), message
