"""One core, both real adapters, both stand-ins: one roster and one conversation across platforms."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.e2e.e2e_support import DISCORD_THEME, SLACK_THEME, World, words
from tests.support import outbox_rows

ALICE, DANA = "UALICE01", "UDANA001"  # people on Slack


async def test_slack_and_discord_share_one_seat_and_the_promotion_reaches_discord(world: World) -> None:
    bob = world.discord.add_user("bob")

    first = await world.on_slack(ALICE, "/register workshop")
    assert "seat is confirmed" in first["text"] and first["response_type"] == "ephemeral"
    second = await world.on_discord(bob, "register", session="workshop")
    assert "is full" in second and "#1 on the waitlist" in second

    cancelled = await world.on_slack(ALICE, "/unregister workshop")
    assert "Your seat for Workshop: one seat is cancelled" in cancelled["text"]

    # the dispatcher wakes on its own and DMs bob on Discord, where he registered
    dms = await world.until(lambda: world.discord.dm_bodies(bob), what="bob's promotion DM")
    assert len(dms) == 1
    assert "A seat opened up: you are confirmed for Workshop: one seat" in words(dms[0])
    assert "https://meet.example.org/workshop" in words(dms[0])
    await world.settle()
    assert len(world.discord.dm_bodies(bob)) == 1
    # nothing went to Slack for it: no DM, no post
    assert world.slack.calls("chat.postMessage") == []
    # (alice's DM is opened only for her own calendar files: her entry, then its cancellation)
    assert {c.args.get("users") for c in world.slack.calls("conversations.open")} <= {ALICE}
    promotions = await outbox_rows(world.core, kind="promotion")
    assert [(r.platform, r.recipient, r.state) for r in promotions] == [("discord", bob.id, "sent")]

    assert "seat confirmed" in await world.on_discord(bob, "mysessions")
    assert "no sessions yet" in (await world.on_slack(ALICE, "/mysessions"))["text"]
    organizer = world.discord.add_user("org", organizer=True)
    roster = await world.on_discord(organizer, "roster", session="workshop")
    assert "1. Bob (Discord)" in roster and "Alice" not in roster


async def test_an_insight_from_either_platform_reaches_both_channels(world: World) -> None:
    carol = world.discord.add_user("carol")

    shared = await world.on_slack(
        ALICE, "/insight citizen-participation Neighbourhood councils met online every week."
    )
    assert "Thank you" in shared["text"] and "Slack and Discord" in shared["text"]
    answer = await world.on_discord(
        carol, "insight", theme="citizen-participation", text="Volunteers mapped every stairwell."
    )
    assert "Thank you" in answer

    # each insight goes to the theme's channel on every platform, its own included
    await world.until(
        lambda: len(world.discord.channel_bodies(DISCORD_THEME)) >= 2,
        what="two insight posts on Discord",
    )
    on_discord = world.discord.channel_bodies(DISCORD_THEME)
    from_slack = [b for b in on_discord if "Neighbourhood councils" in words(b)]
    assert len(from_slack) == 1
    embed = from_slack[0]["embeds"][0]
    assert embed["description"] == "> Neighbourhood councils met online every week."
    assert {"name": "Platform", "value": "via Slack", "inline": True} in embed["fields"]
    assert "via Discord" in words([b for b in on_discord if "stairwell" in words(b)])

    on_slack = await world.slack.wait_for("chat.postMessage", 2, channel=SLACK_THEME)
    from_discord = [r.args for r in on_slack if "stairwell" in words(r.args.get("blocks"))]
    assert len(from_discord) == 1
    assert "via Discord" in words(from_discord[0]["blocks"])
    assert "via Slack" in words([r.args["blocks"] for r in on_slack if r.args not in from_discord])

    await world.settle()
    assert len(world.discord.channel_bodies(DISCORD_THEME)) == 2
    assert len(world.slack.calls("chat.postMessage")) == 2  # no DM, no second post

    for listed in (
        (await world.on_slack(ALICE, "/insights"))["text"],
        await world.on_discord(carol, "insights", theme="citizen-participation"),
    ):
        assert "Neighbourhood councils met online every week." in listed
        assert "Volunteers mapped every stairwell." in listed
        assert "via Slack" in listed and "via Discord" in listed


async def test_linking_frees_the_duplicate_seat_and_promotes_the_waitlist(world: World) -> None:
    dana = world.discord.add_user("dana")  # the same person as DANA on Slack
    erin = world.discord.add_user("erin")
    organizer = world.discord.add_user("org", organizer=True)

    assert "seat is confirmed" in (await world.on_slack(DANA, "/register clinic"))["text"]
    assert "seat is confirmed" in await world.on_discord(dana, "register", session="clinic")
    assert "#1 on the waitlist" in await world.on_discord(erin, "register", session="clinic")

    asked = await world.on_slack(DANA, "/link")
    assert asked["response_type"] == "ephemeral"
    code = re.search(r"link code is ([A-Z0-9]{6})\b", asked["text"])
    assert code is not None, asked["text"]
    linked = await world.on_discord(dana, "link", code=code.group(1))
    assert "Linked: your Slack and Discord accounts are now one" in linked
    assert "You held two places in Clinic: two seats" in linked and "freed the other" in linked

    # the freed seat goes to erin, who hears it on Discord
    dms = await world.until(lambda: world.discord.dm_bodies(erin), what="erin's promotion DM")
    assert "A seat opened up: you are confirmed for Clinic: two seats" in words(dms)

    roster = await world.on_discord(organizer, "roster", session="clinic")
    assert "Confirmed (2/2)" in roster and "Waitlist (0)" in roster
    assert roster.count("Dana") == 1, roster
    assert "Dana (Slack, Discord)" in roster and "Erin (Discord)" in roster

    on_slack = (await world.on_slack(DANA, "/mysessions"))["text"]
    on_discord = await world.on_discord(dana, "mysessions")
    assert on_slack.count("Clinic: two seats") == 1 and "seat confirmed" in on_slack
    assert on_discord.count("Clinic: two seats") == 1 and "seat confirmed" in on_discord

    # reminders go once, to the platform Dana registered from first (Slack)
    clinic = world.core.program.session("clinic")
    assert clinic is not None
    await world.clock.set(clinic.starts_at - timedelta(days=1) + timedelta(minutes=1))
    [reminder] = await world.slack.wait_for("chat.postMessage", channel=DANA)
    assert "Reminder: Clinic: two seats" in reminder.args["text"]
    await world.until(lambda: len(world.discord.dm_bodies(erin)) == 2, what="erin's reminder")
    await world.settle()
    assert world.discord.dm_bodies(dana) == []
    assert len(world.slack.calls("chat.postMessage")) == 1
    rows = await outbox_rows(world.core, kind="reminder", state="sent")
    assert sorted(r.platform for r in rows) == ["discord", "slack"]
