"""/forgetme and `roundtable forget`: a person erased whole, across linked accounts."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from shared import privacy
from shared.commands import Invocation
from shared.identity import Identity
from shared.store.schema import metadata
from tests.support import RecordingPort, person, with_capacity

# distinctive ids and names, so that a search of every table cannot match by chance
ANN_SLACK = Identity("slack", "T1", "U0ANNQX7", "Annika Zweistein")
ANN_DISCORD = Identity("discord", "G1", "918273645", "annika_zw")
BEN = Identity("slack", "T1", "U0BENRT2", "Bengt Oyelaran")
TRACES = ("U0ANNQX7", "918273645", "Annika", "Zweistein", "annika_zw")


@pytest.fixture
def program():
    return with_capacity(1, slack="C0THEMES", discord="1200000000000000001")


async def everything(core) -> list[tuple[str, dict]]:
    """Every row of every table, as (table, row)."""
    rows = []
    async with core.db.transaction() as conn:
        for table in metadata.sorted_tables:
            for row in await conn.execute(select(table)):
                rows.append((table.name, dict(row._mapping)))
    return rows


async def link(core, first, second) -> None:
    issued = await core.handle(Invocation(first, "link"))
    code = re.search(r"code is ([A-Z0-9]{6})", issued.text).group(1)
    await core.handle(Invocation(second, "link", {"code": code}))


async def test_forgetme_erases_a_person_everywhere_and_gives_the_seat_away(core, clock):
    slack, discord = RecordingPort(platform="slack"), RecordingPort(platform="discord")
    core.attach(slack)
    core.attach(discord)
    await core.register(ANN_SLACK, "workshop")
    await link(core, ANN_SLACK, ANN_DISCORD)
    await core.register(ANN_DISCORD, "roundtable")
    await core.register(BEN, "workshop")  # waits behind Annika
    shared = await core.share_insight(ANN_DISCORD, "decision-making", "Annika Zweistein says: decide early.")
    assert shared.ok
    await core.handle(Invocation(ANN_DISCORD, "link"))  # a code left lying about
    await clock.set(core.program.session("workshop").starts_at - timedelta(days=1))
    await core.dispatch_due()  # reminders sent to her, insight posted on both platforms
    assert len(slack.posts) == 1 and len(discord.posts) == 1
    async with core.db.transaction() as conn:
        ann_id = await privacy.person_of(conn, ANN_SLACK)
        table = metadata.tables["identities"]
        identity_ids = set(
            (await conn.execute(select(table.c.id).where(table.c.person_id == ann_id))).scalars()
        )
    assert len(identity_ids) == 2
    assert ann_id is not None

    ask = await core.handle(Invocation(ANN_SLACK, "forgetme"))
    assert "2 accounts, 2 registrations, 1 insight" in ask.text
    assert [b.action for b in ask.buttons] == ["/forgetme confirm"]
    assert ask.buttons[0].style == "danger"
    assert (await core.handle(Invocation(ANN_SLACK, "mysessions"))).fields  # asking erases nothing

    done = await core.handle(Invocation(ANN_DISCORD, "forgetme", {"confirm": "confirm"}))
    assert done.ok and done.text.startswith("Done: I erased 2 accounts, 2 registrations, 1 insight")
    assert "1 seat you held went to the waitlist" in done.text
    assert "taking down the 2 channel posts" in done.text
    assert "could not take down" not in done.text

    # nothing of hers is left, under any id or name
    for table, row in await everything(core):
        for column, value in row.items():
            assert not any(trace in str(value) for trace in TRACES), (table, column, value)
            if column == "person_id":
                assert value != ann_id, (table, row)
            if column == "identity_id":
                assert value not in identity_ids, (table, row)

    # Bengt has the seat, and is told; her posts are taken down on both platforms
    await core.dispatch_due()
    assert slack.posts == [] and discord.posts == []
    assert any("A seat opened up" in t for t in slack.texts_for("U0BENRT2"))
    roster = await core.handle(Invocation(BEN, "roster", {"session": "workshop"}, organizer=True))
    assert roster.fields[0].value == "1. Bengt Oyelaran (Slack)"
    # the count of insights stays, naming nobody
    async with core.db.transaction() as conn:
        assert await privacy.tallied(conn, "insights") == {"decision-making": 1}

    again = await core.handle(Invocation(ANN_SLACK, "forgetme"))
    assert again.text == "I keep nothing about you: there is nothing to erase."
    again = await core.handle(Invocation(ANN_SLACK, "forgetme", {"confirm": "confirm"}))
    assert "nothing to erase" in again.text


async def test_forgetme_takes_only_the_word_confirm(core):
    await core.register(person("ann"), "workshop")
    refused = await core.handle(Invocation(person("ann"), "forgetme", {"confirm": "yes please"}))
    assert not refused.ok and refused.error_field == "confirm" and "`/forgetme confirm`" in refused.text
    mine = await core.handle(Invocation(person("ann"), "mysessions"))
    assert mine.fields  # still registered


async def test_forgetme_during_a_registration_leaves_no_half_erased_person(core):
    ann = person("ann")
    await core.register(ann, "roundtable")
    _registered, erased = await asyncio.gather(
        core.respond(ann, line="/register workshop"),
        core.respond(ann, line="/forgetme confirm"),
    )
    assert erased.text.startswith("Done: I erased 1 account")
    rows = await everything(core)
    persons = {r["id"] for t, r in rows if t == "people"}
    identities = {r["id"]: r["person_id"] for t, r in rows if t == "identities"}
    # whatever won, every row points at someone who exists
    assert set(identities.values()) <= persons
    for table, row in rows:
        if table == "registrations":
            assert row["person_id"] in persons and row["identity_id"] in identities
        if table == "outbox" and row["kind"] != "insight":
            assert row["person_id"] in persons


async def test_mydata_gives_everything_across_linked_accounts_as_json(core, clock):
    import json

    port = RecordingPort(platform="slack")
    core.attach(port)
    assert (await core.handle(Invocation(ANN_SLACK, "mydata"))).text == "I keep no data about you."
    await core.register(ANN_SLACK, "workshop")
    await core.register(BEN, "workshop")
    await link(core, ANN_SLACK, ANN_DISCORD)
    await core.share_insight(ANN_DISCORD, "decision-making", "Decide early.", city="Graz")
    await clock.set(core.program.session("workshop").starts_at - timedelta(days=1))
    await core.dispatch_due()

    reply = await core.handle(Invocation(ANN_DISCORD, "mydata"))
    assert "2 accounts, 1 registration, 1 insight, 3 messages for you (sent or planned)" in reply.text
    (attachment,) = reply.files
    assert attachment.filename.endswith(".json") and attachment.mime == "application/json"
    data = json.loads(attachment.data)
    assert {a["user_id"] for a in data["accounts"]} == {"U0ANNQX7", "918273645"}
    assert data["registrations"][0]["session"] == "workshop"
    assert data["registrations"][0]["status"] == "confirmed"
    assert data["insights"][0]["text"] == "Decide early." and data["insights"][0]["city"] == "Graz"
    assert [(m["kind"], m["state"]) for m in data["messages"]][:1] == [("reminder", "sent")]
    assert "Bengt" not in attachment.data.decode()  # only her own data

    bens = json.loads((await core.handle(Invocation(BEN, "mydata"))).files[0].data)
    assert bens["registrations"][0]["waitlist_position"] == 1


async def _share_and_post(core, clock, *ports):
    for port in ports:
        core.attach(port)
    await core.register(ANN_SLACK, "workshop")
    assert (await core.share_insight(ANN_SLACK, "decision-making", "Decide early.")).ok
    await clock.set(core.program.session("workshop").starts_at - timedelta(days=1))
    await core.dispatch_due()


async def _erasure_records(core) -> list[dict]:
    import json

    async with core.db.transaction() as conn:
        table = metadata.tables["erasures"]
        return [json.loads(r.summary) | {"via": r.via} for r in await conn.execute(select(table))]


async def test_a_post_the_platform_refuses_to_take_down_is_recorded(core, clock):
    from shared.port import CANNOT_DELETE, DeliveryError

    slack = RecordingPort(platform="slack")
    slack.fail["delete:C0THEMES"] = DeliveryError(CANNOT_DELETE, "cant_delete_message")
    await _share_and_post(core, clock, slack)
    assert len(slack.posts) == 1
    done = await core.handle(Invocation(ANN_SLACK, "forgetme", {"confirm": "confirm"}))
    assert "taking down the 1 channel post " in done.text
    await core.dispatch_due()
    assert len(slack.posts) == 1  # still there: the platform refused
    records = await _erasure_records(core)
    assert any(
        r["via"] == "unpost" and r["channel_posts_left"] == {"slack": 1} and r["reason"] == CANNOT_DELETE
        for r in records
    )


async def test_a_post_made_before_refs_were_kept_is_recorded_and_said(core, clock):
    from sqlalchemy import update

    slack = RecordingPort(platform="slack")
    await _share_and_post(core, clock, slack)
    async with core.db.transaction() as conn:
        table = metadata.tables["outbox"]
        await conn.execute(update(table).where(table.c.kind == "insight").values(ref=None))
    done = await core.handle(Invocation(ANN_SLACK, "forgetme", {"confirm": "confirm"}))
    assert "could not take down" in done.text and "1 on Slack" in done.text
    records = await _erasure_records(core)
    assert records[-1]["channel_posts_left"] == {"slack": 1}


async def test_posts_to_take_down_survive_a_crash_after_the_erasure(core, clock):
    slack = RecordingPort(platform="slack")
    await _share_and_post(core, clock, slack)
    core.detach(slack)  # as if the bot stopped right after the commit
    await core.handle(Invocation(ANN_SLACK, "forgetme", {"confirm": "confirm"}))
    rows = [r for t, r in await everything(core) if t == "outbox" and r["kind"] == "unpost"]
    assert len(rows) == 1 and rows[0]["person_id"] is None and rows[0]["identity_id"] is None
    assert rows[0]["recipient"] == "C0THEMES" and rows[0]["ref"]
    core.attach(slack)  # the next start takes it down
    await core.dispatch_due()
    assert slack.posts == []


async def test_the_erasure_counts_the_messages_that_giving_back_a_seat_drops(core):
    await core.register(ANN_SLACK, "workshop")  # three reminders planned
    shown = await core.handle(Invocation(ANN_SLACK, "mydata"))
    assert "3 messages for you" in shown.text
    done = await core.handle(Invocation(ANN_SLACK, "forgetme", {"confirm": "confirm"}))
    assert "1 registration" in done.text and "3 messages for you" in done.text
