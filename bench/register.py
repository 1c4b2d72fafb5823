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
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, session_id TEXT, person_id INTEGER REFERENCES people(id),
    identity_id INTEGER REFERENCES identities(id), platform TEXT NOT NULL, workspace TEXT,
    recipient TEXT NOT NULL, offset_seconds INTEGER, due_at TEXT NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL, created_at TEXT NOT NULL);
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


async def raw_rate(people: int, tmp: Path, capacity: int = 30, *, same_work: bool = True) -> float:
    """Raw aiosqlite, one ``BEGIN IMMEDIATE`` transaction per registration.

    ``same_work``: what the core does for a newcomer — look the identity up (a miss), insert
    the person and the identity, the place with the seat count folded in, the three
    reminders, and the waitlist position when waitlisted. Without it: only the person, the
    identity and the place (the lighter baseline the first issue-9 figures used)."""
    name = "raw.db" if same_work else "raw_minimal.db"
    async with aiosqlite.connect(tmp / name, isolation_level=None) as db:
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
            await db.execute(f"PRAGMA {pragma}")
        await db.executescript(RAW_SCHEMA)
        started = time.perf_counter()
        for i in range(people):
            now = time.time()
            await db.execute("BEGIN IMMEDIATE")
            if same_work:
                cur = await db.execute(
                    "SELECT id, person_id, display_name FROM identities"
                    " WHERE platform = 'console' AND workspace = 'local' AND user_id = ?",
                    (f"p{i}",),
                )
                assert await cur.fetchone() is None
            cur = await db.execute("INSERT INTO people (name, created_at) VALUES (?, ?)", (f"P{i}", now))
            person = cur.lastrowid
            cur = await db.execute(
                "INSERT INTO identities (person_id, platform, workspace, user_id, display_name)"
                " VALUES (?, 'console', 'local', ?, ?)",
                (person, f"p{i}", f"P{i}"),
            )
            identity = cur.lastrowid
            cur = await db.execute(
                "INSERT INTO registrations (session_id, person_id, identity_id, status, created_at)"
                " SELECT 'workshop', ?, ?, CASE WHEN count(*) < ? THEN 'confirmed' ELSE 'waitlisted' END, ?"
                " FROM registrations WHERE session_id = 'workshop' AND status = 'confirmed'"
                " RETURNING id, status",
                (person, identity, capacity, now),
            )
            registration, status = await cur.fetchone()
            if same_work:
                await db.executemany(
                    "INSERT INTO outbox (kind, session_id, person_id, identity_id, platform, workspace,"
                    " recipient, offset_seconds, due_at, state, attempts, created_at)"
                    " VALUES ('reminder', 'workshop', ?, ?, 'console', 'local', ?, ?, ?, 'pending', 0, ?)",
                    [(person, identity, f"p{i}", o, now + 86400 * 3 - o, now) for o in (86400, 3600, 600)],
                )
                if status == "waitlisted":
                    cur = await db.execute(
                        "SELECT count(*) FROM registrations"
                        " WHERE session_id = 'workshop' AND status = 'waitlisted' AND id < ?",
                        (registration,),
                    )
                    await cur.fetchone()
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
CREATE TEMPORARY TABLE outbox (
    id serial PRIMARY KEY, kind text NOT NULL, session_id text, person_id int REFERENCES people(id),
    identity_id int REFERENCES identities(id), platform text NOT NULL, workspace text,
    recipient text NOT NULL, offset_seconds int, due_at timestamptz NOT NULL, state text NOT NULL,
    attempts int NOT NULL, created_at timestamptz NOT NULL);
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
                found = await db.fetchrow(
                    "SELECT id, person_id, display_name FROM identities"
                    " WHERE platform = 'console' AND workspace = 'local' AND user_id = $1",
                    f"p{i}",
                )
                assert found is None
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
                registration, status = await db.fetchrow(
                    "INSERT INTO registrations (session_id, person_id, identity_id, status, created_at)"
                    " SELECT 'workshop', $1, $2, CASE WHEN count(*) < $3 THEN 'confirmed' ELSE 'waitlisted' END, $4"
                    " FROM registrations WHERE session_id = 'workshop' AND status = 'confirmed'"
                    " RETURNING id, status",
                    person,
                    identity,
                    capacity,
                    now,
                )
                await db.executemany(
                    "INSERT INTO outbox (kind, session_id, person_id, identity_id, platform, workspace,"
                    " recipient, offset_seconds, due_at, state, attempts, created_at)"
                    " VALUES ('reminder', 'workshop', $1, $2, 'console', 'local', $3, $4, $5, 'pending', 0, $6)",
                    [
                        (person, identity, f"p{i}", o, now + timedelta(days=3, seconds=-o), now)
                        for o in (86400, 3600, 600)
                    ],
                )
                if status == "waitlisted":
                    await db.fetchval(
                        "SELECT count(*) FROM registrations"
                        " WHERE session_id = 'workshop' AND status = 'waitlisted' AND id < $1",
                        registration,
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
            raw_minimal = await raw_rate(people, Path(tmp), same_work=False)
        suffix = "" if n == 0 else f"_{people // 1000}k"
        figures.append(
            Figure(
                f"register_per_s{suffix}",
                f"register, core, SQLite, {people:,} people",
                core,
                "/s",
                baseline=raw,
                baseline_key=f"register_raw_per_s{suffix}",
                note="raw: aiosqlite, one transaction per registration, the same statements",
                extra={f"register_raw_minimal_per_s{suffix}": raw_minimal},
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
