"""Account linking: one person across Slack and Discord."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from shared.commands import Invocation
from tests.support import RecordingPort, outbox_rows, person, with_capacity

SLACK = person("U1", platform="slack", workspace="T1")
DISCORD = person("42", platform="discord", workspace="G1")


@pytest.fixture
def program():
    return with_capacity(2)


async def link(core, first, second) -> str:
    issued = await core.handle(Invocation(first, "link"))
    code = re.search(r"code is ([A-Z0-9]{6})", issued.text).group(1)
    return (await core.handle(Invocation(second, "link", {"code": code.lower()}))).text


async def test_linked_accounts_share_one_set_of_sessions(core):
    await core.register(SLACK, "workshop")
    text = await link(core, SLACK, DISCORD)
    assert "Linked: your Slack and Discord accounts are now one" in text
    for who in (SLACK, DISCORD):
        mine = await core.handle(Invocation(who, "mysessions"))
        assert [f.name for f in mine.fields] == [core.program.session("workshop").title]
    again = await core.register(DISCORD, "workshop")
    assert again.text.startswith("You were already registered")  # at most one seat
    roster = await core.handle(Invocation(SLACK, "roster", {"session": "workshop"}, organizer=True))
    assert roster.fields[0].value == "1. U1 (Slack, Discord)"


async def test_reminders_go_once_to_the_platform_registered_from(core, clock):
    slack, discord = RecordingPort(platform="slack"), RecordingPort(platform="discord")
    core.attach(slack)
    core.attach(discord)
    await core.register(DISCORD, "workshop")
    await link(core, SLACK, DISCORD)
    await clock.set(core.program.session("workshop").starts_at - timedelta(days=1))
    await core.dispatch_due()
    assert [r.user_id for r, _ in discord.direct] == ["42"]
    assert slack.direct == []


async def test_linking_two_seats_keeps_the_earlier_and_promotes_the_waitlist(core):
    port = RecordingPort(platform="console")
    core.attach(port)
    await core.register(DISCORD, "workshop")  # earlier
    await core.register(SLACK, "workshop")  # later: the second seat
    await core.register(person("cid"), "workshop")  # waitlisted
    text = await link(core, DISCORD, SLACK)
    assert "kept the earlier one and freed the other" in text
    roster = await core.handle(Invocation(SLACK, "roster", {"session": "workshop"}, organizer=True))
    assert roster.fields[0].value.splitlines() == ["1. 42 (Discord, Slack)", "2. Cid (Console)"]
    await core.dispatch_due()
    assert port.texts_for("cid")[0].startswith("🎉 A seat opened up")
    # the freed registration's reminders are gone; the kept one's remain, to Discord
    reminders = await outbox_rows(core, kind="reminder", session_id="workshop")
    assert sorted({r.recipient for r in reminders}) == ["42", "cid"]


@pytest.mark.parametrize("code", ["ZZZZZZ", ""])
async def test_unknown_codes_are_refused(core, code):
    reply = await core.handle(Invocation(DISCORD, "link", {"code": code or "nope"}))
    assert not reply.ok and "unknown or has expired" in reply.text


async def test_codes_expire_after_ten_minutes_and_work_once(core, clock):
    issued = await core.handle(Invocation(SLACK, "link"))
    code = re.search(r"code is ([A-Z0-9]{6})", issued.text).group(1)
    await clock.advance(timedelta(minutes=10, seconds=1))
    late = await core.handle(Invocation(DISCORD, "link", {"code": code}))
    assert not late.ok and "expired" in late.text
    assert "Linked" in await link(core, SLACK, DISCORD)
    other = person("99", platform="discord", workspace="G1")
    issued = await core.handle(Invocation(SLACK, "link"))
    code = re.search(r"code is ([A-Z0-9]{6})", issued.text).group(1)
    assert (await core.handle(Invocation(other, "link", {"code": code}))).ok
    assert not (await core.handle(Invocation(other, "link", {"code": code}))).ok


async def test_a_code_typed_on_the_same_account_is_refused(core):
    issued = await core.handle(Invocation(SLACK, "link"))
    code = re.search(r"code is ([A-Z0-9]{6})", issued.text).group(1)
    reply = await core.handle(Invocation(SLACK, "link", {"code": code}))
    assert not reply.ok and "other platform" in reply.text
