"""Broken surroundings (issue 11): wrong modes, a check that checks, a database file that vanishes."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared import replies
from shared.identity import Identity
from shared.store.database import Database
from tests.conftest import make_settings
from tests.support import opened_core

ROOT = Path(__file__).resolve().parents[2]
ANN = Identity("console", "local", "ann", "Ann")


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    text = (ROOT / "shared" / "default_program.toml").read_text("utf-8")
    day = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    program = tmp_path / "program.toml"
    program.write_text(text.replace("2026-12-10", day), "utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "CONSOLE_"))}
    return {
        **clean,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rt.db'}",
        "ROUNDTABLE_PROGRAM": str(program),
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "300",
        "CWD": str(tmp_path),
    }


def roundtable(env, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bots", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=env["CWD"],
        timeout=60,
    )


# ---- mode errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "args", "named"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, ("run", "--slack-http"), "SLACK_SIGNING_SECRET"),
        ({}, ("run", "--slack-http"), "SLACK_SIGNING_SECRET"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_MODE": "http"}, ("run",), "SLACK_SIGNING_SECRET"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, ("run",), "SLACK_APP_TOKEN"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, ("run",), "SLACK_BOT_TOKEN"),
        ({"DISCORD_GUILD_ID": "123"}, ("run",), "DISCORD_TOKEN"),
    ],
)
def test_a_half_configured_platform_exits_2_naming_the_setting(env, extra, args, named):
    result = roundtable({**env, **extra}, *args, stdin="")
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and named in lines[0], result.stderr
    assert "opening the console" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    check = roundtable({**env, **extra}, "check", *args[1:])
    assert check.returncode == 2 and named in check.stderr


# ---- roundtable check -----------------------------------------------------------------------


def test_check_reports_an_unreachable_postgres(env):
    result = roundtable({**env, "DATABASE_URL": "postgresql://u:secret@127.0.0.1:1/nope"}, "check")
    assert result.returncode == 2
    assert "cannot reach" in result.stderr and "secret" not in result.stderr + result.stdout
    assert "✓ database" not in result.stdout


def test_check_on_an_impossible_sqlite_path_is_one_line_not_a_traceback(env):
    result = roundtable({**env, "DATABASE_URL": "sqlite:////proc/nope/x.db"}, "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "/proc/nope" in result.stderr


def test_check_creates_nothing(env, tmp_path):
    target = tmp_path / "not" / "yet" / "rt.db"
    result = roundtable({**env, "DATABASE_URL": f"sqlite:///{target}"}, "check")
    assert result.returncode == 0, result.stderr
    assert "does not exist yet" in result.stdout
    assert not (tmp_path / "not").exists()
    here = tmp_path / "here.db"
    assert roundtable({**env, "DATABASE_URL": f"sqlite:///{here}"}, "check").returncode == 0
    assert not here.exists()


def test_check_reports_a_locked_database(env, tmp_path):
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        env = {**env, "DATABASE_URL": f"sqlite:///{path}"}
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import shared.store.probe as p; p.TIMEOUT = 0.2; "
                "from bots.cli import main; raise SystemExit(main(['check']))",
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=env["CWD"],
            timeout=60,
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 2, result.stdout + result.stderr
    assert "locked" in result.stderr


def test_check_reports_a_read_only_database(env, tmp_path):
    path = tmp_path / "ro.db"
    sqlite3.connect(path).close()
    path.chmod(0o400)
    tmp_path.chmod(0o500)
    try:
        if os.access(path, os.W_OK):
            pytest.skip("running as root: permissions do not make a file read-only")
        result = roundtable({**env, "DATABASE_URL": f"sqlite:///{path}"}, "check")
    finally:
        tmp_path.chmod(0o700)
    assert result.returncode == 2 and "read-only" in result.stderr


def test_check_warns_about_http_links_and_past_sessions(env, tmp_path):
    program = Path(env["ROUNDTABLE_PROGRAM"])
    text = program.read_text().replace("https://", "http://", 1)
    first_day = text.split("start = ")[1][:10]
    program.write_text(text.replace(first_day, "2020-01-10", 1))
    result = roundtable(env, "check")
    assert "http://" in result.stdout and "https://" in result.stdout
    assert "ended on" in result.stdout and "2020" in result.stdout


def test_check_and_run_refuse_a_program_that_drops_registrants(env, tmp_path):
    # two people register to the workshop, then the program leaves it out
    env = {**env, "CONSOLE_NAME": "ann"}
    assert roundtable(env, "console", "--as", "ann", stdin="/register workshop\n").returncode == 0
    assert roundtable(env, "console", "--as", "ben", stdin="/register workshop\n").returncode == 0
    program = Path(env["ROUNDTABLE_PROGRAM"])
    text = program.read_text()
    start = text.index('[[sessions]]\nid = "workshop"')
    end = text.find("[[", start + 5)
    program.write_text(text[:start] + (text[end:] if end != -1 else ""))
    check = roundtable(env, "check")
    assert check.returncode == 2
    assert "workshop (2 people registered)" in check.stderr
    assert "cancelled = true" in check.stderr and "--allow-drop" in check.stderr
    run = roundtable(env, "run", stdin="")
    assert run.returncode == 2 and "workshop (2 people registered)" in run.stderr
    assert roundtable(env, "check", "--allow-drop").returncode == 0
    assert roundtable(env, "run", "--allow-drop", stdin="").returncode == 0


# ---- the SQLite file --------------------------------------------------------------------------


async def test_the_database_file_is_private(tmp_path, program, clock):
    path = tmp_path / "private.db"
    async with opened_core(make_settings(f"sqlite:///{path}"), program, clock) as core:
        await core.respond(ANN, line="/register workshop")
        for name in ("private.db", "private.db-wal", "private.db-shm"):
            file = tmp_path / name
            if file.exists():
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, name


@pytest.mark.parametrize("how", ["removed", "replaced"])
async def test_a_vanished_file_refuses_and_never_confirms(tmp_path, program, clock, how):
    path = tmp_path / "gone.db"
    async with opened_core(make_settings(f"sqlite:///{path}"), program, clock) as core:
        first = await core.respond(ANN, line="/register roundtable")
        assert first.ok
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
        if how == "replaced":
            sqlite3.connect(path).close()
        said = await core.respond(Identity("console", "local", "ben", "Ben"), line="/register workshop")
        assert not said.ok and "confirmed" not in said.text
        assert said.text == replies.STORAGE_UNAVAILABLE
        assert core.failed.is_set() and how in (core.failure or "")
        # and every later command too, even one that only reads
        assert (await core.respond(ANN, line="/schedule")).text == replies.STORAGE_UNAVAILABLE


async def test_the_watch_notices_a_vanished_file_without_any_command(tmp_path, program, clock, monkeypatch):
    from shared import app

    monkeypatch.setattr(app, "STORAGE_CHECK_SECONDS", 0.01)
    path = tmp_path / "watched.db"
    async with opened_core(make_settings(f"sqlite:///{path}"), program, clock) as core:
        await core.start()
        path.unlink()
        import asyncio

        await asyncio.wait_for(core.failed.wait(), 2)
        assert "removed" in (core.failure or "")


async def test_an_unwritable_wal_is_a_refusal_not_a_crash(tmp_path, program, clock, monkeypatch):
    path = tmp_path / "wal.db"
    async with opened_core(make_settings(f"sqlite:///{path}"), program, clock) as core:
        assert (await core.respond(ANN, line="/register roundtable")).ok
        wal = Path(f"{path}-wal")
        real = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode, **kw: False if str(p) == str(wal) else real(p, mode)
        )
        said = await core.respond(ANN, line="/register workshop")
        assert said.text == replies.STORAGE_UNAVAILABLE and "cannot be written" in (core.failure or "")


def test_run_exits_non_zero_when_the_file_vanishes(env, tmp_path):
    db = tmp_path / "rt.db"
    script = (
        "import asyncio, os, sys\n"
        "from shared import app\n"
        "app.STORAGE_CHECK_SECONDS = 0.05\n"
        "from bots.cli import main\n"
        f"import threading, time\n"
        f"def kill():\n"
        f"    for _ in range(200):\n"
        f"        time.sleep(0.05)\n"
        f"        if os.path.exists({str(db)!r}):\n"
        f"            time.sleep(0.3); os.unlink({str(db)!r}); return\n"
        "threading.Thread(target=kill, daemon=True).start()\n"
        "raise SystemExit(main(['run', '--as', 'ann']))\n"
    )
    # stdin stays open (a pipe nobody writes): only the vanished file can stop the bot
    reader, writer = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=reader,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=env["CWD"],
    )
    os.close(reader)
    try:
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        os.close(writer)
    assert proc.returncode not in (0, None), err
    # removed while it runs: "storage unavailable: …"; on a busy machine the file may go while
    # the bot is still starting, which ends it with the same words as a start-up failure
    assert "was removed while the bot was running" in err, err
    assert "Traceback" not in err, err


def test_database_without_create_makes_no_folder(tmp_path):
    Database(f"sqlite:///{tmp_path / 'a' / 'b.db'}", create=False)
    assert not (tmp_path / "a").exists()


@pytest.mark.postgres
def test_check_reaches_a_live_postgres(env):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set")
    result = roundtable({**env, "DATABASE_URL": url}, "check")
    assert "✓ database: postgresql" in result.stdout, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


async def test_a_write_sqlite_refuses_is_storage_unavailable(tmp_path, program, clock):
    """SQLite's own "readonly database" (a file made read-only under the bot) is a refusal, not an apology."""
    path = tmp_path / "ro.db"
    async with opened_core(make_settings(f"sqlite:///{path}"), program, clock) as core:
        assert (await core.respond(ANN, line="/register roundtable")).ok
        # every new connection is read-only from now on, as if the file's mode had changed
        await core.db.engine.dispose()
        from sqlalchemy import event

        def read_only(dbapi_connection, _record) -> None:
            dbapi_connection.execute("PRAGMA query_only = ON")

        event.listen(core.db.engine.sync_engine, "connect", read_only)
        said = await core.respond(Identity("console", "local", "ben", "Ben"), line="/register workshop")
        assert said.text == replies.STORAGE_UNAVAILABLE
        assert core.failed.is_set()


async def test_the_loops_meeting_a_vanished_file_say_so_in_one_line(tmp_path, program, clock, caplog):
    """The dispatcher and the retention purge may reach the gone file before the watch does:
    one line each, no traceback; the purge tells the core, which stops the bot."""
    import asyncio

    path = tmp_path / "loops.db"
    async with opened_core(make_settings(f"sqlite:///{path}"), program, clock) as core:
        path.unlink()
        dispatcher = asyncio.ensure_future(core.dispatcher._run())
        retention = asyncio.ensure_future(core._retention_loop())
        try:
            await asyncio.wait_for(core.failed.wait(), 5)
            for _ in range(500):  # the dispatcher's first pass meets the gone file too
                if any("dispatcher stopped" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.01)
        finally:
            for task in (dispatcher, retention):
                task.cancel()
            await asyncio.gather(dispatcher, retention, return_exceptions=True)
        assert "removed" in (core.failure or "")
        assert not [r.getMessage() for r in caplog.records if r.exc_info]
