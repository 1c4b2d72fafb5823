"""``python -m bench [--quick] [--json] [--database-url URL] [--drill] [--only NAME…]``."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys

from rich.console import Console
from rich.table import Table

from bench.figures import Figure, Options

# one line per benchmark module; each has ``async def measure(options) -> list[Figure]``
MODULES = [
    "bench.dispatch",
    "bench.hostile",
    "bench.register",
    "bench.slack_ack",
    "bench.discord_ack",
    "bench.consoles",
    "bench.commands",
    "bench.delivery",
    "bench.lanes",
    "bench.drill",
]


def _table(figures: list[Figure]) -> Table:
    table = Table(title="Roundtable benchmarks (each beside its raw baseline, same run)")
    for column in ("figure", "value", "baseline", "ratio", "note"):
        table.add_column(column)
    for f in figures:
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else "—"
        baseline = f"{f.baseline:,.1f} {f.unit}" if f.baseline is not None else "—"
        table.add_row(f.label, f"{f.value:,.1f} {f.unit}", baseline, ratio, f.note)
    return table


async def _run(options: Options, only: list[str]) -> list[Figure]:
    figures: list[Figure] = []
    for path in MODULES:
        if only and path.rpartition(".")[2] not in only:
            continue
        module = importlib.import_module(path)
        figures.extend(await module.measure(options))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs, under two minutes")
    parser.add_argument("--json", action="store_true", help="one JSON object of every figure")
    parser.add_argument("--database-url", help="a PostgreSQL URL: add the PostgreSQL figures")
    parser.add_argument("--drill", action="store_true", help="also run the fault drills (slow)")
    parser.add_argument("--only", nargs="*", default=[], help="module names, such as dispatch")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    options = Options(quick=args.quick, database_url=args.database_url, drill=args.drill)
    figures = asyncio.run(_run(options, args.only))
    if args.json:
        out: dict[str, object] = {}
        for f in figures:
            out[f.key] = round(f.value, 3)
            if f.baseline_key and f.baseline is not None:
                out[f.baseline_key] = round(f.baseline, 3)
            out.update(f.extra)
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        Console().print(_table(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
