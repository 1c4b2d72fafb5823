"""The program file: the bundled default, and every way a file can be wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.program import ProgramError, load_program, parse_program

GOOD = """
[event]
name = "Test event"
timezone = "Europe/Paris"

[reminders]
before = ["1d", "10m"]

[[sessions]]
id = "talk"
title = "Talk"
start = 2026-12-10T17:00:00
minutes = 50
access = "open"
join_url = "https://example.org/talk"

[[sessions]]
id = "lab"
title = "Lab"
start = 2026-12-10T17:50:00
minutes = 40
access = "registration"
capacity = 2
join_url = "https://example.org/lab"

[[themes]]
id = "citizen-participation"
name = "Citizen participation"

[themes.channels]
slack = "C0123456789"
discord = "123456789012345678"
"""


def test_bundled_program_is_the_seed_event():
    program = load_program()
    assert program.event.name == "Taking resilience seriously: insights from pioneering cities"
    assert program.event.series == "RISE Cities"
    roundtable, workshop = program.sessions
    assert (roundtable.access, roundtable.minutes, roundtable.capacity) == ("open", 50, None)
    assert (workshop.access, workshop.minutes) == ("registration", 40)
    # 17:00 Paris in December is 16:00 UTC
    assert roundtable.starts_at == datetime(2026, 12, 10, 16, 0, tzinfo=UTC)
    assert workshop.starts_at == roundtable.ends_at
    assert {t.id for t in program.themes} >= {
        "citizen-participation",
        "internal-management",
        "decision-making",
        "territorial-cooperation",
    }


def test_local_times_follow_the_zone_across_daylight_saving():
    summer = GOOD.replace("2026-12-10T17:00:00", "2026-07-10T17:00:00").replace(
        "2026-12-10T17:50:00", "2026-07-10T17:50:00"
    )
    program = parse_program(summer)
    assert program.sessions[0].starts_at == datetime(2026, 7, 10, 15, 0, tzinfo=UTC)
    assert [int(o.total_seconds()) for o in program.reminders.offsets] == [86400, 600]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('timezone = "Europe/Paris"', 'timezone = "Europe/Atlantis"'),
            "event.timezone: 'Europe/Atlantis' is not an IANA",
        ),
        (('name = "Test event"', 'name = "Test event"\ncolour = "red"'), "event.colour: unknown key"),
        (
            ("minutes = 50", 'minutes = "fifty"'),
            "sessions[0].minutes (id 'talk'): 'fifty' is not a whole number: write it without quotes",
        ),
        (('id = "lab"', 'id = "talk"'), "sessions: the id 'talk' is used twice"),
        (
            ("capacity = 2\n", ""),
            "sessions[1] (id 'lab'): a session with access \"registration\" needs a capacity",
        ),
        (("2026-12-10T17:50:00", "2026-12-10T17:30:00"), "'talk' (50 min) overlaps 'lab'"),
        (('before = ["1d", "10m"]', 'before = ["1d", "soon"]'), "reminders.before: 'soon' is not a duration"),
        (
            ('join_url = "https://example.org/lab"', 'join_url = "not a url"'),
            "sessions[1].join_url (id 'lab')",
        ),
        (('slack = "C0123456789"', 'Slack = "C0123456789"'), "themes[0].channels.Slack.[key]"),
    ],
)
def test_a_broken_file_names_the_file_and_the_field(change, expected):
    old, new = change
    assert old in GOOD
    with pytest.raises(ProgramError) as caught:
        parse_program(GOOD.replace(old, new, 1), "event.toml")
    message = str(caught.value)
    assert message.startswith("event.toml: ")
    assert expected in message


def test_an_empty_theme_list_is_refused():
    # `themes = []` after a [[sessions]] table would belong to it: put it at the top
    text = "themes = []\n" + GOOD[: GOOD.index("[[themes]]")]
    with pytest.raises(ProgramError, match=r"themes: needs at least 1 entry"):
        parse_program(text, "event.toml")


def test_not_toml_and_a_missing_file(tmp_path):
    with pytest.raises(ProgramError, match=r"^bad.toml: not valid TOML"):
        parse_program("[event\n", "bad.toml")
    missing = tmp_path / "nope.toml"
    with pytest.raises(ProgramError, match=r"nope.toml: cannot read the program file"):
        load_program(missing)


def test_a_session_cannot_pick_its_own_zone():
    text = GOOD.replace('id = "talk"', 'id = "talk"\ntimezone = "Mars/Olympus"')
    with pytest.raises(ProgramError, match=r"sessions\[0\].timezone \(id 'talk'\): unknown key"):
        parse_program(text, "event.toml")


def test_a_start_in_the_daylight_saving_gap_is_refused():
    # Paris skips 02:00-03:00 on the last Sunday of March
    text = GOOD.replace("2026-12-10T17:00:00", "2026-03-29T02:30:00").replace(
        "2026-12-10T17:50:00", "2026-03-29T17:50:00"
    )
    with pytest.raises(ProgramError, match=r"'talk' starts at 2026-03-29 02:30, a time that does not exist"):
        parse_program(text, "event.toml")
