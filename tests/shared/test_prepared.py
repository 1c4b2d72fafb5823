"""Prepared statements store and return exactly what SQLAlchemy's own execution does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from shared.store.database import Database
from shared.store.prepared import Prepared
from shared.store.schema import identities, outbox, people

NOW = datetime(2026, 12, 1, 9, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    await database.upgrade()
    try:
        yield database
    finally:
        await database.close()


def reminder(person_id: int, due: datetime) -> dict[str, object]:
    return {
        "kind": "reminder",
        "session_id": "workshop",
        "person_id": person_id,
        "identity_id": None,
        "platform": "console",
        "workspace": "local",
        "recipient": f"r{person_id}",
        "due_at": due,
        "state": "pending",
        "attempts": 0,
        "priority": 0,
        "created_at": NOW,
    }


async def test_prepared_rows_match_sqlalchemys_own(db):
    new_person = Prepared(insert(people).returning(people.c.id))
    plan = Prepared(insert(outbox))
    async with db.transaction() as conn:
        ((mine,),) = await new_person.rows(conn, {"display_name": "Ann", "created_at": NOW})
        theirs = (
            await conn.execute(
                insert(people).returning(people.c.id), {"display_name": "Ben", "created_at": NOW}
            )
        ).scalar_one()
        await plan.many(conn, [reminder(mine, NOW + timedelta(days=d)) for d in (1, 2)])
        await conn.execute(insert(outbox), [reminder(theirs, NOW + timedelta(days=d)) for d in (1, 2)])
    if db.is_sqlite:  # the fast path was taken (on PostgreSQL: SQLAlchemy's own execution)
        assert all(plan._compiled.values()) and all(new_person._compiled.values())
    async with db.transaction() as conn:
        stored = (await conn.execute(select(outbox).order_by(outbox.c.id))).fetchall()
        names = dict((await conn.execute(select(people.c.id, people.c.display_name))).fetchall())
    assert names == {mine: "Ann", theirs: "Ben"}
    ours, same = stored[:2], stored[2:]
    skip = {"id", "person_id", "recipient"}
    for a, b in zip(ours, same, strict=True):
        assert {k: v for k, v in a._mapping.items() if k not in skip} == {
            k: v for k, v in b._mapping.items() if k not in skip
        }
    assert ours[0].due_at == NOW + timedelta(days=1) and ours[0].unsure is False  # a column default


async def test_prepared_errors_are_sqlalchemys_and_roll_back(db):
    new_person = Prepared(insert(people).returning(people.c.id))
    new_identity = Prepared(insert(identities).returning(identities.c.id))
    key = {"platform": "console", "workspace": "local", "user_id": "ann", "display_name": "Ann"}
    async with db.transaction() as conn:
        ((person,),) = await new_person.rows(conn, {"display_name": "Ann", "created_at": NOW})
        await new_identity.rows(conn, {**key, "person_id": person, "created_at": NOW})
    with pytest.raises(IntegrityError):
        async with db.transaction() as conn:
            await new_person.rows(conn, {"display_name": "Spare", "created_at": NOW})
            await new_identity.rows(conn, {**key, "person_id": person, "created_at": NOW})
    async with db.transaction() as conn:
        assert len((await conn.execute(select(people.c.id))).fetchall()) == 1
