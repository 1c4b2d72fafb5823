"""People and their platform accounts; a person may link several accounts (one per platform)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import text
from shared.identity import Identity, Recipient
from shared.store.schema import identities, people


@dataclass(frozen=True, slots=True)
class Account:
    person_id: int
    identity_id: int


def dialect_insert(dialect: str, table):
    """An INSERT in a dialect (``conn.dialect.name``) that knows ON CONFLICT."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as insert_for
    else:
        from sqlalchemy.dialects.sqlite import insert as insert_for
    return insert_for(table)


def on_conflict_do_nothing(conn: AsyncConnection, table, index_elements: list[str]):
    """An INSERT that quietly does nothing when the row exists, in the connection's dialect."""
    return dialect_insert(conn.dialect.name, table).on_conflict_do_nothing(index_elements=index_elements)


# the statements of the registration path, built once (their compiled forms are cached too)
_FIND = select(identities.c.id, identities.c.person_id, identities.c.display_name).where(
    and_(
        identities.c.platform == bindparam("platform"),
        identities.c.workspace == bindparam("workspace"),
        identities.c.user_id == bindparam("user_id"),
    )
)
_RENAME = (
    update(identities)
    .where(identities.c.id == bindparam("identity_id"))
    .values(display_name=bindparam("name"))
)
_NEW_PERSON = insert(people).returning(people.c.id)
_DROP_PERSON = people.delete().where(people.c.id == bindparam("person_id"))


@cache
def _new_identity(dialect: str):
    return (
        dialect_insert(dialect, identities)
        .on_conflict_do_nothing(index_elements=["platform", "workspace", "user_id"])
        .returning(identities.c.id)
    )


def _key(identity: Identity) -> dict[str, str]:
    return {"platform": identity.platform, "workspace": identity.workspace, "user_id": identity.user_id}


async def find(conn: AsyncConnection, identity: Identity) -> Account | None:
    row = (await conn.execute(_FIND, _key(identity))).first()
    return Account(row.person_id, row.id) if row else None


async def resolve(conn: AsyncConnection, identity: Identity, now: datetime) -> Account:
    """The account of ``identity``, created on first sight; the display name is kept fresh.

    One round trip for someone known (two when their name changed), three for a newcomer."""
    name = text.clean_name(identity.display_name or identity.user_id, 200) or identity.user_id
    row = (await conn.execute(_FIND, _key(identity))).first()
    if row is not None:
        if row.display_name != name:
            await conn.execute(_RENAME, {"identity_id": row.id, "name": name})
        return Account(row.person_id, row.id)
    person_id = (await conn.execute(_NEW_PERSON, {"display_name": name, "created_at": now})).scalar_one()
    identity_id = (
        await conn.execute(
            _new_identity(conn.dialect.name),
            {**_key(identity), "person_id": person_id, "display_name": name, "created_at": now},
        )
    ).scalar_one_or_none()
    if identity_id is not None:
        return Account(person_id, identity_id)
    # another process created the account first: use theirs and drop the spare person
    account = await find(conn, identity)
    assert account is not None
    await conn.execute(_DROP_PERSON, {"person_id": person_id})
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
