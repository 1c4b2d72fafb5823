"""How long short ``roundtable`` commands take, from exec to exit, beside the interpreter alone.

Each command runs as a real process (``python -m bots …``) several times; the figure is the
median wall time. The baseline is ``python -c pass`` measured in the same run, so the ratio
says what the command costs above starting Python on this machine, however busy it is.
The report reads a SQLite file holding one registration (its schema made beforehand, as
on a running installation).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import Figure, Options

# issue 9: "roundtable program under 0.4 s and reports under 0.8 s"
COMMANDS = [
    ("cli_help_s", "`roundtable --help`", ["--help"], 0.4),
    ("cli_program_s", "`roundtable program`", ["program"], 0.4),
    (
        "cli_report_s",
        "`roundtable roster workshop` (a report reading the database)",
        ["roster", "workshop"],
        0.8,
    ),
]


async def _once(argv: list[str], env: dict[str, str], stdin: bytes = b"") -> float:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate(stdin)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:])} exited {proc.returncode}: {err.decode()[-300:]}")
    return took


async def _median(argv: list[str], env: dict[str, str], runs: int) -> float:
    return statistics.median([await _once(argv, env) for _ in range(runs)])


async def measure(options: Options) -> list[Figure]:
    runs = 5 if options.quick else 11
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'rt.db'}",
            "DISCORD_TOKEN": "",
            "SLACK_BOT_TOKEN": "",
            "LOG_LEVEL": "WARNING",
        }
        bots = [sys.executable, "-m", "bots"]
        await _once([*bots, "console", "--as", "alice"], env, b"/register workshop\n")
        bare = await _median([sys.executable, "-c", "pass"], env, runs)
        figures = []
        for key, label, args, target in COMMANDS:
            took = await _median([*bots, *args], env, runs)
            figures.append(
                Figure(
                    key,
                    f"{label}, median of {runs}",
                    took,
                    "s",
                    baseline=bare,
                    baseline_key="cli_python_alone_s" if key == "cli_help_s" else None,
                    note=f"target < {target} s; baseline: `python -c pass`",
                )
            )
    return figures
