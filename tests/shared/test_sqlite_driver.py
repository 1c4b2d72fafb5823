"""SQLite through the one-trip adapter: a statement is one hand-off to aiosqlite's thread,
and results, row counts and errors are what SQLAlchemy's own adapter gives."""

from __future__ import annotations

import asyncio
import sqlite3

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shared.store.database import Database


@pytest.fixture
def trips(monkeypatch) -> list[str]:
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counting(self, fn, *args, **kwargs):
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return seen


async def test_statements_inside_a_write_transaction_need_no_trip_to_the_driver_thread(sqlite_url, trips):
    db = Database(sqlite_url)
    try:
        async with db.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
        trips.clear()
        async with db.transaction() as conn:
            result = await conn.execute(text("INSERT INTO t (name) VALUES ('a'), ('b') RETURNING id, name"))
            assert result.fetchall() == [(1, "a"), (2, "b")]
            many = await conn.execute(
                text("INSERT INTO t (name) VALUES (:name)"), [{"name": "c"}, {"name": "d"}]
            )
            assert many.rowcount == 2
            changed = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
            assert changed.rowcount == 3
        assert trips == []  # BEGIN IMMEDIATE (lock free), statements and COMMIT: none
        async with db.engine.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
        assert names == ["a", "b!", "c!", "d!"]
    finally:
        await db.close()


async def test_a_write_lock_held_elsewhere_is_waited_for_in_the_driver_thread(sqlite_url, trips):
    db = Database(sqlite_url)
    try:
        async with db.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
        trips.clear()
        other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's writer, as far as SQLite knows
        other.execute("INSERT INTO t (name) VALUES ('theirs')")

        async def ours() -> None:
            async with db.transaction() as conn:
                await conn.execute(text("INSERT INTO t (name) VALUES ('ours')"))

        task = asyncio.create_task(ours())
        await asyncio.sleep(0.05)  # the loop turns while our BEGIN waits in the thread
        assert not task.done()
        other.execute("COMMIT")
        other.close()
        await task
        assert trips.count("_run") == 1  # the BEGIN that had to wait
        async with db.engine.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
        assert names == ["theirs", "ours"]
    finally:
        await db.close()


async def test_errors_are_sqlalchemys_own_and_roll_back(sqlite_url):
    db = Database(sqlite_url)
    try:
        async with db.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        with pytest.raises(IntegrityError):
            async with db.transaction() as conn:
                await conn.execute(text("INSERT INTO t (name) VALUES ('b')"))
                await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    finally:
        await db.close()


async def test_the_loop_turns_between_statements_run_on_it(sqlite_url):
    db = Database(sqlite_url)
    turns = 0

    async def ticker() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    try:
        async with db.transaction() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        tick = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        async with db.transaction() as conn:
            before = turns
            for _ in range(5):
                await conn.execute(text("INSERT INTO t DEFAULT VALUES"))
            assert turns - before >= 5  # other tasks ran between the statements
        tick.cancel()
    finally:
        await db.close()
