"""Each CLI command imports only what it uses (checked by module, never by time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = {"sqlalchemy", "alembic", "aiosqlite", "asyncpg", "slack_bolt", "slack_sdk", "discord", "icalendar"}
PROBE = """
import json, sys
from bots.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": sorted({m.split(".")[0] for m in sys.modules} & HEAVY)}))
"""


def loaded_by(*argv: str, database: Path) -> tuple[int, set[str]]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "SLACK_BOT_TOKEN": "", "DISCORD_TOKEN": ""}
    probe = f"HEAVY = {HEAVY!r}\n" + PROBE
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], set(result["loaded"])


def test_program_loads_no_database_and_no_platform(tmp_path: Path) -> None:
    code, loaded = loaded_by("program", database=tmp_path / "r.db")
    assert code == 0 and loaded == set()


def test_a_report_loads_the_database_but_neither_alembic_nor_a_platform(tmp_path: Path) -> None:
    """Nor the calendar library: a roster builds no calendar."""
    database = tmp_path / "r.db"
    code, _ = loaded_by("db", "upgrade", database=database)
    assert code == 0
    code, loaded = loaded_by("roster", "workshop", database=database)
    assert code == 0 and loaded == {"sqlalchemy", "aiosqlite"}


def test_the_calendar_feed_loads_the_calendar_library(tmp_path: Path) -> None:
    """The probe can see a library a command needs (so the checks above can fail)."""
    code, loaded = loaded_by("program", "--format", "ics", database=tmp_path / "r.db")
    assert code == 0 and "icalendar" in loaded
