"""Organizer reports: rosters, insights and the reminder queue, as tables, CSV, JSON or Markdown."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from shared import insights, outbox, platforms, registrations
from shared.app import Roundtable


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


async def roster_rows(core: Roundtable, session_id: str) -> list[dict[str, Any]]:
    session = core.program.session(session_id)
    questions = session.questions if session else []
    async with core.db.transaction() as conn:
        entries = await registrations.roster(conn, session_id)
    return [
        {
            "name": e.name,
            "status": e.status,
            "position": e.position,
            "platforms": [platforms.label(p) for p in e.platforms],
            "registered_at": _iso(e.registered_at),
            # one column per registration question
            **{f"answer_{q.id}": e.answers.get(q.id) for q in questions},
        }
        for e in entries
    ]


async def erased_insights(core: Roundtable, theme_id: str | None) -> dict[str, int]:
    from shared import privacy

    async with core.db.transaction() as conn:
        counts = await privacy.tallied(conn, "insights")
    return {k: n for k, n in counts.items() if theme_id in (None, k)}


async def insight_rows(core: Roundtable, theme_id: str | None) -> list[dict[str, Any]]:
    async with core.db.transaction() as conn:
        posts = await insights.latest(conn, core.program, theme_id, limit=None)
    posts.sort(key=lambda p: (p.theme_id, p.created_at, p.insight_id))
    return [
        {
            "id": p.insight_id,
            "theme": p.theme_id,
            "theme_name": p.theme_name,
            "text": p.text,
            "city": p.city,
            "author": p.author,
            "platform": platforms.label(p.platform),
            "created_at": _iso(p.created_at),
        }
        for p in posts
    ]


async def reminder_rows(core: Roundtable, limit: int, state: str | None) -> tuple[list[dict], dict[str, int]]:
    async with core.db.transaction() as conn:
        entries = await outbox.listing(conn, limit, state)
        totals = await outbox.counts(conn)
    rows = [
        {
            "id": e.id,
            "kind": e.kind,
            "session": e.session_id,
            "to": e.to,
            "platform": platforms.label(e.platform),
            "due_at": _iso(e.due_at),
            "offset": e.offset_seconds,
            "state": e.state,
            "reason": e.reason,
            "detail": e.detail,
            "attempts": e.attempts,
            "finished_at": _iso(e.finished_at),
        }
        for e in entries
    ]
    return rows, totals


# a zero-width space after "@" or "<" keeps the words and loses the ping when an export is
# pasted into a chat: "@everyone", "@here", "<!channel>", "<@U123>"
_ZWSP = "\u200b"
_MASS_MENTION = re.compile(r"@(everyone|here|channel)\b", re.IGNORECASE)
_MARKUP = re.compile(r"<([!@#&])")
# spreadsheet programs run a cell that starts with one of these as a formula (OWASP's list)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(text: str) -> str:
    """People's text made inert for chat platforms: no mass mention, no mention markup."""
    return _MARKUP.sub(lambda m: "<" + _ZWSP + m.group(1), _MASS_MENTION.sub("@" + _ZWSP + r"\1", text))


def _defused(value: Any) -> Any:
    if isinstance(value, str):
        return defuse(value)
    if isinstance(value, list):
        return [_defused(v) for v in value]
    if isinstance(value, dict):
        return {k: _defused(v) for k, v in value.items()}
    return value


def csv_cell(value: Any) -> Any:
    """A cell no spreadsheet runs as a formula: a leading quote, as OWASP advises."""
    if not isinstance(value, str):
        return value
    if value.startswith(_FORMULA_START):
        value = "'" + value
    # a lone CR would end the row for some readers (the csv module does not quote it)
    return value.replace("\r\n", "\n").replace("\r", "\n")


def as_json(rows: Any) -> str:
    return json.dumps(_defused(rows), indent=2, ensure_ascii=False)


def as_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if not rows:
        return ""
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: csv_cell(defuse("; ".join(v)) if isinstance(v, list) else _defused(v))
                for k, v in row.items()
            }
        )
    return buffer.getvalue()


def as_table(rows: list[dict[str, Any]], title: str, columns: list[str]) -> Table:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*[_cell(row.get(c)) for c in columns])
    return table


def _cell(value: Any) -> Text:
    """People's words as plain text: rich must not read them as markup."""
    if value is None:
        return Text("—")
    if isinstance(value, list):
        return Text(defuse(", ".join(value)))
    return Text(defuse(str(value)))


def digest_markdown(
    core: Roundtable, rows: list[dict[str, Any]], erased: dict[str, int] | None = None
) -> str:
    """A digest of the insights for the organizers' write-up, grouped by theme.

    ``erased`` (theme id -> count) keeps the counts of insights their authors erased."""
    erased = erased or {}
    event = core.program.event
    lines = [f"# Insights — {event.name}", ""]
    if event.series:
        lines += [f"_{event.series}_", ""]
    total = len(rows) + sum(erased.values())
    note = f" ({sum(erased.values())} of them since erased at their authors' request)" if erased else ""
    lines += [f"{total} insight{'' if total == 1 else 's'} shared{note}.", ""]
    for theme in core.program.themes:
        items = [r for r in rows if r["theme"] == theme.id]
        if not items and not erased.get(theme.id):
            continue
        lines += [f"## {theme.name} ({len(items) + erased.get(theme.id, 0)})", ""]
        if theme.description:
            lines += [f"_{theme.description}_", ""]
        for item in items:
            who = ", ".join(
                x for x in (item["author"] or "anonymous", item["city"], f"via {item['platform']}") if x
            )
            text = _md_escape(item["text"]).replace("\n", "\n  ")
            lines.append(f"- {text} — {_md_escape(who)}")
        lines.append("")
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    for ch in "\\`*_[]<>#|":
        text = text.replace(ch, "\\" + ch)
    return defuse(text)


async def feedback_rows(core: Roundtable, session_id: str | None) -> list[dict[str, Any]]:
    """Per session: how many gave each rating, the average, and the lessons (naming nobody)."""
    from shared import feedback

    async with core.db.transaction() as conn:
        summaries = await feedback.summaries(conn, core.program, session_id)
    return [
        {
            "session": s.session_id,
            "answers": s.total,
            "average": round(s.average, 2) if s.average is not None else None,
            **{str(n): s.counts[n] for n in range(1, 6)},
            "comments": s.comments,
        }
        for s in summaries
    ]


def feedback_markdown(core: Roundtable, rows: list[dict[str, Any]]) -> str:
    lines = [f"# Feedback — {core.program.event.name}", ""]
    for row in rows:
        session = core.program.session(row["session"])
        title = session.title if session else row["session"]
        average = f", average {row['average']}" if row["average"] is not None else ""
        lines += [f"## {_md_escape(title)} ({row['answers']} answers{average})", ""]
        lines += [f"- {n}: {row[str(n)]}" for n in range(5, 0, -1)] + [""]
        lines += [f"> {_md_escape(c)}".replace("\n", "\n> ") for c in row["comments"]]
        lines.append("")
    return "\n".join(lines)
