"""Account linking: one person behind accounts on several platforms, holding one seat."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import outbox, people, platforms, registrations
from shared.errors import Refusal
from shared.identity import Identity
from shared.program import Program
from shared.store.schema import (
    identities,
    insights,
    link_codes,
)
from shared.store.schema import (
    outbox as outbox_table,
)
from shared.store.schema import (
    people as people_table,
)
from shared.store.schema import registrations as registrations_table

CODE_TTL = timedelta(minutes=10)
# no 0/O or 1/I/L: codes are read on one screen and typed on another
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


class LinkError(Refusal):
    """A link the rules refuse."""

    field = "code"


@dataclass(frozen=True, slots=True)
class Linked:
    platforms: tuple[str, ...]
    freed: tuple[str, ...]  # sessions where a duplicate seat was given back
    promoted: tuple[registrations.Promotion, ...]


def normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


async def issue(conn: AsyncConnection, identity: Identity, now: datetime) -> str:
    """A fresh one-time code for this account; older codes of the account stop working."""
    account = await people.resolve(conn, identity, now)
    await conn.execute(
        delete(link_codes).where(
            (link_codes.c.identity_id == account.identity_id) | (link_codes.c.expires_at <= now)
        )
    )
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    await conn.execute(
        link_codes.insert().values(code=code, identity_id=account.identity_id, expires_at=now + CODE_TTL)
    )
    return code


async def redeem(
    conn: AsyncConnection, program: Program, identity: Identity, code: str, now: datetime
) -> Linked:
    """Join the account that typed ``code`` to the account that asked for it."""
    row = (
        await conn.execute(
            select(link_codes).where(
                and_(link_codes.c.code == normalise(code), link_codes.c.expires_at > now)
            )
        )
    ).first()
    if row is None:
        raise LinkError(
            "That code is unknown or has expired. Codes last 10 minutes: ask for a new one with `/link`."
        )
    keeper = (await conn.execute(select(identities).where(identities.c.id == row.identity_id))).first()
    account = await people.resolve(conn, identity, now)
    if keeper.id == account.identity_id:
        raise LinkError("Type this code on your other platform, not on the one that gave it to you.")
    if (keeper.platform, keeper.workspace) == (identity.platform, identity.workspace):
        raise LinkError(
            "Both accounts are in the same place. Type the code from your account on the other platform."
        )
    await conn.execute(delete(link_codes).where(link_codes.c.code == row.code))
    kept, merged = keeper.person_id, account.person_id
    if kept == merged:
        return Linked(await _platforms(conn, kept), (), ())

    # seat counts change: take the session locks in a fixed order
    for session in sorted(program.sessions, key=lambda s: s.id):
        await registrations.lock_session(conn, session.id)
    freed: list[str] = []
    promoted: list[registrations.Promotion] = []
    both = (
        await conn.execute(
            select(registrations_table)
            .where(registrations_table.c.person_id.in_([kept, merged]))
            .order_by(registrations_table.c.id)
        )
    ).fetchall()
    by_session: dict[str, list] = {}
    for reg in both:
        by_session.setdefault(reg.session_id, []).append(reg)
    for session_id, regs in by_session.items():
        if len(regs) < 2:
            continue
        # keep the earlier registration, free the other
        later = regs[1]
        await conn.execute(delete(registrations_table).where(registrations_table.c.id == later.id))
        await outbox.drop_pending(conn, later.person_id, session_id, kinds=outbox.PERSONAL_KINDS)
        freed.append(session_id)
        session = program.session(session_id)
        if later.status == registrations.CONFIRMED and session is not None:
            promoted.extend(await registrations.fill_seats(conn, session, now))

    for table in (registrations_table, outbox_table, insights, identities):
        await conn.execute(update(table).where(table.c.person_id == merged).values(person_id=kept))
    await conn.execute(delete(people_table).where(people_table.c.id == merged))
    return Linked(await _platforms(conn, kept), tuple(freed), tuple(promoted))


async def _platforms(conn: AsyncConnection, person_id: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(platforms.label(p) for p, _ in await people.accounts_of(conn, person_id)))
