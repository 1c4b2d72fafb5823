"""Exports people's words can travel in (issue 11): no spreadsheet formula, no chat ping."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bots import reports

FORMULAS = [
    "=1+2",
    '=HYPERLINK("http://evil.example","click")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1",
    "\r=1",
]
PINGS = ["@everyone", "@here", "@channel", "<!here>", "<!channel>", "<@U123>", "<@&42>", "<#C1>"]


@pytest.mark.parametrize("value", FORMULAS)
def test_csv_cells_never_start_a_formula(value: str) -> None:
    text = reports.as_csv([{"name": value, "text": value, "platforms": [value]}])
    rows = list(csv.DictReader(io.StringIO(text)))
    for cell in rows[0].values():
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), repr(cell)
        assert cell.startswith("'")


def test_csv_keeps_ordinary_text() -> None:
    rows = list(csv.DictReader(io.StringIO(reports.as_csv([{"name": "Ann", "text": "2+2 = 4"}]))))
    assert rows == [{"name": "Ann", "text": "2+2 = 4"}]


@pytest.mark.parametrize("ping", PINGS)
def test_no_export_carries_a_ping(ping: str) -> None:
    row = {"name": f"x {ping} y", "text": ping, "author": ping}
    outputs = [
        reports.as_csv([row]),
        json.loads(reports.as_json([row]))[0]["text"],
        reports._md_escape(ping),
    ]
    for out in outputs:
        assert ping not in out, out
        assert ping.lstrip("<!@#&").rstrip(">") in out  # the words stay
