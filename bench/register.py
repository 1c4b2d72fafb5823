"""Registrations per second through the core, beside raw drivers doing the same work.

The core: ``core.register`` for N different people into the 30-seat workshop (so most go
to the waitlist, as in a launch burst), on a fresh SQLite file (or the PostgreSQL database
of ``--database-url``). Two ways of sending them:

- **sequential**: one after another, so each is its own transaction (no group commit can
  happen): ``register_per_s``;
- **burst**: all N launched at once and worked by a pool of C tasks, as the WorkQueue
  behind the adapters does (C = 8, its default, and 32): registrations that arrive while
  one is being stored share the next transaction (group commit): ``register_burst_per_s``.

The baselines, always one transaction per registration (``BEGIN IMMEDIATE`` on SQLite),
with the project's pragmas (WAL, synchronous=NORMAL):

- ``register_raw_per_s``: raw aiosqlite, the **same statements** as the core (look the
  identity up, person, identity, the place with the seat count folded in, three reminders,
  the waitlist position);
- ``register_raw_minimal_per_s``: raw aiosqlite, the **minimal** work (person, identity,
  place only): the stricter ceiling, since it does less than a registration needs;
- in a burst the raw C tasks share one connection and take turns per transaction (an
  ``asyncio.Lock``, as the core's own writer lock does): SQLite has one writer at a time,
  and separate connections would only wait in SQLite's sleeping busy handler.

All run in the same process and take turns every ``CHUNK`` registrations (each on its
own fresh file, the time of each turn added to its own account), so that a busy spell on
the shared machine falls on all of them alike and the ratios hold.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
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


One = Callable[[int], Awaitable[None]]  # registers person number i
CHUNK = 50  # the kinds take turns every this many registrations


@asynccontextmanager
async def core_session(url: str | None, tmp: Path) -> AsyncIterator[One]:
    """``core.register`` for newcomer number i, into the workshop (three days ahead)."""
    program = load_program()
    workshop = program.session("workshop")
    assert workshop is not None
    clock = FakeClock(workshop.starts_at - timedelta(days=3))
    url = url or f"sqlite:///{tmp / 'core.db'}"
    core = await Roundtable.open(Settings(_env_file=None, database_url=url), program=program, clock=clock)

    async def one(i: int) -> None:
        reply = await core.register(Identity("console", "local", f"p{i}", f"P{i}"), "workshop")
        assert reply.ok, reply.text

    try:
        yield one
    finally:
        await core.close()


@asynccontextmanager
async def raw_session(tmp: Path, capacity: int = 30, *, same_work: bool = True) -> AsyncIterator[One]:
    """Raw aiosqlite, one ``BEGIN IMMEDIATE`` transaction per registration.

    ``same_work``: what the core does for a newcomer — look the identity up (a miss), insert
    the person and the identity, the place with the seat count folded in, the three
    reminders, and the waitlist position when waitlisted. Without it: only the person, the
    identity and the place (the lighter baseline the first issue-9 figures used).
    Concurrent callers share the connection, one transaction at a time (a lock)."""
    name = "raw.db" if same_work else "raw_minimal.db"
    async with aiosqlite.connect(tmp / name, isolation_level=None) as db:
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
            await db.execute(f"PRAGMA {pragma}")
        await db.executescript(RAW_SCHEMA)
        turn = asyncio.Lock()

        async def one(i: int) -> None:
            async with turn:
                await _raw_registration(db, i, capacity, same_work)

        yield one


async def _work(numbers: Iterable[int], concurrency: int, one: One) -> None:
    """``one(i)`` for every i, by ``concurrency`` tasks taking the next number as they free up."""
    numbers = iter(numbers)

    async def worker() -> None:
        for i in numbers:
            await one(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def interleaved(
    people: int, concurrency: int, sessions: dict[str, AbstractAsyncContextManager[One]]
) -> dict[str, float]:
    """Registrations per second of each session, the sessions taking turns every ``CHUNK``
    registrations (each chunk launched at once to ``concurrency`` workers), so that a busy
    spell of the shared machine falls on all of them alike."""
    async with AsyncExitStack() as stack:
        ones = {name: await stack.enter_async_context(session) for name, session in sessions.items()}
        spent = dict.fromkeys(ones, 0.0)
        for start in range(0, people, CHUNK):
            for name, one in ones.items():
                started = time.perf_counter()
                await _work(range(start, min(start + CHUNK, people)), concurrency, one)
                spent[name] += time.perf_counter() - started
    return {name: people / seconds for name, seconds in spent.items()}


async def core_rate(people: int, url: str | None, tmp: Path, *, concurrency: int = 1) -> float:
    """The core alone (for profiling)."""
    return (await interleaved(people, concurrency, {"core": core_session(url, tmp)}))["core"]


async def _raw_registration(db: aiosqlite.Connection, i: int, capacity: int, same_work: bool) -> None:
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


@asynccontextmanager
async def raw_pg_session(url: str, concurrency: int, capacity: int = 30) -> AsyncIterator[One]:
    """Raw asyncpg, one transaction per registration: the session's row locked (as the core
    does on PostgreSQL), person, identity, and the seat or waitlist place with the count
    folded in, three reminders, the waitlist position. In ordinary tables of a schema of its
    own (dropped after), so that its commits write the WAL as the core's do (temporary
    tables, which the first figures used, write none); ``concurrency`` connections."""
    import asyncpg

    schema = (
        "DROP SCHEMA IF EXISTS bench_raw_register CASCADE; CREATE SCHEMA bench_raw_register;"
        + RAW_PG_SCHEMA.replace("CREATE TEMPORARY TABLE ", "CREATE TABLE ")
    )
    connections = [await asyncpg.connect(url) for _ in range(concurrency)]
    pool = asyncio.Queue[asyncpg.Connection]()
    for conn in connections:
        await conn.execute("SET search_path = bench_raw_register")
        pool.put_nowait(conn)
    try:
        await connections[0].execute(schema)

        async def one(i: int) -> None:
            db = await pool.get()
            try:
                await _raw_pg_registration(db, i, capacity)
            finally:
                pool.put_nowait(db)

        yield one
    finally:
        await connections[0].execute("DROP SCHEMA IF EXISTS bench_raw_register CASCADE")
        for conn in connections:
            await conn.close()


async def _raw_pg_registration(db, i: int, capacity: int) -> None:
    from datetime import UTC, datetime

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


BURSTS = (8, 32)  # the WorkQueue's default pool, and a larger one


async def _sqlite_figure(people: int, concurrency: int, key: str, label: str, what: str) -> Figure:
    """The core beside raw aiosqlite doing the same statements and the minimal ones, taking turns."""
    with tempfile.TemporaryDirectory() as tmp:
        got = await interleaved(
            people,
            concurrency,
            {
                "raw": raw_session(Path(tmp)),
                "core": core_session(None, Path(tmp)),
                "minimal": raw_session(Path(tmp), same_work=False),
            },
        )
    core, raw, minimal = got["core"], got["raw"], got["minimal"]
    stem, _, suffix = key.partition("_per_s")
    return Figure(
        key,
        label,
        core,
        "/s",
        baseline=raw,
        baseline_key=f"{stem}_raw_per_s{suffix}",
        note=f"raw: aiosqlite, one transaction per registration, {what}; "
        f"minimal (person, identity, place): {minimal:,.0f}/s = {core / minimal:.2f}×",
        extra={
            f"{stem}_raw_minimal_per_s{suffix}": round(minimal, 3),
            f"{stem}_vs_raw{suffix}": round(core / raw, 3),
            f"{stem}_vs_raw_minimal{suffix}": round(core / minimal, 3),
        },
    )


async def measure(options: Options) -> list[Figure]:
    sizes = [300] if options.quick else [1000, 10_000]
    figures: list[Figure] = []
    for n, people in enumerate(sizes):
        suffix = "" if n == 0 else f"_{people // 1000}k"
        label = f"register, core, SQLite, {people:,} people one after another"
        figures.append(
            await _sqlite_figure(people, 1, f"register_per_s{suffix}", label, "the same statements")
        )
    people = sizes[0]
    for concurrency in BURSTS:
        suffix = "" if concurrency == BURSTS[0] else f"_{concurrency}"
        label = f"register, core, SQLite, {people:,} at once, {concurrency} workers (group commit)"
        what = f"same statements, {concurrency} tasks"
        figures.append(
            await _sqlite_figure(people, concurrency, f"register_burst_per_s{suffix}", label, what)
        )
    if options.database_url:
        figures.extend(await _postgres(options.database_url, people))
    return figures


async def _postgres(url: str, people: int) -> list[Figure]:
    """The database is emptied before each pair: newcomers, as on SQLite's fresh file."""
    from tests.support import reset_postgres

    figures = []
    for concurrency in (1, BURSTS[0]):
        await reset_postgres(url)
        with tempfile.TemporaryDirectory() as tmp:
            got = await interleaved(
                people,
                concurrency,
                {"raw": raw_pg_session(url, concurrency), "core": core_session(url, Path(tmp))},
            )
        core, raw = got["core"], got["raw"]
        burst = "" if concurrency == 1 else "_burst"
        how = "one after another" if concurrency == 1 else f"at once, {concurrency} workers (group commit)"
        figures.append(
            Figure(
                f"register_pg{burst}_per_s",
                f"register, core, PostgreSQL, {people:,} {how}",
                core,
                "/s",
                baseline=raw,
                baseline_key=f"register_pg{burst}_raw_per_s",
                note=f"raw: asyncpg, one transaction per registration, the same statements, "
                f"{concurrency} connection{'s' if concurrency > 1 else ''}",
                extra={f"register_pg{burst}_vs_raw": round(core / raw, 3)},
            )
        )
    return figures
