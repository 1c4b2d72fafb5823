"""RETENTION_DAYS: personal data tied to a session goes after it; counts stay. And /privacy."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shared import privacy
from shared.commands import Invocation
from shared.store.schema import erasures, identities, people, registrations
from tests.conftest import make_settings
from tests.support import opened_core, outbox_rows, person, with_capacity


@pytest.fixture
def program():
    return with_capacity(1)


async def count(core, table) -> int:
    async with core.db.transaction() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_purge_removes_what_is_past_retention_and_keeps_counts(core, clock):
    for who in ("ann", "ben"):
        await core.register(person(who), "workshop")
    await core.register(person("cid"), "roundtable")
    await core.share_insight(person("cid"), "decision-making", "Decide early.")
    workshop = core.program.session("workshop")

    await clock.set(workshop.ends_at + timedelta(days=89))
    assert (await core.purge()).registrations == 0  # not yet
    await clock.set(workshop.ends_at + timedelta(days=91))
    purged = await core.purge()
    # both sessions ended on the same day: all three registrations go
    assert purged.registrations == 3 and set(purged.sessions) == {"workshop", "roundtable"}
    assert await count(core, registrations) == 0
    assert await outbox_rows(core) == []
    # ann and ben kept nothing else; cid's insight stays, so does cid
    assert purged.people == 2 and await count(core, people) == 1 and await count(core, identities) == 1
    async with core.db.transaction() as conn:
        assert await privacy.tallied(conn, "confirmed") == {"workshop": 1}
        assert await privacy.tallied(conn, "waitlisted") == {"workshop": 1}
        assert await privacy.tallied(conn, "following") == {"roundtable": 1}
    assert await count(core, erasures) == 1
    again = await core.purge()
    assert (again.registrations, again.messages, again.people) == (0, 0, 0)
    assert await count(core, erasures) == 1  # nothing purged, nothing recorded


async def test_the_running_bot_purges_on_its_own(database_url, program, clock):
    settings = make_settings(database_url, retention_days=30)
    async with opened_core(settings, program, clock) as core:
        await core.register(person("ann"), "workshop")
        await clock.set(program.session("workshop").ends_at + timedelta(days=31))
        await core.start()
        # the purge runs in the background at start; wait for the database to show it
        rows = [await count(core, registrations)]
        for _ in range(500):
            if rows[-1] == 0:
                break
            await asyncio.sleep(0.01)
            rows.append(await count(core, registrations))
        assert rows[-1] == 0


async def test_privacy_says_what_why_how_long_and_whom_to_ask(core, program):
    notice = await core.handle(Invocation(person("ann"), "privacy"))
    text = " ".join([notice.text] + [f.name + " " + f.value for f in notice.fields])
    assert "90 days after it ends" in text and "`/mydata`" in text and "`/forgetme`" in text
    assert "the event's organizers" in text
    event = program.event.model_copy(update={"privacy_contact": "dpo@city.example"})
    core.program = program.model_copy(update={"event": event})
    notice = await core.handle(Invocation(person("ann"), "privacy"))
    assert "write to dpo@city.example" in notice.fields[-1].value
