"""People and their platform accounts; a person may link several accounts (one per platform)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import text
from shared.identity import Identity, Recipient
from shared.store.schema import identities, people


@dataclass(frozen=True, slots=True)
class Account:
    person_id: int
    identity_id: int


def on_conflict_do_nothing(conn: AsyncConnection, table, index_elements: list[str]):
    """An INSERT that quietly does nothing when the row exists, in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=index_elements)


async def find(conn: AsyncConnection, identity: Identity) -> Account | None:
    row = (
        await conn.execute(
            select(identities.c.id, identities.c.person_id, identities.c.display_name).where(
                and_(
                    identities.c.platform == identity.platform,
                    identities.c.workspace == identity.workspace,
                    identities.c.user_id == identity.user_id,
                )
            )
        )
    ).first()
    return Account(row.person_id, row.id) if row else None


async def resolve(conn: AsyncConnection, identity: Identity, now: datetime) -> Account:
    """The account of ``identity``, created on first sight; the display name is kept fresh."""
    name = text.clean_name(identity.display_name or identity.user_id, 200) or identity.user_id
    account = await find(conn, identity)
    if account is not None:
        await conn.execute(
            update(identities)
            .where(and_(identities.c.id == account.identity_id, identities.c.display_name != name))
            .values(display_name=name)
        )
        return account
    person_id = (
        await conn.execute(insert(people).values(display_name=name, created_at=now).returning(people.c.id))
    ).scalar_one()
    await conn.execute(
        on_conflict_do_nothing(conn, identities, ["platform", "workspace", "user_id"]).values(
            person_id=person_id,
            platform=identity.platform,
            workspace=identity.workspace,
            user_id=identity.user_id,
            display_name=name,
            created_at=now,
        )
    )
    account = await find(conn, identity)
    assert account is not None
    if account.person_id != person_id:
        # another process created the account first; drop the spare person
        await conn.execute(people.delete().where(people.c.id == person_id))
    return account


async def recipient(conn: AsyncConnection, identity_id: int) -> Recipient | None:
    row = (await conn.execute(select(identities).where(identities.c.id == identity_id))).first()
    if row is None:
        return None
    return Recipient(row.platform, row.workspace, row.user_id, row.display_name, row.dm_channel)


async def accounts_of(conn: AsyncConnection, person_id: int) -> list[tuple[str, str]]:
    """(platform, display name) of every account a person has."""
    rows = await conn.execute(
        select(identities.c.platform, identities.c.display_name)
        .where(identities.c.person_id == person_id)
        .order_by(identities.c.id)
    )
    return [(r.platform, r.display_name) for r in rows]


async def remember_dm_channel(conn: AsyncConnection, identity_id: int, channel: str) -> None:
    """Cache the direct-message channel a platform opened for an account."""
    await conn.execute(update(identities).where(identities.c.id == identity_id).values(dm_channel=channel))
