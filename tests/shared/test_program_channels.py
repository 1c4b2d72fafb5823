"""Theme channels by adapter name, and the old per-platform keys that still load for a release."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from shared.program import parse_program

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = (ROOT / "shared" / "default_program.toml").read_text("utf-8")
THEME = 'description = "How residents took part in the crisis response, and what stayed."\n'


def test_channels_are_a_table_by_adapter_name():
    text = BUNDLED.replace(
        THEME, THEME + '[themes.channels]\nslack = "C0THEME001"\nmatrix = "!abc:example.org"\n', 1
    )
    program = parse_program(text)
    assert program.theme("citizen-participation").channels == {
        "slack": "C0THEME001",
        "matrix": "!abc:example.org",
    }
    assert program.deprecations == []


def test_the_old_keys_still_load_and_say_what_to_rename():
    text = BUNDLED.replace(
        THEME, THEME + 'slack_channel = "C0THEME001"\ndiscord_channel = "1200000000000000001"\n', 1
    )
    program = parse_program(text, "old.toml")
    assert program.theme("citizen-participation").channels == {
        "slack": "C0THEME001",
        "discord": "1200000000000000001",
    }
    assert len(program.deprecations) == 2
    assert (
        "old.toml: themes[0] (id 'citizen-participation'): `slack_channel` is deprecated"
        in program.deprecations[0]
    )
    assert "`slack = …` under `[themes.channels]`" in program.deprecations[0]


def test_check_prints_the_deprecation_and_refuses_a_bad_channel_id(tmp_path):
    old = tmp_path / "old.toml"
    old.write_text(BUNDLED.replace(THEME, THEME + 'slack_channel = "C0THEME001"\n', 1), "utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(BUNDLED.replace(THEME, THEME + '[themes.channels]\ndiscord = "general"\n', 1), "utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rt.db'}",
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "250",
    }

    def check(program: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bots", "--program", str(program), "check"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )

    ok = check(old)
    assert ok.returncode == 0, ok.stderr
    assert "`slack_channel` is deprecated" in ok.stdout and "[themes.channels]" in ok.stdout
    refused = check(bad)
    assert refused.returncode == 2
    assert "themes[0].channels.discord" in refused.stderr and "not a Discord channel id" in refused.stderr
