"""Sessions mirrored as events on a platform: which platform event stands for which session."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.store.schema import platform_events


@dataclass(frozen=True, slots=True)
class Mirror:
    session_id: str
    external_id: str
    fingerprint: str


def fingerprint(payload: dict[str, Any]) -> str:
    """What was sent, in short: an unchanged session needs no update."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _where(platform: str, workspace: str):
    return and_(platform_events.c.platform == platform, platform_events.c.workspace == workspace)


async def known(conn: AsyncConnection, platform: str, workspace: str) -> dict[str, Mirror]:
    rows = await conn.execute(select(platform_events).where(_where(platform, workspace)))
    return {r.session_id: Mirror(r.session_id, r.external_id, r.fingerprint) for r in rows}


async def remember(
    conn: AsyncConnection, platform: str, workspace: str, mirror: Mirror, now: datetime
) -> None:
    values = {"external_id": mirror.external_id, "fingerprint": mirror.fingerprint, "updated_at": now}
    done = await conn.execute(
        update(platform_events)
        .where(and_(_where(platform, workspace), platform_events.c.session_id == mirror.session_id))
        .values(**values)
    )
    if done.rowcount == 0:
        await conn.execute(
            insert(platform_events).values(
                platform=platform, workspace=workspace, session_id=mirror.session_id, **values
            )
        )


async def forget(conn: AsyncConnection, platform: str, workspace: str, session_id: str) -> None:
    await conn.execute(
        delete(platform_events).where(
            and_(_where(platform, workspace), platform_events.c.session_id == session_id)
        )
    )


async def session_of(conn: AsyncConnection, platform: str, workspace: str, external_id: str) -> str | None:
    """The session a platform event stands for, if it is one of ours."""
    return (
        await conn.execute(
            select(platform_events.c.session_id).where(
                and_(_where(platform, workspace), platform_events.c.external_id == external_id)
            )
        )
    ).scalar_one_or_none()
