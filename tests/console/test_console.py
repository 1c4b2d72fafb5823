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


def test_check_counts_whom_a_cancelled_session_tells(env, tmp_path):
    assert roundtable(env, "console", "--as", "ann", stdin="/register workshop\n").returncode == 0
    program = Path(env["ROUNDTABLE_PROGRAM"])
    text = program.read_text("utf-8").replace(
        'id = "workshop"', 'id = "workshop"\ncancelled = true\ncancel_message = "Sorry!"', 1
    )
    program.write_text(text, "utf-8")
    check = roundtable(env, "check")
    assert check.returncode == 0, check.stderr
    assert "workshop is cancelled: the next start tells 1 people" in check.stdout
    schedule = roundtable(env, "console", "--as", "ben", stdin="/schedule\n/register workshop\n")
    assert "is cancelled, so it takes no registrations. Choose one of `roundtable`" in schedule.stdout
    check = roundtable(env, "check")
    assert "workshop is cancelled: its registrants were told" in check.stdout


def test_forget_on_request_erases_a_console_person_and_keeps_the_count(env):
    script = "/register workshop\n/insight decision-making Decide early.\n"
    assert roundtable(env, "console", "--as", "alice", stdin=script).returncode == 0
    assert roundtable(env, "console", "--as", "bob", stdin="/register workshop\n").returncode == 0
    forget = roundtable(env, "forget", "--platform", "console", "--user", "alice")
    assert forget.returncode == 0, forget.stderr
    assert "I erased 1 account, 1 registration, 1 insight" in forget.stdout
    roster = roundtable(env, "roster", "workshop", "--format", "json")
    assert [e["name"] for e in json.loads(roster.stdout)["entries"]] == ["bob"]
    assert json.loads(roster.stdout)["entries"][0]["status"] == "confirmed"
    digest = roundtable(env, "insights", "--format", "md").stdout
    assert "1 insight shared (1 of them since erased" in digest and "alice" not in digest
    again = roundtable(env, "forget", "--platform", "console", "--user", "alice")
    assert "nothing to erase" in again.stdout
    ask = roundtable(env, "console", "--as", "bob", stdin="/forgetme\n/forgetme confirm\n/forgetme\n")
    assert "Erase my data" in ask.stdout or "/forgetme confirm" in ask.stdout
    assert "Done: I erased 1 account, 1 registration" in ask.stdout
    assert "there is nothing to erase" in ask.stdout


def test_mydata_in_the_console_writes_a_json_file_and_prints_its_path(env, tmp_path):
    env = {**env, "CONSOLE_FILES_DIR": str(tmp_path / "files")}
    result = roundtable(env, "console", "--as", "carla", stdin="/mydata\n/register workshop\n/mydata\n")
    assert result.returncode == 0, result.stderr
    assert "I keep no data about you." in result.stdout
    assert "1 account, 1 registration" in result.stdout
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("📎 ") and x.endswith(".json")]
    path = Path(line.removeprefix("📎 ").strip())
    assert path.parent == tmp_path / "files" and oct(path.stat().st_mode & 0o777) == "0o600"
    data = json.loads(path.read_text("utf-8"))
    assert data["accounts"][0]["user_id"] == "carla"
    assert data["registrations"][0]["session"] == "workshop"


def test_purge_for_cron_users_and_privacy_with_the_programs_contact(env):
    program = Path(env["ROUNDTABLE_PROGRAM"])
    text = program.read_text("utf-8").replace(
        "[event]\n", '[event]\nprivacy_contact = "privacy@city.example"\n', 1
    )
    program.write_text(text, "utf-8")
    result = roundtable(env, "console", "--as", "dora", stdin="/register workshop\n/privacy\n")
    assert "privacy@city.example" in result.stdout and "90 days after it ends" in result.stdout
    purge = roundtable(env, "purge")
    assert purge.returncode == 0, purge.stderr
    assert "Purged 0 registrations, 0 messages and 0 people older than 90 days" in purge.stdout
    assert roundtable(env, "purge", "--days", "0").returncode == 2


