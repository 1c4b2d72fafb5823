"""Registrations per second through the core, beside raw aiosqlite doing the same work.

The core: ``core.register`` for N different people into the 30-seat workshop (so most go
to the waitlist, as in a launch burst), one transaction each, on a fresh SQLite file.
The baseline: raw aiosqlite, one ``BEGIN IMMEDIATE`` transaction per registration that
inserts the person and their identity, counts the confirmed seats and inserts the seat or
waitlist place, with the project's pragmas (WAL, synchronous=NORMAL). Both run in the same
process, one after the other, so that the ratio holds however busy the machine is.
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path

import aiosqlite

from bench.figures import Figure, Options
from shared.app import Roundtable
from shared.clock import FakeClock
from shared.identity import Identity
from shared.program import load_program
from shared.settings import Settings

RAW_SCHEMA = """
CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE identities (
    id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people(id),
    platform TEXT NOT NULL, workspace TEXT NOT NULL, user_id TEXT NOT NULL, display_name TEXT,
    UNIQUE (platform, workspace, user_id));
CREATE TABLE registrations (
    id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, person_id INTEGER NOT NULL REFERENCES people(id),
    identity_id INTEGER NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE (session_id, person_id));
CREATE INDEX ix_status ON registrations (session_id, status, id);
"""


async def core_rate(people: int, url: str | None, tmp: Path) -> float:
    program = load_program()
    workshop = program.session("workshop")
    assert workshop is not None
    clock = FakeClock(workshop.starts_at - timedelta(days=3))
    url = url or f"sqlite:///{tmp / 'core.db'}"
    core = await Roundtable.open(Settings(_env_file=None, database_url=url), program=program, clock=clock)
    try:
        started = time.perf_counter()
        for i in range(people):
            await core.register(Identity("console", "local", f"p{i}", f"P{i}"), "workshop")
        return people / (time.perf_counter() - started)
    finally:
        await core.close()


async def raw_rate(people: int, tmp: Path, capacity: int = 30) -> float:
    async with aiosqlite.connect(tmp / "raw.db", isolation_level=None) as db:
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
            await db.execute(f"PRAGMA {pragma}")
        await db.executescript(RAW_SCHEMA)
        started = time.perf_counter()
        for i in range(people):
            now = time.time()
            await db.execute("BEGIN IMMEDIATE")
            cur = await db.execute("INSERT INTO people (name, created_at) VALUES (?, ?)", (f"P{i}", now))
            person = cur.lastrowid
            cur = await db.execute(
                "INSERT INTO identities (person_id, platform, workspace, user_id, display_name)"
                " VALUES (?, 'console', 'local', ?, ?)",
                (person, f"p{i}", f"P{i}"),
            )
            identity = cur.lastrowid
            await db.execute(
                "INSERT INTO registrations (session_id, person_id, identity_id, status, created_at)"
                " SELECT 'workshop', ?, ?, CASE WHEN count(*) < ? THEN 'confirmed' ELSE 'waitlisted' END, ?"
                " FROM registrations WHERE session_id = 'workshop' AND status = 'confirmed'",
                (person, identity, capacity, now),
            )
            await db.execute("COMMIT")
        return people / (time.perf_counter() - started)


RAW_PG_SCHEMA = """
CREATE TEMPORARY TABLE people (id serial PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL);
CREATE TEMPORARY TABLE identities (
    id serial PRIMARY KEY, person_id int NOT NULL REFERENCES people(id),
    platform text NOT NULL, workspace text NOT NULL, user_id text NOT NULL, display_name text,
    UNIQUE (platform, workspace, user_id));
CREATE TEMPORARY TABLE sessions (id text PRIMARY KEY);
CREATE TEMPORARY TABLE registrations (
    id serial PRIMARY KEY, session_id text NOT NULL, person_id int NOT NULL REFERENCES people(id),
    identity_id int NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL,
    UNIQUE (session_id, person_id));
CREATE INDEX ON registrations (session_id, status, id);
INSERT INTO sessions VALUES ('workshop');
"""


async def raw_pg_rate(people: int, url: str, capacity: int = 30) -> float:
    """Raw asyncpg, one transaction per registration: the session's row locked (as the core
    does on PostgreSQL), person, identity, and the seat or waitlist place with the count
    folded in; in temporary tables, so the core's schema is untouched."""
    from datetime import UTC, datetime

    import asyncpg

    db = await asyncpg.connect(url)
    try:
        await db.execute(RAW_PG_SCHEMA)
        started = time.perf_counter()
        for i in range(people):
            now = datetime.now(UTC)
            async with db.transaction():
                await db.execute("SELECT id FROM sessions WHERE id = 'workshop' FOR UPDATE")
                person = await db.fetchval(
                    "INSERT INTO people (name, created_at) VALUES ($1, $2) RETURNING id", f"P{i}", now
                )
                identity = await db.fetchval(
                    "INSERT INTO identities (person_id, platform, workspace, user_id, display_name)"
                    " VALUES ($1, 'console', 'local', $2, $3) RETURNING id",
                    person,
                    f"p{i}",
                    f"P{i}",
                )
                await db.execute(
                    "INSERT INTO registrations (session_id, person_id, identity_id, status, created_at)"
                    " SELECT 'workshop', $1, $2, CASE WHEN count(*) < $3 THEN 'confirmed' ELSE 'waitlisted' END, $4"
                    " FROM registrations WHERE session_id = 'workshop' AND status = 'confirmed'",
                    person,
                    identity,
                    capacity,
                    now,
                )
        return people / (time.perf_counter() - started)
    finally:
        await db.close()


async def measure(options: Options) -> list[Figure]:
    sizes = [300] if options.quick else [1000, 10_000]
    figures: list[Figure] = []
    for n, people in enumerate(sizes):
        with tempfile.TemporaryDirectory() as tmp:
            raw = await raw_rate(people, Path(tmp))
            core = await core_rate(people, None, Path(tmp))
        suffix = "" if n == 0 else f"_{people // 1000}k"
        figures.append(
            Figure(
                f"register_per_s{suffix}",
                f"register, core, SQLite, {people:,} people",
                core,
                "/s",
                baseline=raw,
                baseline_key=f"register_raw_per_s{suffix}",
                note="raw: aiosqlite, one transaction per registration",
            )
        )
    if options.database_url:
        with tempfile.TemporaryDirectory() as tmp:
            raw_pg = await raw_pg_rate(sizes[0], options.database_url)
            pg = await core_rate(sizes[0], options.database_url, Path(tmp))
        figures.append(
            Figure(
                "register_pg_per_s",
                f"register, core, PostgreSQL, {sizes[0]:,} people",
                pg,
                "/s",
                baseline=raw_pg,
                baseline_key="register_pg_raw_per_s",
                note="raw: asyncpg, one transaction per registration",
            )
        )
    return figures
