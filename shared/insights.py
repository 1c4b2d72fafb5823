"""Insights: post-crisis lessons people share into themed channels on every platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import outbox, people
from shared import text as text_hygiene
from shared.errors import Refusal
from shared.identity import Identity
from shared.messages import InsightPost, moment
from shared.program import Program
from shared.store.schema import insights
from shared.store.schema import people as people_table

# a chat message field holds about a thousand characters on the platforms we know: fits whole
MAX_TEXT = 1000
MAX_CITY = 80


class InsightError(Refusal):
    """An insight the rules refuse; ``retry_at`` is set when the rate limit refused it."""

    def __init__(self, message: str, field: str, retry_at: datetime | None = None) -> None:
        super().__init__(message, field)
        self.retry_at = retry_at


@dataclass(frozen=True, slots=True)
class Limits:
    per_window: int
    window: timedelta


def clean_text(text: str, *, single_line: bool = False) -> str:
    """Plain text only (see :func:`shared.text.clean`, the one hygiene function)."""
    return text_hygiene.clean(text, single_line=single_line)


async def submit(
    conn: AsyncConnection,
    program: Program,
    identity: Identity,
    theme_id: str,
    text: str,
    city: str | None,
    anonymous: bool,
    limits: Limits,
    now: datetime,
) -> InsightPost:
    theme = program.theme(theme_id or "")
    if theme is None:
        raise InsightError(program.unknown_theme(theme_id or ""), "theme")
    body = clean_text(text)
    if not body:
        raise InsightError("Your insight is empty. Write a lesson or a change you saw.", "text")
    if len(body) > MAX_TEXT:
        raise InsightError(f"Please keep an insight to {MAX_TEXT} characters; yours has {len(body)}.", "text")
    place = clean_text(city or "", single_line=True) or None
    if place and len(place) > MAX_CITY:
        raise InsightError(f"Please keep the city to {MAX_CITY} characters.", "city")

    account = await people.resolve(conn, identity, now)
    # serialise one person's submissions so the rate limit holds across processes
    await conn.execute(
        select(people_table.c.id).where(people_table.c.id == account.person_id).with_for_update()
    )
    since = now - limits.window
    recent = (
        await conn.execute(
            select(insights.c.created_at)
            .where(and_(insights.c.person_id == account.person_id, insights.c.created_at > since))
            .order_by(insights.c.created_at)
        )
    ).fetchall()
    if len(recent) >= limits.per_window:
        retry_at = recent[len(recent) - limits.per_window].created_at + limits.window
        raise InsightError(
            f"You have shared {len(recent)} insights in a short time. Thank you! "
            f"You can share again at {moment(retry_at, 'time')} ({moment(retry_at, 'relative')}).",
            "text",
            retry_at=retry_at,
        )
    author = identity.display_name.strip()[:200] or identity.user_id
    insight_id = (
        await conn.execute(
            insert(insights)
            .values(
                theme_id=theme.id,
                text=body,
                city=place,
                anonymous=anonymous,
                person_id=account.person_id,
                identity_id=account.identity_id,
                platform=identity.platform,
                author_name=author,
                created_at=now,
            )
            .returning(insights.c.id)
        )
    ).scalar_one()
    for platform, channel in theme.channels.items():
        await outbox.enqueue_insight(conn, insight_id, platform, channel, now)
    return InsightPost(
        insight_id, theme.id, theme.name, body, None if anonymous else author, place, identity.platform, now
    )


def _post(row, program: Program) -> InsightPost:
    theme = program.theme(row.theme_id)
    return InsightPost(
        row.id,
        row.theme_id,
        theme.name if theme else row.theme_id,
        row.text,
        None if row.anonymous else row.author_name,
        row.city,
        row.platform,
        row.created_at,
    )


async def get(conn: AsyncConnection, program: Program, insight_id: int) -> InsightPost | None:
    row = (await conn.execute(select(insights).where(insights.c.id == insight_id))).first()
    return _post(row, program) if row else None


async def latest(
    conn: AsyncConnection, program: Program, theme_id: str | None = None, limit: int | None = 10
) -> list[InsightPost]:
    """The newest first; ``limit=None`` gives them all."""
    query = select(insights).order_by(insights.c.created_at.desc(), insights.c.id.desc()).limit(limit)
    if theme_id:
        query = query.where(insights.c.theme_id == theme_id)
    return [_post(row, program) for row in await conn.execute(query)]
