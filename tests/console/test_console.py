"""The console adapter and the `roundtable` command, driven as a person would: through stdin."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A fresh database and the bundled program a month ahead, with a one-seat workshop."""
    text = (ROOT / "shared" / "default_program.toml").read_text("utf-8")
    day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    program = tmp_path / "program.toml"
    program.write_text(text.replace("2026-12-10", day).replace("capacity = 30", "capacity = 1"), "utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "CONSOLE_"))}
    return {
        **clean,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rt.db'}",
        "ROUNDTABLE_PROGRAM": str(program),
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
    }


def roundtable(env, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bots", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=env.get("CWD", ROOT),
        timeout=60,
    )


def test_a_scripted_console_session(env):
    result = roundtable(
        env,
        "console",
        "--as",
        "alice",
        stdin="/schedule\n/register workshop\n/mysessions\n/register gala\n/dance\nhello\n",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Taking resilience seriously" in out and "RISE Cities" in out
    # the console shows the event's zone and the UTC offset
    assert "17:50 CET (UTC+01:00)" in out
    assert "Your seat is confirmed for Workshop" in out
    assert "seat confirmed" in out
    assert "There is no session called `gala`" in out
    assert "There is no command `/dance`" in out
    assert "Commands start with `/`" in out


def test_two_consoles_on_one_database_keep_their_own_messages(env):
    assert roundtable(env, "console", "--as", "alice", stdin="/register workshop\n").returncode == 0
    bob = roundtable(env, "console", "--as", "bob", stdin="/register workshop\n")
    assert "#1 on the waitlist" in bob.stdout
    alice = roundtable(env, "console", "--as", "alice", stdin="/unregister workshop\n")
    assert "Your seat for Workshop" in alice.stdout
    assert "A seat opened up" not in alice.stdout  # bob's promotion is not alice's to see
    later = roundtable(env, "console", "--as", "bob", stdin="/mysessions\n")
    assert "📬 🎉 A seat opened up: you are confirmed for Workshop" in later.stdout
    assert "seat confirmed" in later.stdout
    again = roundtable(env, "console", "--as", "bob", stdin="")
    assert "A seat opened up" not in again.stdout  # delivered once


def test_organizer_commands_in_the_console(env):
    roundtable(
        env,
        "console",
        "--as",
        "alice",
        stdin="/register workshop\n/insight decision-making Faster, with residents.\n",
    )
    refused = roundtable(env, "console", "--as", "bob", stdin="/roster workshop\n")
    assert "for the event's organizers" in refused.stdout
    orga = roundtable(
        env,
        "console",
        "--as",
        "orga",
        "--organizer",
        stdin="/roster workshop\n/announce workshop Bring a pen\n",
    )
    assert "Confirmed (1/1)" in orga.stdout and "1. alice (Console)" in orga.stdout
    assert "on its way to 1 person" in orga.stdout
    alice = roundtable(env, "console", "--as", "alice", stdin="")
    assert "📣 Announcement about Workshop" in alice.stdout and "Bring a pen" in alice.stdout


def test_organizer_exports(env):
    roundtable(
        env,
        "console",
        "--as",
        "alice",
        stdin="/register workshop\n/insight decision-making Faster, <b>with</b> residents.\n",
    )
    roundtable(env, "console", "--as", "bob", stdin="/register workshop\n")
    rows = list(csv.DictReader(io.StringIO(roundtable(env, "roster", "workshop", "--format", "csv").stdout)))
    assert [(r["name"], r["status"], r["position"], r["platforms"]) for r in rows] == [
        ("alice", "confirmed", "", "Console"),
        ("bob", "waitlisted", "1", "Console"),
    ]
    data = json.loads(roundtable(env, "roster", "workshop", "--format", "json").stdout)
    assert data["capacity"] == 1 and len(data["entries"]) == 2
    digest = roundtable(env, "insights", "--format", "md").stdout
    assert "## Decision making (1)" in digest
    assert "Faster, \\<b\\>with\\</b\\> residents. — alice, via Console" in digest
    reminders = json.loads(roundtable(env, "reminders", "--format", "json").stdout)
    assert reminders["totals"] == {"pending": 6}
    assert {m["kind"] for m in reminders["messages"]} == {"reminder"}
    table = roundtable(env, "reminders")
    assert table.returncode == 0 and "6 pending" in table.stdout


def test_unknown_session_or_theme_in_exports_is_a_clear_error(env):
    result = roundtable(env, "roster", "gala")
    assert result.returncode == 2 and "There is no session 'gala'" in result.stderr
    result = roundtable(env, "insights", "--theme", "parks")
    assert result.returncode == 2 and "There is no theme 'parks'" in result.stderr


def test_a_broken_program_stops_everything_with_one_clear_message(env, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text(
        Path(env["ROUNDTABLE_PROGRAM"]).read_text().replace('timezone = "Europe/Paris"', 'timezone = "Paris"')
    )
    for command in (["check"], ["run"], ["console", "--as", "a"]):
        result = roundtable(env, "--program", str(broken), *command)
        assert result.returncode == 2
        assert f"{broken}: event.timezone: 'Paris' is not an IANA time zone" in result.stderr
        assert "Traceback" not in result.stderr
    assert not Path(env["DATABASE_URL"].removeprefix("sqlite:///")).exists()  # nothing started


def test_check_program_and_db_commands(env):
    check = roundtable({**env, "CONSOLE_NAME": "zoe"}, "check")
    assert check.returncode == 0, check.stderr
    assert "console (as zoe) (no platform tokens set)" in check.stdout
    program = roundtable(env, "program", "--tz", "America/Bogota")
    assert "11:50" in program.stdout and "UTC-05:00" in program.stdout
    assert roundtable(env, "program", "--tz", "Mars/Olympus").returncode == 2
    upgrade = roundtable(env, "db", "upgrade")
    assert upgrade.returncode == 0 and "up to date" in upgrade.stdout
    bad = roundtable({**env, "DATABASE_URL": "mysql://x/y"}, "db", "upgrade")
    assert bad.returncode == 2 and "DATABASE_URL must be sqlite" in bad.stderr


def test_run_without_tokens_opens_the_console_on_the_default_database(env, tmp_path):
    env = {k: v for k, v in env.items() if k != "DATABASE_URL"}
    env["CWD"] = str(tmp_path)
    result = roundtable(env, "run", "--as", "zoe", stdin="/register roundtable\n")
    assert result.returncode == 0, result.stderr
    assert "You are following Roundtable" in result.stdout
    assert (tmp_path / "roundtable.db").exists()


def test_reports_show_markup_in_people_text_as_typed(env):
    roundtable(
        env,
        "console",
        "--as",
        "[/x]mallory",
        stdin="/register workshop\n/insight decision-making Use [/] and [bold]x[/bold]\n",
    )
    insights = roundtable(env, "insights")
    assert insights.returncode == 0, insights.stderr
    assert "[bold]x[/bold]" in insights.stdout
    roster = roundtable(env, "roster", "workshop")
    assert roster.returncode == 0 and "[/x]mallory" in roster.stdout


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        (
            {"DISCORD_TOKEN": "x", "DISCORD_API_BASE": "http://127.0.0.1:1/api/v10"},
            "Discord adapter did not start",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-x",
                "SLACK_APP_TOKEN": "xapp-x",
                "SLACK_API_URL": "http://127.0.0.1:1/api/",
            },
            "Slack adapter did not start",
        ),
    ],
)
def test_run_with_unusable_credentials_exits_with_a_clear_error(env, settings, words):
    result = roundtable({**env, **settings}, "run")
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "No adapter could start" in result.stderr
    assert "Traceback" not in result.stderr
    for secret in ("xoxb-x", "xapp-x"):
        assert secret not in result.stderr


def test_the_program_as_an_ics_file(env):
    result = roundtable(env, "program", "--format", "ics")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("BEGIN:VCALENDAR") and result.stdout.count("BEGIN:VEVENT") == 2


def test_console_tz_shows_times_in_that_zone(env):
    result = roundtable(env, "console", "--as", "carla", "--tz", "America/Bogota", stdin="/schedule\n")
    assert result.returncode == 0, result.stderr
    assert "11:50 America/Bogota (UTC-05:00)" in result.stdout
    bad = roundtable(env, "console", "--as", "carla", "--tz", "Bogota", stdin="")
    assert bad.returncode == 2 and "America/Bogota" in bad.stderr


def test_the_console_saves_the_calendar_entry_and_prints_its_path(env, tmp_path):
    files = tmp_path / "files"
    result = roundtable(
        {**env, "CONSOLE_FILES": str(files)}, "console", "--as", "ann", stdin="/register workshop\n"
    )
    assert result.returncode == 0, result.stderr
    saved = files / "workshop.ics"
    assert f"📎 {saved}" in result.stdout
    assert b"BEGIN:VCALENDAR" in saved.read_bytes()
