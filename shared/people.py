"""People and their platform accounts; a person may link several accounts (one per platform)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import text
from shared.identity import Identity, Recipient
from shared.store.prepared import Prepared
from shared.store.schema import identities, people


@dataclass(frozen=True, slots=True)
class Prefs:
    """A reader's zone and locale: ``chosen`` by them, else ``reported`` by their platform."""

    chosen_zone: str | None = None
    reported_zone: str | None = None
    chosen_locale: str | None = None
    reported_locale: str | None = None

    @property
    def zone(self) -> str | None:
        return self.chosen_zone or self.reported_zone

    @property
    def locale(self) -> str | None:
        return self.chosen_locale or self.reported_locale


@dataclass(frozen=True, slots=True)
class Account:
    person_id: int
    identity_id: int
    # the reader's zone and language, read with the account (no query of their own)
    prefs: Prefs = Prefs()


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
_FIND = (
    select(
        identities.c.id,
        identities.c.person_id,
        identities.c.display_name,
        identities.c.zone,
        identities.c.locale,
        people.c.zone.label("chosen_zone"),
        people.c.locale.label("chosen_locale"),
    )
    .select_from(identities.join(people, people.c.id == identities.c.person_id))
    .where(
        and_(
            identities.c.platform == bindparam("platform"),
            identities.c.workspace == bindparam("workspace"),
            identities.c.user_id == bindparam("user_id"),
        )
    )
)
_REFRESH = Prepared(
    update(identities)
    .where(identities.c.id == bindparam("identity_id"))
    .values(display_name=bindparam("name"), zone=bindparam("zone"), locale=bindparam("locale"))
)
_LOOKUP = Prepared(_FIND)
_NEW_PERSON = Prepared(insert(people).returning(people.c.id))
_DROP_PERSON = people.delete().where(people.c.id == bindparam("person_id"))


@cache
def _new_identity(dialect: str) -> Prepared:
    return Prepared(
        dialect_insert(dialect, identities)
        .on_conflict_do_nothing(index_elements=["platform", "workspace", "user_id"])
        .returning(identities.c.id)
    )


def _key(identity: Identity) -> dict[str, str]:
    return {"platform": identity.platform, "workspace": identity.workspace, "user_id": identity.user_id}


def _account(row: Sequence[Any], identity: Identity) -> Account:
    # by position: the row is a plain tuple on the prepared path (the order of _FIND)
    identity_id, person_id, _name, zone, locale, chosen_zone, chosen_locale = row
    prefs = Prefs(
        chosen_zone=chosen_zone,
        reported_zone=identity.zone or zone,
        chosen_locale=chosen_locale,
        reported_locale=identity.locale or locale,
    )
    return Account(person_id, identity_id, prefs)


async def _lookup(conn: AsyncConnection, identity: Identity) -> Sequence[Any] | None:
    rows = await _LOOKUP.rows(conn, _key(identity))
    return rows[0] if rows else None


async def find(conn: AsyncConnection, identity: Identity) -> Account | None:
    row = await _lookup(conn, identity)
    return _account(row, identity) if row else None


async def resolve(conn: AsyncConnection, identity: Identity, now: datetime) -> Account:
    """The account of ``identity``, created on first sight; the display name, and the zone and
    locale the platform reports, are kept fresh (an empty name keeps the stored one; a newcomer
    without one is named by their user id until a command brings the name).

    One round trip for someone known (two when their name or hints changed), three for a
    newcomer."""
    name = text.clean_name(identity.display_name or identity.user_id, 200) or identity.user_id
    row = await _lookup(conn, identity)
    if row is not None:
        # by position: the row is a plain tuple on the prepared path (the order of _FIND)
        identity_id, _person, shown, seen_zone, seen_locale = row[:5]
        if not identity.display_name:
            name = shown  # the platform did not say (an event with only an id): keep it
        zone = identity.zone or seen_zone
        locale = identity.locale or seen_locale
        if (shown, seen_zone, seen_locale) != (name, zone, locale):
            await _REFRESH.rows(
                conn, {"identity_id": identity_id, "name": name, "zone": zone, "locale": locale}
            )
        return _account(row, identity)
    ((person_id,),) = await _NEW_PERSON.rows(conn, {"display_name": name, "created_at": now})
    made = await _new_identity(conn.dialect.name).rows(
        conn,
        {
            **_key(identity),
            "person_id": person_id,
            "display_name": name,
            "zone": identity.zone,
            "locale": identity.locale,
            "created_at": now,
        },
    )
    if made:
        return Account(
            person_id, made[0][0], Prefs(reported_zone=identity.zone, reported_locale=identity.locale)
        )
    # another process created the account first: use theirs and drop the spare person
    account = await find(conn, identity)
    assert account is not None
    await conn.execute(_DROP_PERSON, {"person_id": person_id})
    return account


async def recipient(conn: AsyncConnection, identity_id: int) -> Recipient | None:
    row = (
        await conn.execute(
            select(identities, people.c.zone.label("chosen_zone"), people.c.locale.label("chosen_locale"))
            .join(people, people.c.id == identities.c.person_id)
            .where(identities.c.id == identity_id)
        )
    ).first()
    if row is None:
        return None
    return Recipient(
        row.platform,
        row.workspace,
        row.user_id,
        row.display_name,
        row.dm_channel,
        zone=row.chosen_zone or row.zone,
        locale=row.chosen_locale or row.locale,
    )


async def prefs(conn: AsyncConnection, identity: Identity) -> Prefs:
    """The reader's preferences; the platform's word of this very moment beats the stored one."""
    row = (
        await conn.execute(
            select(
                people.c.zone,
                people.c.locale,
                identities.c.zone.label("seen_zone"),
                identities.c.locale.label("seen_locale"),
            )
            .join(people, people.c.id == identities.c.person_id)
            .where(
                and_(
                    identities.c.platform == identity.platform,
                    identities.c.workspace == identity.workspace,
                    identities.c.user_id == identity.user_id,
                )
            )
        )
    ).first()
    if row is None:
        return Prefs(reported_zone=identity.zone, reported_locale=identity.locale)
    return Prefs(
        chosen_zone=row.zone,
        reported_zone=identity.zone or row.seen_zone,
        chosen_locale=row.locale,
        reported_locale=identity.locale or row.seen_locale,
    )


async def choose(conn: AsyncConnection, identity: Identity, now: datetime, **values: str | None) -> None:
    """Store a person's choice of ``zone`` or ``locale`` (``None`` clears it)."""
    account = await resolve(conn, identity, now)
    await conn.execute(update(people).where(people.c.id == account.person_id).values(**values))


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
