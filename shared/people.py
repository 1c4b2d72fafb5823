"""People and their platform accounts; a person may link several accounts (one per platform)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

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
    name = (identity.display_name or identity.user_id).strip()[:200] or identity.user_id
    account = await find(conn, identity)
    if account is not None:
        await conn.execute(
            update(identities)
            .where(and_(identities.c.id == account.identity_id, identities.c.display_name != name))
            .values(display_name=name)
        )
        await remember_hints(conn, account.identity_id, identity)
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
            zone=identity.zone,
            locale=identity.locale,
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


async def remember_hints(conn: AsyncConnection, identity_id: int, identity: Identity) -> None:
    """Keep what the platform said about an account's zone and locale, for its DMs later."""
    values = {k: v for k, v in (("zone", identity.zone), ("locale", identity.locale)) if v}
    if values:
        await conn.execute(update(identities).where(identities.c.id == identity_id).values(**values))


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
