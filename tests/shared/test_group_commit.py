"""Group commit: registrations that arrive together share a transaction, and each person
still hears their own outcome; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from shared import registrations
from shared.errors import Refusal
from shared.store import database
from shared.store.schema import identities, outbox, people
from shared.store.schema import registrations as places
from tests.conftest import make_settings
from tests.support import opened_core, person, with_capacity


@pytest.fixture
def program():
    return with_capacity(30)


@pytest.fixture
def groups(core, monkeypatch) -> list[int]:
    """The size of every group the core's database commits together (a single caller: 1)."""
    sizes: list[int] = []
    real = core.db._commit_group

    async def counted(group):
        sizes.append(len(group))
        await real(group)

    monkeypatch.setattr(core.db, "_commit_group", counted)
    return sizes


async def burst(core, names):
    return await asyncio.gather(*(core.register(person(n), "workshop") for n in names))


async def stored(core, name):
    """The person's (status, position) in the workshop as the database has it, or None."""
    async with core.db.transaction() as conn:
        ids = (
            await conn.execute(select(identities.c.person_id).where(identities.c.user_id == name))
        ).scalar_one_or_none()
        if ids is None:
            return None
        place = await registrations.standing(conn, ids, "workshop")
    return (place.status, place.position) if place else None


def told(message) -> tuple[str, int | None]:
    if "seat is confirmed" in message.text:
        return registrations.CONFIRMED, None
    found = re.search(r"#(\d+) on the waitlist", message.text)
    assert found, message.text
    return registrations.WAITLISTED, int(found.group(1))


async def counts(core):
    """How many people, places and reminders are stored."""
    found = []
    async with core.db.transaction() as conn:
        for table in (people, places, outbox):
            found.append((await conn.execute(select(func.count()).select_from(table))).scalar_one())
    return tuple(found)


async def test_forty_at_once_into_thirty_seats_each_hears_their_own_place(core, groups):
    names = [f"p{i:02d}" for i in range(40)]
    replies = await burst(core, [*names, "p07"])  # p07 twice, most likely in one group
    outcomes = [told(r) for r in replies]
    # the second p07 hears the place the first one took
    assert [r.text.startswith("You were already registered") for r in replies].count(True) == 1
    assert replies[-1].text.startswith("You were already registered") or replies[7].text.startswith(
        "You were"
    )
    assert outcomes[7] == outcomes[-1]
    outcomes = outcomes[:-1]
    assert [s for s, _ in outcomes].count(registrations.CONFIRMED) == 30
    assert sorted(p for s, p in outcomes if s == registrations.WAITLISTED) == list(range(1, 11))
    for name, outcome in zip(names, outcomes, strict=True):
        assert await stored(core, name) == outcome
    assert max(groups) > 1, groups  # they did share transactions
    assert await counts(core) == (40, 40, 40 * 3)


async def test_a_refusal_inside_a_group_undoes_that_person_only(core, groups, monkeypatch):
    real = registrations.register

    async def refuse_cid(conn, program, identity, *args, **kwargs):
        result = await real(conn, program, identity, *args, **kwargs)  # statements ran
        if identity.user_id == "cid":
            raise Refusal("not cid")
        return result

    monkeypatch.setattr(registrations, "register", refuse_cid)
    replies = await burst(core, ["ann", "ben", "cid", "dot"])
    assert max(groups) > 1, groups
    assert [r.ok for r in replies] == [True, True, False, True]
    assert "not cid" in replies[2].text
    assert await stored(core, "cid") is None
    assert await counts(core) == (3, 3, 9)  # no person, place or reminder of cid's
    assert [told(r) for r in replies if r.ok] == [(registrations.CONFIRMED, None)] * 3


async def test_database_errors_mid_group_store_nothing_half_way_and_every_caller_is_answered(
    core, groups, monkeypatch
):
    """cid's unit fails once (the group is rolled back, then each runs alone: cid succeeds);
    eve's fails every time (eve alone gets the error)."""
    real = registrations.register
    failed: list[str] = []

    async def flaky(conn, program, identity, *args, **kwargs):
        result = await real(conn, program, identity, *args, **kwargs)  # statements ran
        if identity.user_id == "eve" or (identity.user_id == "cid" and "cid" not in failed):
            failed.append(identity.user_id)
            raise OperationalError("INSERT …", {}, Exception("disk I/O hiccup"))
        return result

    monkeypatch.setattr(registrations, "register", flaky)
    names = [f"p{i:02d}" for i in range(28)] + ["ann", "ben", "cid", "dot", "eve"]
    replies = await asyncio.gather(
        *(core.register(person(n), "workshop") for n in names), return_exceptions=True
    )
    assert failed.count("cid") == 1 and max(groups) > 1, (failed, groups)
    assert isinstance(replies[-1], OperationalError)
    assert await stored(core, "eve") is None
    outcomes = [told(r) for r in replies[:-1]]
    for name, outcome in zip(names[:-1], outcomes, strict=True):
        assert await stored(core, name) == outcome
    assert [s for s, _ in outcomes].count(registrations.CONFIRMED) == 30
    assert sorted(p for s, p in outcomes if s == registrations.WAITLISTED) == [1, 2]
    assert await counts(core) == (32, 32, 32 * 3)


@pytest.fixture
def short_busy_timeout(monkeypatch) -> float:
    """SQLite waits this long (seconds) for another process's write lock (set before the core opens)."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 300)
    return 0.3


async def test_a_group_that_cannot_begin_fails_at_once_not_once_a_caller(short_busy_timeout, sqlite_core):
    """Another process holds SQLite's write lock past the busy timeout: the group's BEGIN fails
    before anyone's work ran, so each caller is told at once; running each alone again would
    only wait out the busy timeout once more per caller."""
    core = sqlite_core
    assert core.db.file is not None
    other = sqlite3.connect(core.db.file, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        replies = await asyncio.gather(
            *(core.register(person(f"p{i}"), "workshop") for i in range(8)), return_exceptions=True
        )
        waited = loop.time() - started
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert all(isinstance(r, OperationalError) and "locked" in str(r) for r in replies), replies
    # the first caller alone, then the other seven together: two busy timeouts, not eight
    assert waited < 5 * short_busy_timeout, waited
    assert await counts(core) == (0, 0, 0)


async def test_groups_of_two_processes_asking_for_two_sessions_do_not_deadlock(
    postgres_url, program, clock, caplog
):
    """Each group locks the rows of the sessions its members ask for, in arrival order: two
    processes' groups asking for the workshop and the roundtable in opposite orders must not
    deadlock (PostgreSQL would break it after a second, and the group would run again alone)."""
    caplog.set_level(logging.DEBUG, logger="shared.store.database")
    async with (
        opened_core(make_settings(postgres_url), program, clock) as one,
        opened_core(make_settings(postgres_url), program, clock) as two,
    ):

        async def wave(core, tag, first, second):
            for n in range(6):
                await asyncio.gather(
                    *(core.register(person(f"{tag}{n}x{i}"), (first, second)[i % 2]) for i in range(8))
                )

        await asyncio.gather(
            wave(one, "a", "workshop", "roundtable"), wave(two, "b", "roundtable", "workshop")
        )
    failed = [r.getMessage()[:120] for r in caplog.records if "failed" in r.getMessage()]
    assert not failed, failed
