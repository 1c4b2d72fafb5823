"""Organizer reports: rosters, insights and the reminder queue, as tables, CSV, JSON or Markdown."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select

from shared import registrations
from shared.app import Roundtable
from shared.identity import PLATFORM_LABELS
from shared.store.schema import identities, insights, outbox


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


async def roster_rows(core: Roundtable, session_id: str) -> list[dict[str, Any]]:
    async with core.db.transaction() as conn:
        entries = await registrations.roster(conn, session_id)
    return [
        {
            "name": e.name,
            "status": e.status,
            "position": e.position,
            "platforms": [PLATFORM_LABELS.get(p, p) for p in e.platforms],
            "registered_at": _iso(e.registered_at),
        }
        for e in entries
    ]


async def insight_rows(core: Roundtable, theme_id: str | None) -> list[dict[str, Any]]:
    query = select(insights).order_by(insights.c.theme_id, insights.c.created_at, insights.c.id)
    if theme_id:
        query = query.where(insights.c.theme_id == theme_id)
    rows = []
    async with core.db.transaction() as conn:
        for r in await conn.execute(query):
            theme = core.program.theme(r.theme_id)
            rows.append(
                {
                    "id": r.id,
                    "theme": r.theme_id,
                    "theme_name": theme.name if theme else r.theme_id,
                    "text": r.text,
                    "city": r.city,
                    "author": None if r.anonymous else r.author_name,
                    "platform": PLATFORM_LABELS.get(r.platform, r.platform),
                    "created_at": _iso(r.created_at),
                }
            )
    return rows


async def reminder_rows(core: Roundtable, limit: int, state: str | None) -> tuple[list[dict], dict[str, int]]:
    query = (
        select(outbox, identities.c.display_name)
        .select_from(outbox.outerjoin(identities, identities.c.id == outbox.c.identity_id))
        .order_by(outbox.c.due_at, outbox.c.id)
        .limit(limit)
    )
    if state:
        query = query.where(outbox.c.state == state)
    async with core.db.transaction() as conn:
        rows = (await conn.execute(query)).fetchall()
        totals = {
            s: n for s, n in await conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state))
        }
    out = []
    for r in rows:
        out.append(
            {
                "id": r.id,
                "kind": r.kind,
                "session": r.session_id,
                "to": r.display_name if r.kind != "insight" else f"channel {r.recipient}",
                "platform": PLATFORM_LABELS.get(r.platform, r.platform),
                "due_at": _iso(r.due_at),
                "offset": r.offset_seconds,
                "state": r.state,
                "reason": r.reason,
                "detail": r.detail,
                "attempts": r.attempts,
                "finished_at": _iso(r.finished_at),
            }
        )
    return out, totals


def as_json(rows: Any) -> str:
    return json.dumps(rows, indent=2, ensure_ascii=False)


def as_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if not rows:
        return ""
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "; ".join(v) if isinstance(v, list) else v for k, v in row.items()})
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
        return Text(", ".join(value))
    return Text(str(value))


def digest_markdown(core: Roundtable, rows: list[dict[str, Any]]) -> str:
    """A digest of the insights for the organizers' write-up, grouped by theme."""
    event = core.program.event
    lines = [f"# Insights — {event.name}", ""]
    if event.series:
        lines += [f"_{event.series}_", ""]
    lines += [f"{len(rows)} insight{'' if len(rows) == 1 else 's'} shared.", ""]
    for theme in core.program.themes:
        items = [r for r in rows if r["theme"] == theme.id]
        if not items:
            continue
        lines += [f"## {theme.name} ({len(items)})", ""]
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
    return text
