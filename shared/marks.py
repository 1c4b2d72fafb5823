"""The platform gestures the bot has acted on (a mark of "Interested" on a session's event).

A re-sync compares a platform's list of marks with these rows, not with the registrations:
a mark already acted on stays acted on, so a person who kept the mark but gave the follow
back with ``/unregister`` is not followed again at the next start. Rows are keyed by the
account (identity) that made the mark, and go with it on erasure.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.people import on_conflict_do_nothing
from shared.store.schema import identities, marks


async def remember(conn: AsyncConnection, identity_id: int, session_id: str, via: str, now: datetime) -> None:
    statement = on_conflict_do_nothing(conn, marks, ["identity_id", "session_id", "via"])
    await conn.execute(
        statement.values(identity_id=identity_id, session_id=session_id, via=via, created_at=now)
    )


async def forget(conn: AsyncConnection, identity_id: int, session_id: str, via: str) -> None:
    await conn.execute(
        delete(marks).where(
            and_(marks.c.identity_id == identity_id, marks.c.session_id == session_id, marks.c.via == via)
        )
    )


async def known(
    conn: AsyncConnection, session_id: str, platform: str, workspace: str, via: str
) -> dict[str, int]:
    """user id -> identity id, for the accounts on one platform whose mark was acted on."""
    rows = await conn.execute(
        select(identities.c.user_id, identities.c.id)
        .select_from(marks.join(identities, identities.c.id == marks.c.identity_id))
        .where(
            and_(
                marks.c.session_id == session_id,
                marks.c.via == via,
                identities.c.platform == platform,
                identities.c.workspace == workspace,
            )
        )
    )
    return {r.user_id: r.id for r in rows}