def test_the_console_asks_each_question_on_its_own_line(env):
    program = Path(env["ROUNDTABLE_PROGRAM"])
    questions = (
        '[[sessions.questions]]\nid = "city"\nlabel = "Your city"\nrequired = true\n\n'
        '[[sessions.questions]]\nid = "org"\nlabel = "Your organisation"\n\n'
    )
    # the roundtable's questions go after its own keys, before the next session
    text = program.read_text("utf-8").replace(
        '[[sessions]]\nid = "workshop"', questions + '[[sessions]]\nid = "workshop"'
    )
    program.write_text(text, "utf-8")
    assert roundtable(env, "check").returncode == 0, roundtable(env, "check").stderr
    script = "/register roundtable\n\n\n/register roundtable\nGraz\n\n/register roundtable\n\nCity Hall\n"
    result = roundtable(env, "console", "--as", "eve", stdin=script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "  Your city:" in out  # required: no "optional" hint
    assert "Your organisation (optional, an empty line skips it):" in out
    assert "Please answer “Your city”: it is required." in out
    assert "You are following" in out
    assert "Your city [Graz]:" in out and "Your answers for" in out
    roster = json.loads(roundtable(env, "roster", "roundtable", "--format", "json").stdout)
    assert roster["entries"][0]["answer_city"] == "Graz"
    assert roster["entries"][0]["answer_org"] == "City Hall"
    rows = list(
        csv.DictReader(io.StringIO(roundtable(env, "roster", "roundtable", "--format", "csv").stdout))
    )
    assert rows[0]["answer_city"] == "Graz"


def test_feedback_in_the_console_and_the_organizers_report(env):
    program = Path(env["ROUNDTABLE_PROGRAM"])
    past = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    text = program.read_text("utf-8")
    day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    # register first while the sessions are ahead, then move them into the past
    assert roundtable(env, "console", "--as", "fay", stdin="/register roundtable\n").returncode == 0
    program.write_text(text.replace(day, past), "utf-8")
    script = "/feedback roundtable 5\nListen to residents.\n\n/feedback roundtable six\n"
    result = roundtable(env, "console", "--as", "fay", stdin=script)
    assert result.returncode == 0, result.stderr
    assert "You rated Roundtable: insights from pioneering cities 5 out of 5" in result.stdout
    assert "Share it as an insight? [No, keep it for the organizers] (one of:" in result.stdout
    assert "replaces your earlier one" not in result.stdout  # the form completes the same rating
    assert "Please rate with a number from 1 (poor) to 5 (excellent)." in result.stdout
    report = json.loads(roundtable(env, "feedback", "--session", "roundtable", "--format", "json").stdout)
    assert report[0]["5"] == 1 and report[0]["comments"] == ["Listen to residents."]
    md = roundtable(env, "feedback", "--format", "md").stdout
    assert "> Listen to residents." in md and "fay" not in md


def test_console_tz_shows_times_in_that_zone(env):
    result = roundtable(env, "console", "--as", "carla", "--tz", "America/Bogota", stdin="/schedule\n")
    assert result.returncode == 0, result.stderr
    assert "11:50 America/Bogota (UTC-05:00)" in result.stdout
    bad = roundtable(env, "console", "--as", "carla", "--tz", "Bogota", stdin="")
    assert bad.returncode == 2 and "America/Bogota" in bad.stderr


def test_the_console_saves_the_calendar_entry_and_prints_its_path(env, tmp_path):
    files = tmp_path / "files"
    result = roundtable(
        {**env, "CONSOLE_FILES_DIR": str(files)}, "console", "--as", "ann", stdin="/register workshop\n"
    )
    assert result.returncode == 0, result.stderr
    saved = files / "workshop.ics"
    assert f"📎 {saved}" in result.stdout
    assert b"BEGIN:VCALENDAR" in saved.read_bytes()
