"""PostgreSQL connections: a full or starting server is tried again, quietly; other errors are not."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from shared.store import database


async def test_too_many_clients_is_tried_again_with_one_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[str] = []

    async def connect(dsn: str) -> str:
        attempts.append(dsn)
        if len(attempts) < 4:
            raise asyncpg.TooManyConnectionsError("sorry, too many clients already")
        return "connection"

    monkeypatch.setattr(asyncpg, "connect", connect)
    caplog.set_level(logging.WARNING, logger="shared.store.database")
    dsn = "postgresql://bot:s3cret@db.example:5432/roundtable"
    assert await database.connect_patiently(dsn, patience=5) == "connection"
    assert len(attempts) == 4
    [line] = caplog.records
    assert "too many clients" in line.getMessage() and line.exc_info is None
    assert "s3cret" not in line.getMessage()


async def test_a_refused_password_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = 0

    async def connect(dsn: str) -> str:
        nonlocal attempts
        attempts += 1
        raise asyncpg.InvalidPasswordError("password authentication failed")

    monkeypatch.setattr(asyncpg, "connect", connect)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await database.connect_patiently("postgresql://bot@db.example/roundtable", patience=5)
    assert attempts == 1


async def test_patience_runs_out(monkeypatch: pytest.MonkeyPatch) -> None:
    async def connect(dsn: str) -> str:
        raise ConnectionRefusedError("refused")

    monkeypatch.setattr(asyncpg, "connect", connect)
    with pytest.raises(ConnectionRefusedError):
        await database.connect_patiently("postgresql://bot@db.example/roundtable", patience=0.3)


def test_the_pool_size_setting_reaches_the_engine() -> None:
    db = database.Database("postgresql://bot@db.example/roundtable", pool_size=2)
    assert db.engine.pool.size() == 2


@pytest.mark.postgres
async def test_a_connection_dropped_mid_transaction_reruns_the_unit_of_work(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import text

    db = database.Database(postgres_url, pool_size=1)
    caplog.set_level(logging.WARNING, logger="shared.store.database")
    attempts: list[int] = []
    try:
        async with db.transaction() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS dropped_mid_way (n int)"))
            await conn.execute(text("DELETE FROM dropped_mid_way"))

        async def work(conn) -> int:
            attempts.append(1)
            await conn.execute(text("INSERT INTO dropped_mid_way VALUES (1)"))
            if len(attempts) < 3:  # the server ends this backend mid-transaction, twice
                pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                killer = await asyncpg.connect(postgres_url)
                try:
                    await killer.execute("SELECT pg_terminate_backend($1)", pid)
                finally:
                    await killer.close()
            return (await conn.execute(text("SELECT count(*) FROM dropped_mid_way"))).scalar_one()

        assert await db.run(work, patience=10) == 1  # only the last run's row was committed
        assert len(attempts) == 3
        [line] = caplog.records
        assert "mid-transaction" in line.getMessage() and line.exc_info is None
    finally:
        async with db.transaction() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS dropped_mid_way"))
        await db.close()


async def test_other_database_errors_are_not_run_again(sqlite_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    db = database.Database(sqlite_url)
    runs = 0

    async def work(conn) -> None:
        nonlocal runs
        runs += 1
        await conn.execute(text("SELECT * FROM no_such_table"))

    try:
        with pytest.raises(OperationalError):
            await db.run(work)
        assert runs == 1
    finally:
        await db.close()


@pytest.mark.postgres
async def test_a_deadlock_lost_is_run_again_whole(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two units locking two rows in opposite orders: PostgreSQL ends one (40P01) and rolls it
    back; that one runs again, whole, and both are stored."""
    import asyncio

    from sqlalchemy import text

    db = database.Database(postgres_url, pool_size=2)
    caplog.set_level(logging.WARNING, logger="shared.store.database")
    both_hold_one = asyncio.Barrier(2)
    runs: list[str] = []
    try:
        async with db.transaction() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS crossed (id int PRIMARY KEY, n int)"))
            await conn.execute(text("DELETE FROM crossed"))
            await conn.execute(text("INSERT INTO crossed VALUES (1, 0), (2, 0)"))

        def unit(first: int, second: int):
            async def work(conn) -> None:
                runs.append(f"{first}{second}")
                await conn.execute(text("UPDATE crossed SET n = n + 1 WHERE id = :i"), {"i": first})
                if len(runs) <= 2:  # the first runs meet; a re-run goes straight through
                    await both_hold_one.wait()
                await conn.execute(text("UPDATE crossed SET n = n + 1 WHERE id = :i"), {"i": second})

            return work

        await asyncio.gather(db.run(unit(1, 2), patience=10), db.run(unit(2, 1), patience=10))
        async with db.transaction() as conn:
            counts = dict((await conn.execute(text("SELECT id, n FROM crossed"))).fetchall())
        assert counts == {1: 2, 2: 2} and len(runs) == 3
        [line] = caplog.records
        assert (
            "rolled back" in line.getMessage() and "deadlock" in line.getMessage() and line.exc_info is None
        )
    finally:
        async with db.transaction() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS crossed"))
        await db.close()
