"""Storage: URLs, migrations that match the schema, SQLite pragmas, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, text

from shared.store.database import SCHEMA_HEAD, Database, DatabaseUrlError, async_url, safe_url
from shared.store.schema import metadata, people


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///roundtable.db", "sqlite+aiosqlite:///roundtable.db"),
        ("sqlite:////var/lib/rt.db", "sqlite+aiosqlite:////var/lib/rt.db"),
        ("postgresql://u:p@db:5432/rt", "postgresql+asyncpg://u:p@db:5432/rt"),
        ("postgres://u:p@db:5432/rt", "postgresql+asyncpg://u:p@db:5432/rt"),  # Heroku's spelling
    ],
)
def test_database_urls_map_onto_the_async_drivers(given, expected):
    assert async_url(given) == expected


def test_unusable_urls_are_refused_and_passwords_never_shown():
    with pytest.raises(DatabaseUrlError, match="must be sqlite:/// or postgresql://"):
        async_url("mysql://u:p@db/rt")
    assert "s3cret" not in safe_url("postgres://u:s3cret@db:5432/rt")


async def test_migrations_build_exactly_the_schema(database_url):
    db = Database(database_url)
    try:
        await db.upgrade()
        current, head = await db.revision()
        assert current == head
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
        assert diff == []
    finally:
        await db.close()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url):
    db = Database(sqlite_url)
    try:
        await db.upgrade()
        async with db.transaction() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 30000
    finally:
        await db.close()


async def test_timestamps_go_in_with_any_zone_and_come_back_in_utc(database_url):
    db = Database(database_url)
    try:
        await db.upgrade()
        paris = datetime(2026, 12, 10, 17, 0, tzinfo=timezone(timedelta(hours=1)))
        async with db.transaction() as conn:
            await conn.execute(insert(people).values(display_name="x", created_at=paris))
            back = (await conn.execute(select(people.c.created_at))).scalar_one()
        assert back == paris and back.tzinfo == UTC
        async with db.transaction() as conn:
            with pytest.raises(Exception, match="naive"):
                await conn.execute(insert(people).values(display_name="y", created_at=datetime(2026, 1, 1)))
    finally:
        await db.close()


def test_the_known_schema_head_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from shared.store.database import _config

    assert ScriptDirectory.from_config(_config(None)).get_current_head() == SCHEMA_HEAD


async def test_a_current_schema_is_not_upgraded_again(sqlite_url: str, monkeypatch) -> None:
    db = Database(sqlite_url)
    try:
        await db.ensure_schema()  # a new database: upgraded
        assert (await db.revision())[0] == SCHEMA_HEAD

        async def no_upgrade() -> None:
            raise AssertionError("a current schema was upgraded again")

        monkeypatch.setattr(db, "upgrade", no_upgrade)
        await db.ensure_schema()
    finally:
        await db.close()
