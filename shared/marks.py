"""The platform gestures the bot has acted on (a mark of "Interested" on a session's event).

A re-sync compares a platform's list of marks with these rows, not with the registrations:
a mark already acted on stays acted on, so a person who kept the mark but gave the follow
back with ``/unregister``, or had themselves forgotten with ``/forgetme``, is not followed
again at the next start. A row names its account by a one-way fingerprint of the platform,
workspace and user id, nothing else: it outlives an erasure (it is what keeps the erasure
honoured) and goes when the mark is taken off or the session is purged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.identity import Identity
from shared.people import on_conflict_do_nothing
from shared.store.schema import marks


def fingerprint(platform: str, workspace: str, user_id: str) -> str:
    return hashlib.sha256(f"{platform}\x1f{workspace}\x1f{user_id}".encode()).hexdigest()


def of(identity: Identity) -> str:
    return fingerprint(identity.platform, identity.workspace, identity.user_id)


async def remember(
    conn: AsyncConnection, identity: Identity, session_id: str, via: str, now: datetime
) -> None:
    statement = on_conflict_do_nothing(conn, marks, ["account", "session_id", "via"])
    await conn.execute(
        statement.values(
            account=of(identity),
            platform=identity.platform,
            workspace=identity.workspace,
            session_id=session_id,
            via=via,
            created_at=now,
        )
    )


async def forget(conn: AsyncConnection, account: str, session_id: str, via: str) -> None:
    await conn.execute(
        delete(marks).where(
            and_(marks.c.account == account, marks.c.session_id == session_id, marks.c.via == via)
        )
    )


async def known(conn: AsyncConnection, session_id: str, platform: str, workspace: str, via: str) -> set[str]:
    """The fingerprints of the accounts on one platform whose mark on the session was acted on."""
    rows = await conn.execute(
        select(marks.c.account).where(
            and_(
                marks.c.session_id == session_id,
                marks.c.platform == platform,
                marks.c.workspace == workspace,
                marks.c.via == via,
            )
        )
    )
    return set(rows.scalars())


async def of_accounts(conn: AsyncConnection, accounts: Iterable[tuple[str, str, str]]):
    """The marks acted on for these (platform, workspace, user id) accounts (for /mydata)."""
    keys = [fingerprint(*a) for a in accounts]
    if not keys:
        return []
    rows = await conn.execute(select(marks).where(marks.c.account.in_(keys)).order_by(marks.c.created_at))
    return rows.fetchall()
