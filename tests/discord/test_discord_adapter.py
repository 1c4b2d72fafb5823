"""The Discord adapter end to end: the real discord.py against the stand-in, a real core on SQLite."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bots import registry, runner
from bots.discord.adapter import DiscordAdapter
from shared.app import Roundtable
from shared.clock import FakeClock
from shared.commands import COMMANDS
from shared.errors import AdapterStartError
from shared.identity import Recipient
from shared.messages import InsightPost, Message
from shared.port import UNKNOWN_CHANNEL, DeliveryError
from shared.store.schema import outbox
from tests.conftest import make_settings
from tests.discord.discord_standin import DiscordStandin, would_ping
from tests.discord.discord_support import THEME_CHANNEL
from tests.support import discord_settings

EPHEMERAL = 64
COMMANDS_PATH = r"/applications/\d+/guilds/\d+/commands"
DM_OPEN = "/users/@me/channels"
CHANNEL_POST = r"/channels/\d+/messages"


def text_of(body: dict[str, Any]) -> str:
    """Everything a reader sees in a message body, flattened for assertions."""
    parts = [body.get("content") or ""]
    for embed in body.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        for field in embed.get("fields") or []:
            parts += [field["name"], field["value"]]
        parts.append((embed.get("footer") or {}).get("text", ""))
    return "\n".join(parts)


def buttons_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in body.get("components") or [] for c in row.get("components", [])]


def is_ephemeral(body: dict[str, Any]) -> bool:
    return bool((body.get("flags") or 0) & EPHEMERAL)


async def outbox_rows(core: Roundtable, kind: str) -> list[Any]:
    async with core.db.transaction() as conn:
        return list(
            (await conn.execute(select(outbox).where(outbox.c.kind == kind).order_by(outbox.c.id))).all()
        )


async def to_first_reminder(core: Roundtable, clock: FakeClock) -> None:
    """Move to just after the workshop's 1-day reminder and run the dispatcher once."""
    workshop = core.program.session("workshop")
    assert workshop is not None
    await clock.set(workshop.starts_at - timedelta(days=1) + timedelta(minutes=1))
    await core.dispatch_due()


# ----- start-up ---------------------------------------------------------------------


async def test_start_syncs_every_command_and_logs_the_invite(
    standin: DiscordStandin, discord_core: Roundtable, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bots.discord")
    adapter = DiscordAdapter(discord_core, discord_settings(standin), guild_ready_timeout=0.05)
    await adapter.start()
    try:
        sync = await standin.wait_request("PUT", COMMANDS_PATH)
        assert sync.path == f"/applications/{standin.app_id}/guilds/{standin.guild_id}/commands"
        synced = {c["name"]: c for c in sync.json}
        assert set(synced) == set(COMMANDS)
        register = synced["register"]["options"][0]
        # without a session the core offers a picker with buttons
        assert register["required"] is False and [c["value"] for c in register["choices"]] == [
            "roundtable",
            "workshop",
        ]
        insight = {o["name"]: o for o in synced["insight"]["options"]}
        assert insight["theme"]["required"] and len(insight["theme"]["choices"]) == 4
        assert insight["text"]["required"] is False  # without text, a modal opens
        assert synced["insights"]["options"][0]["required"] is False
        for name in ("roster", "announce"):
            assert synced[name]["default_member_permissions"] == "32"  # Manage Server
        assert synced["register"]["default_member_permissions"] is None
        assert adapter.reach() and adapter.reach()[0].platform == "discord"
    finally:
        await adapter.close()
    assert adapter.reach() == []
    assert adapter.invite is not None
    assert f"client_id={standin.app_id}" in adapter.invite
    assert (
        "scope=bot+applications.commands" in adapter.invite and "permissions=17592186096640" in adapter.invite
    )
    assert adapter.invite in caplog.text


async def test_a_bad_token_is_a_clear_error(
    standin: DiscordStandin, sqlite_url: str, clock: FakeClock
) -> None:
    core = await Roundtable.open(make_settings(sqlite_url), clock=clock)
    try:
        adapter = DiscordAdapter(core, discord_settings(standin, token="not-the-token"))
        with pytest.raises(AdapterStartError, match="refused DISCORD_TOKEN"):
            await adapter.start()
        assert adapter.client.is_closed()
        # one attempt, no retry loop, no gateway connection
        assert len(standin.find("GET", "/users/@me")) == 1 and standin.identifies == []
    finally:
        await core.close(grace=1)


# ----- commands and buttons ---------------------------------------------------------


async def test_schedule_shows_discord_timestamps_and_a_button_that_survives_restart(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice = standin.add_user("alice")
    body = await standin.wait_answer(await standin.slash(alice, "schedule"))
    shown = text_of(body)
    workshop = discord_core.program.session("workshop")
    assert workshop is not None
    # Discord renders these in each reader's own time zone
    assert f"<t:{int(workshop.starts_at.timestamp())}:F>" in shown
    assert body["allowed_mentions"] == {"parse": []}
    custom_ids = [b.get("custom_id") for b in buttons_of(body)]
    assert "rt:/register workshop" in custom_ids

    # a fresh adapter (as after a restart) still understands the old message's button
    await bot.close()
    again = DiscordAdapter(discord_core, discord_settings(standin), guild_ready_timeout=0.05)
    await again.start()
    try:
        reply = await standin.wait_answer(await standin.click(alice, "rt:/register workshop", shown=body))
        assert "seat is confirmed" in text_of(reply) and is_ephemeral(reply)
    finally:
        await again.close()


async def test_register_waitlist_and_promotion_across_users(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice, bob, carol = (standin.add_user(n) for n in ("alice", "bob", "carol"))
    for user in (alice, bob):
        answer = await standin.wait_answer(await standin.slash(user, "register", session="workshop"))
        assert "seat is confirmed" in text_of(answer) and is_ephemeral(answer)
    waiting = await standin.wait_answer(await standin.slash(carol, "register", session="workshop"))
    assert "#1 on the waitlist" in text_of(waiting)

    mine = await standin.wait_answer(await standin.slash(carol, "mysessions"))
    assert "#1 on the waitlist" in text_of(mine)

    cancelled = await standin.wait_answer(await standin.slash(alice, "unregister", session="workshop"))
    assert "cancelled" in text_of(cancelled)
    await discord_core.dispatch_due()

    dms = standin.dm_bodies(carol)
    assert len(dms) == 1, dms
    assert "seat opened up" in text_of(dms[0])
    join = [b for b in buttons_of(dms[0]) if b.get("url")]
    workshop = discord_core.program.session("workshop")
    assert workshop is not None and join and join[0]["url"] == workshop.join
    assert dms[0]["allowed_mentions"] == {"parse": []}
    assert standin.dm_bodies(alice) == [] and standin.dm_bodies(bob) == []
    promotions = await outbox_rows(discord_core, "promotion")
    assert [r.state for r in promotions] == ["sent"]


async def test_reminder_dm_carries_the_join_link_and_reuses_the_dm_channel(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter, clock: FakeClock
) -> None:
    alice = standin.add_user("alice")
    await standin.wait_answer(await standin.slash(alice, "register", session="workshop"))
    await to_first_reminder(discord_core, clock)
    dms = standin.dm_bodies(alice)
    assert len(dms) == 1 and "Reminder" in text_of(dms[0])
    workshop = discord_core.program.session("workshop")
    assert workshop is not None and workshop.join in text_of(dms[0])
    assert len(standin.find("POST", DM_OPEN)) == 1

    # the next reminder goes straight to the cached DM channel: one request, not two
    await clock.set(workshop.starts_at - timedelta(minutes=59))
    await discord_core.dispatch_due()
    assert len(standin.dm_bodies(alice)) == 2
    assert len(standin.find("POST", DM_OPEN)) == 1
    assert [r.state for r in await outbox_rows(discord_core, "reminder")][:2] == ["sent", "sent"]


async def test_closed_dms_fail_the_reminder_once(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter, clock: FakeClock
) -> None:
    dave = standin.add_user("dave", dms_closed=True)
    await standin.wait_answer(await standin.slash(dave, "register", session="workshop"))
    await to_first_reminder(discord_core, clock)
    attempts = standin.find("POST", CHANNEL_POST)
    assert [r.status for r in attempts] == [403]  # tried once, never in a loop
    rows = await outbox_rows(discord_core, "reminder")
    assert (rows[0].state, rows[0].reason) == ("failed", "dms_closed")
    await discord_core.dispatch_due()
    assert len(standin.find("POST", CHANNEL_POST)) == 1


async def test_an_unknown_user_fails_with_unknown_user(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter, clock: FakeClock
) -> None:
    ghost = standin.add_user("ghost")
    await standin.wait_answer(await standin.slash(ghost, "register", session="workshop"))
    del standin.users[ghost.id]  # the account was deleted
    await to_first_reminder(discord_core, clock)
    rows = await outbox_rows(discord_core, "reminder")
    assert (rows[0].state, rows[0].reason) == ("failed", "unknown_user")


async def test_a_429_with_retry_after_is_retried(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter, clock: FakeClock
) -> None:
    alice = standin.add_user("alice")
    await standin.wait_answer(await standin.slash(alice, "register", session="workshop"))
    standin.rate_limit_next("POST", CHANNEL_POST, retry_after=0.2)
    await to_first_reminder(discord_core, clock)
    assert [r.status for r in standin.find("POST", CHANNEL_POST)] == [429, 200]
    assert len(standin.dm_bodies(alice)) == 1
    rows = await outbox_rows(discord_core, "reminder")
    assert rows[0].state == "sent"


async def test_insight_is_posted_as_an_embed_with_mentions_disabled(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice = standin.add_user("alice")
    interaction = await standin.slash(
        alice, "insight", theme="citizen-participation", text="Neighbourhood councils kept meeting online."
    )
    answer = await standin.wait_answer(interaction)
    assert "Thank you" in text_of(answer) and is_ephemeral(answer)
    assert standin.callback(interaction).json["type"] == 5  # deferred at once: it fans out
    await discord_core.dispatch_due()

    posts = standin.channel_bodies(THEME_CHANNEL)
    assert len(posts) == 1
    post = posts[0]
    assert post["allowed_mentions"] == {"parse": []}
    embed = post["embeds"][0]
    assert embed["title"] == "Citizen participation"
    assert embed["description"] == "> Neighbourhood councils kept meeting online."
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Shared by"] == "Alice" and fields["Platform"] == "via Discord"
    assert "City" not in fields


async def test_a_mention_injection_pings_nobody(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    mallory = standin.add_user("mallory")
    attack = f"@everyone @here <@&{standin.guild_id}> <@{mallory.id}> **bold** <t:0:R> ⟦time:0:relative⟧"
    await standin.wait_answer(
        await standin.slash(mallory, "insight", theme="citizen-participation", text=attack)
    )
    await discord_core.dispatch_due()
    post = standin.channel_bodies(THEME_CHANNEL)[0]
    assert would_ping(post) == set()
    description = post["embeds"][0]["description"]
    assert "@everyone" not in description and "@here" not in description
    assert "<@" not in description and "<t:" not in description and "**" not in description

    # the listing shows the same text, escaped as well
    listing = await standin.wait_answer(
        await standin.slash(mallory, "insights", theme="citizen-participation")
    )
    assert would_ping(listing) == set() and listing["allowed_mentions"] == {"parse": []}
    shown = text_of(listing)
    assert "@everyone" not in shown and "<@&" not in shown and "<t:0" not in shown
    # the stand-in's model flags the same text sent without protection
    assert would_ping({"content": attack}) == {
        "@everyone",
        "@here",
        f"role:{standin.guild_id}",
        f"user:{mallory.id}",
    }


async def test_insight_without_text_opens_a_modal(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice = standin.add_user("alice")
    interaction = await standin.slash(alice, "insight", theme="citizen-participation")
    callback = await standin.wait_for(lambda: standin.callback(interaction))
    assert callback.json["type"] == 9  # MODAL
    modal = callback.json["data"]
    ids = re.findall(r"'custom_id': '([^']+)'", str(modal["components"]))
    assert {"text", "city", "anonymous"} <= set(ids)

    submitted = await standin.submit_modal(
        alice,
        modal["custom_id"],
        {"text": "Shared budgets <@&1> work.", "city": "Lyon", "anonymous": ["yes"]},
    )
    answer = await standin.wait_answer(submitted)
    assert "anonymously" in text_of(answer) and is_ephemeral(answer)
    await discord_core.dispatch_due()
    embed = standin.channel_bodies(THEME_CHANNEL)[0]["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Shared by"] == "anonymous" and fields["City"] == "Lyon"
    assert "<@&" not in embed["description"]


async def test_an_empty_modal_text_is_refused_politely(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice = standin.add_user("alice")
    interaction = await standin.slash(alice, "insight", theme="citizen-participation")
    modal = (await standin.wait_for(lambda: standin.callback(interaction))).json["data"]
    answer = await standin.wait_answer(
        await standin.submit_modal(
            alice, modal["custom_id"], {"text": "   ", "city": "", "anonymous": ["no"]}
        )
    )
    assert is_ephemeral(answer) and text_of(answer).strip()
    assert standin.channel_bodies(THEME_CHANNEL) == []


async def test_organizer_commands_are_refused_to_plain_members(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    member, organizer = standin.add_user("member"), standin.add_user("olga", organizer=True)
    await standin.wait_answer(await standin.slash(member, "register", session="workshop"))

    refused = await standin.wait_answer(await standin.slash(member, "roster", session="workshop"))
    assert "organizers" in text_of(refused) and is_ephemeral(refused)
    refused = await standin.wait_answer(
        await standin.slash(member, "announce", session="workshop", message="hi")
    )
    assert "organizers" in text_of(refused)
    assert standin.dm_bodies(member) == []

    roster = await standin.wait_answer(await standin.slash(organizer, "roster", session="workshop"))
    assert "Member" in text_of(roster) and is_ephemeral(roster)


async def test_announce_is_deferred_and_reaches_registrants_without_pings(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice, organizer = standin.add_user("alice"), standin.add_user("olga", organizer=True)
    await standin.wait_answer(await standin.slash(alice, "register", session="workshop"))
    interaction = await standin.slash(
        organizer, "announce", session="workshop", message="Room moved @everyone"
    )
    answer = await standin.wait_answer(interaction)
    assert standin.callback(interaction).json["type"] == 5
    assert "on its way to 1 person" in text_of(answer)
    await discord_core.dispatch_due()
    dms = standin.dm_bodies(alice)
    assert len(dms) == 1 and "Room moved" in text_of(dms[0])
    assert would_ping(dms[0]) == set() and "@everyone" not in text_of(dms[0])


async def test_bad_input_gets_a_polite_ephemeral_answer(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice = standin.add_user("alice")
    unknown = await standin.wait_answer(await standin.slash(alice, "register", session="nope"))
    assert is_ephemeral(unknown) and "nope" in text_of(unknown)
    stale = await standin.wait_answer(await standin.slash(alice, "teleport"))
    assert is_ephemeral(stale) and "/help" in text_of(stale)
    broken = await standin.wait_answer(await standin.click(alice, "rt:/teleport now"))
    assert is_ephemeral(broken) and "/help" in text_of(broken)
    alice.locale = "es-ES"  # a stale command is explained in the reader's language too
    stale = await standin.wait_answer(await standin.slash(alice, "teleport"))
    assert "ya no está disponible" in text_of(stale)


async def test_commands_work_in_a_dm_with_the_bot(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice = standin.add_user("alice")
    answer = await standin.wait_answer(await standin.click(alice, "rt:/mysessions", in_dm=True))
    assert "no sessions yet" in text_of(answer)


async def test_mydata_comes_as_a_json_attachment_also_in_a_dm(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice = standin.add_user("alice")
    nothing = await standin.wait_answer(await standin.slash(alice, "mydata"))
    assert "I keep no data about you" in text_of(nothing)
    await standin.wait_answer(await standin.slash(alice, "register", session="workshop"))
    interaction = await standin.click(alice, "rt:/mydata", in_dm=True)
    answer = await standin.wait_answer(interaction)
    assert is_ephemeral(answer) and "1 account, 1 registration" in text_of(answer)
    assert answer["attachments"][0]["filename"].endswith(".json")
    (sent,) = [r.files for r in standin.requests if any(n.endswith(".json") for n in r.files)]
    ((name, data),) = sent.items()
    assert name.startswith("roundtable-mydata-")
    account = json.loads(data)["accounts"][0]
    assert (account["platform"], account["user_id"]) == ("discord", alice.id)


async def test_forgetme_button_erases_and_a_second_time_finds_nothing(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice = standin.add_user("alice")
    await standin.wait_answer(await standin.slash(alice, "register", session="workshop"))
    ask = await standin.wait_answer(await standin.slash(alice, "forgetme"))
    button = ask["components"][0]["components"][0]
    assert button["custom_id"] == "rt:/forgetme confirm" and button["style"] == 4
    done = await standin.wait_answer(await standin.click(alice, button["custom_id"]))
    assert "Done: I erased 1 account, 1 registration" in text_of(done)
    again = await standin.wait_answer(await standin.slash(alice, "forgetme"))
    assert "nothing to erase" in text_of(again)


async def _share_and_post(standin: DiscordStandin, core: Roundtable, alice) -> None:
    text = "Neighbourhood councils kept meeting online."
    await standin.wait_answer(await standin.slash(alice, "insight", theme="citizen-participation", text=text))
    await core.dispatch_due()
    assert len(standin.messages_in(THEME_CHANNEL)) == 1


async def test_forgetme_takes_the_insight_post_down_from_the_channel(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice = standin.add_user("alice")
    await _share_and_post(standin, discord_core, alice)
    done = await standin.wait_answer(await standin.click(alice, "rt:/forgetme confirm"))
    assert "taking down the 1 channel post" in text_of(done)
    await discord_core.dispatch_due()
    [deleted] = standin.find("DELETE", rf"/channels/{THEME_CHANNEL}/messages/\d+")
    assert deleted.status == 204
    assert standin.messages_in(THEME_CHANNEL) == []  # gone from the channel


async def test_a_post_discord_refuses_to_delete_is_recorded(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    from shared.store.schema import erasures

    alice = standin.add_user("alice")
    await _share_and_post(standin, discord_core, alice)
    standin.fail_next(
        "DELETE", r"/channels/\d+/messages/\d+", 403, {"message": "Missing Permissions", "code": 50013}
    )
    await standin.wait_answer(await standin.click(alice, "rt:/forgetme confirm"))
    await discord_core.dispatch_due()
    assert len(standin.messages_in(THEME_CHANNEL)) == 1  # still there
    async with discord_core.db.transaction() as conn:
        records = [json.loads(r.summary) for r in await conn.execute(select(erasures))]
    assert any(
        r.get("channel_posts_left") == {"discord": 1} and r.get("reason") == "cannot_delete" for r in records
    )


async def test_deleting_a_post_maps_discord_answers(standin: DiscordStandin, bot: DiscordAdapter) -> None:
    post = InsightPost(1, "t", "Theme", "text", "Alice", None, "discord", datetime.now(UTC))
    receipt = await bot.post_insight(THEME_CHANNEL, post)
    assert receipt.ref == standin.messages_in(THEME_CHANNEL)[0]["id"]
    await bot.delete_post(THEME_CHANNEL, receipt.ref)
    await bot.delete_post(THEME_CHANNEL, receipt.ref)  # 404 Unknown Message: gone already, fine
    assert standin.messages_in(THEME_CHANNEL) == []
    with pytest.raises(DeliveryError) as refused:
        await bot.delete_post("1888888888888888888", receipt.ref)  # 404 Unknown Channel
    assert refused.value.reason == "cannot_delete" and not refused.value.retryable


# ----- failure handling -------------------------------------------------------------


async def test_a_slow_core_is_deferred_then_answered(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = discord_core.handle

    async def slow(inv: Any) -> Any:
        await asyncio.sleep(0.3)
        return await handle(inv)

    monkeypatch.setattr(discord_core, "handle", slow)
    alice = standin.add_user("alice")
    interaction = await standin.slash(alice, "mysessions")
    answer = await standin.wait_answer(interaction)
    callback = standin.callback(interaction)
    assert callback is not None and callback.json == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert "no sessions yet" in text_of(answer)


async def test_a_core_crash_gets_an_apology_not_silence(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(inv: Any) -> Any:
        raise RuntimeError("database is on fire")

    monkeypatch.setattr(discord_core, "handle", broken)
    answer = await standin.wait_answer(await standin.slash(standin.add_user("alice"), "schedule"))
    assert "Sorry" in text_of(answer) and is_ephemeral(answer) and "fire" not in text_of(answer)


async def test_a_stale_dm_channel_is_reopened(standin: DiscordStandin, bot: DiscordAdapter) -> None:
    alice = standin.add_user("alice")
    recipient = Recipient("discord", standin.guild_id, alice.id, "Alice", dm_channel="1999999999999999999")
    receipt = await bot.send_direct(recipient, Message(text="hello", ephemeral=False))
    assert receipt.dm_channel in standin.dm_channels and receipt.dm_channel != recipient.dm_channel
    assert [text_of(b) for b in standin.dm_bodies(alice)] == ["hello"]


async def test_posting_to_an_unknown_channel_is_a_clear_failure(
    standin: DiscordStandin, bot: DiscordAdapter
) -> None:
    post = InsightPost(1, "t", "Theme", "text", "Alice", None, "discord", datetime.now(UTC))
    with pytest.raises(DeliveryError) as info:
        await bot.post_insight("1888888888888888888", post)
    assert info.value.reason == UNKNOWN_CHANNEL and not info.value.retryable
    with pytest.raises(DeliveryError) as info:
        await bot.post_insight("#general", post)
    assert info.value.reason == UNKNOWN_CHANNEL


async def test_run_returns_non_zero_on_a_bad_token(
    standin: DiscordStandin, sqlite_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    core = await Roundtable.open(make_settings(sqlite_url), clock=clock)
    chosen = runner.Chosen(registry.plugin("discord"), discord_settings(standin, token="wrong"))
    try:
        assert await runner.run(core, [chosen]) == 2
    finally:
        await core.close(grace=1)
    assert "refused DISCORD_TOKEN" in caplog.text


async def test_without_a_guild_id_commands_sync_globally(
    standin: DiscordStandin, sqlite_url: str, clock: FakeClock
) -> None:
    core = await Roundtable.open(make_settings(sqlite_url), clock=clock)
    adapter = DiscordAdapter(core, discord_settings(standin, guild_id=None), guild_ready_timeout=0.05)
    try:
        await adapter.start()
        sync = await standin.wait_request("PUT", rf"/applications/{standin.app_id}/commands")
        assert {c["name"] for c in sync.json} == set(COMMANDS)
        assert standin.find("PUT", COMMANDS_PATH) == []
    finally:
        await adapter.close()
        await core.close(grace=1)


async def test_manage_server_elsewhere_grants_nothing(bot: DiscordAdapter, standin: DiscordStandin) -> None:
    from types import SimpleNamespace

    def asked(guild_id: int | None, manage: bool) -> bool:
        return bot.is_organizer(
            SimpleNamespace(guild_id=guild_id, permissions=SimpleNamespace(manage_guild=manage))
        )

    event_server = int(standin.guild_id)
    assert asked(event_server, True)
    assert not asked(event_server, False)
    assert not asked(event_server + 1, True)  # someone added the public bot to their own server
    assert not asked(None, True)
    bot.guild_id = None  # with no event server configured, nobody on Discord is an organizer
    assert not asked(event_server, True)


async def test_a_row_sent_twice_with_its_nonce_is_one_message(
    standin: DiscordStandin, bot: DiscordAdapter
) -> None:
    """enforce_nonce: a re-send of the same row (after a crash or a timeout) returns the first message."""
    alice = standin.add_user("alice")
    recipient = Recipient("discord", standin.guild_id, alice.id, "Alice")
    first = await bot.send_direct(recipient, Message(text="hello", ephemeral=False), key="rt41")
    again = Recipient("discord", standin.guild_id, alice.id, "Alice", dm_channel=first.dm_channel)
    await bot.send_direct(again, Message(text="hello", ephemeral=False), key="rt41")
    await bot.send_direct(again, Message(text="other", ephemeral=False), key="rt42")
    assert [text_of(b) for b in standin.dm_bodies(alice)] == ["hello", "other"]
    posts = standin.find("POST", r"/channels/\d+/messages")
    assert [(p.json["nonce"], p.json["enforce_nonce"]) for p in posts] == [("rt41", True)] * 2 + [
        ("rt42", True)
    ]


async def test_a_long_rate_limit_becomes_a_rescheduled_row(
    standin: DiscordStandin, bot: DiscordAdapter
) -> None:
    """Past max_ratelimit_timeout discord.py raises; the send ends at once with the wait to reschedule."""
    alice = standin.add_user("alice")
    recipient = Recipient("discord", standin.guild_id, alice.id, "Alice")
    data = await bot.client.http.start_private_message(int(alice.id))
    standin.rate_limit_next("POST", rf"/channels/{data['id']}/messages", retry_after=120)
    started = asyncio.get_running_loop().time()
    with pytest.raises(DeliveryError) as info:
        await bot.send_direct(
            Recipient("discord", standin.guild_id, alice.id, "Alice", dm_channel=str(data["id"])),
            Message(text="hello", ephemeral=False),
            key="rt7",
        )
    assert asyncio.get_running_loop().time() - started < 5
    assert info.value.retry_after == pytest.approx(120, abs=1) and info.value.sent is False
    assert standin.dm_bodies(alice) == [] and recipient.user_id == alice.id


async def test_an_unparseable_gateway_event_is_survived(
    standin: DiscordStandin,
    bot: DiscordAdapter,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """discord.py's gateway loop ends on an event it cannot parse: the adapter says so and reconnects."""
    import bots.discord.adapter as discord_adapter

    monkeypatch.setattr(discord_adapter, "RECONNECT_BASE", 0.1)
    identifies = len(standin.identifies)
    await standin.dispatch("CHANNEL_CREATE", {"type": 0, "guild_id": standin.guild_id})  # no id: KeyError
    await standin.wait_for(lambda: len(standin.identifies) > identifies, within=10)
    assert any("gateway connection lost" in r.getMessage() for r in caplog.records)
    from tests.support import until

    await until(lambda: bot.health() == "up", limit=10, what="the gateway back up")
    alice = standin.add_user("alice")
    body = await standin.wait_answer(await standin.slash(alice, "schedule"))
    assert body


async def test_a_gateway_that_stays_down_ends_the_adapter(
    standin: DiscordStandin, bot: DiscordAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bots.discord.adapter as discord_adapter
    from shared.errors import AdapterDied

    monkeypatch.setattr(discord_adapter, "RECONNECT_BASE", 0.05)
    bot.reconnect_within = 0.5
    standin.send_ready = False  # identifies, never ready again

    async def refuse(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(bot.client, "connect", refuse)
    await standin.dispatch("CHANNEL_CREATE", {"type": 0, "guild_id": standin.guild_id})
    with pytest.raises(AdapterDied):
        await asyncio.wait_for(bot.wait(), 10)
    assert bot.health() == "down"


# ----- time zones -------------------------------------------------------------------


async def test_timezone_autocompletes_iana_names_and_sets_the_zone(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    sync = await standin.wait_request("PUT", COMMANDS_PATH)
    [timezone] = [c for c in sync.json if c["name"] == "timezone"]
    assert timezone["options"][0]["autocomplete"] is True
    alice = standin.add_user("alice")
    first = await standin.autocomplete(alice, "timezone", "zone", "")
    offered = await standin.wait_for(lambda: standin.callback(first))
    names = [c["value"] for c in offered.json["data"]["choices"]]
    assert names[:3] == list(discord_core.program.event.zones)  # the event's cities first
    typed = await standin.autocomplete(alice, "timezone", "zone", "bogo")
    found = await standin.wait_for(lambda: standin.callback(typed))
    assert [c["value"] for c in found.json["data"]["choices"]] == ["America/Bogota"]

    done = await standin.wait_answer(await standin.slash(alice, "timezone", zone="America/Bogota"))
    assert "America/Bogota" in text_of(done) and is_ephemeral(done)
    bad = await standin.wait_answer(await standin.slash(alice, "timezone", zone="Bogota"))
    assert "/timezone America/Bogota" in text_of(bad) and is_ephemeral(bad)
    shown = await standin.wait_answer(await standin.slash(alice, "timezone"))
    assert "America/Bogota, as you chose" in text_of(shown)


# ----- "I can't come" ---------------------------------------------------------------


async def test_i_cant_come_from_a_reminder_asks_then_frees_the_seat_for_the_waitlist(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter, clock: FakeClock
) -> None:
    alice, bob, carol = (standin.add_user(n) for n in ("alice", "bob", "carol"))
    for user in (alice, bob, carol):
        await standin.wait_answer(await standin.slash(user, "register", session="workshop"))
    await to_first_reminder(discord_core, clock)
    [reminder] = standin.dm_bodies(alice)
    assert "rt:/unregister workshop ask" in [b.get("custom_id") for b in buttons_of(reminder)]
    # the waitlisted reader sees their position, and has no seat to give back
    [waiting] = standin.dm_bodies(carol)
    assert "#1 on the waitlist" in text_of(waiting)
    assert not any("ask" in (b.get("custom_id") or "") for b in buttons_of(waiting))

    asked = await standin.wait_answer(
        await standin.click(alice, "rt:/unregister workshop ask", shown=reminder, in_dm=True)
    )
    assert "Give back your seat" in text_of(asked)
    assert await outbox_rows(discord_core, "promotion") == []  # nothing freed on the first click
    confirm = [b["custom_id"] for b in buttons_of(asked) if b.get("custom_id") == "rt:/unregister workshop"]
    assert confirm
    done = await standin.wait_answer(await standin.click(alice, confirm[0], shown=asked, in_dm=True))
    assert "cancelled" in text_of(done)
    await discord_core.dispatch_due()
    assert "seat opened up" in text_of(standin.dm_bodies(carol)[-1])


async def test_the_hidden_step_option_is_not_a_slash_command_option(
    standin: DiscordStandin, bot: DiscordAdapter
) -> None:
    sync = await standin.wait_request("PUT", COMMANDS_PATH)
    [unregister] = [c for c in sync.json if c["name"] == "unregister"]
    assert [o["name"] for o in unregister["options"]] == ["session"]


# ----- languages --------------------------------------------------------------------


async def test_the_client_locale_picks_the_language_and_commands_are_localized(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    sync = await standin.wait_request("PUT", COMMANDS_PATH)
    [register] = [c for c in sync.json if c["name"] == "register"]
    assert register["description_localizations"]["fr"] == "Réserver une place, ou suivre une session ouverte"
    assert register["description_localizations"]["es-ES"].startswith("Reservar")
    assert register["options"][0]["description_localizations"]["fr"].startswith("La session")

    amelie = standin.add_user("amelie")
    amelie.locale = "fr"
    body = await standin.wait_answer(await standin.slash(amelie, "register", session="workshop"))
    assert "Votre place est confirmée" in text_of(body)
    # /language wins over the client's locale
    await standin.wait_answer(await standin.slash(amelie, "language", language="es"))
    mine = await standin.wait_answer(await standin.slash(amelie, "mysessions"))
    assert "lugar confirmado" in text_of(mine)


# ----- calendar files ---------------------------------------------------------------


async def test_the_confirmation_attaches_the_calendar_entry(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    alice = standin.add_user("alice")
    sent = await standin.slash(alice, "register", session="workshop")
    body = await standin.wait_answer(sent)
    assert "seat is confirmed" in text_of(body)
    # the answer, with its files, comes in the interaction's callback or its follow-up
    [ics] = [r.files["workshop.ics"] for r in standin.requests if "workshop.ics" in r.files]
    assert b"BEGIN:VEVENT" in ics and b"UID:rise-cities-workshop-20261210@roundtable.invalid" in ics
    assert any((b.get("url") or "").startswith("https://calendar.google.com/") for b in buttons_of(body))


async def test_the_insight_form_speaks_the_readers_language(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    amelie = standin.add_user("amelie")
    amelie.locale = "fr"
    interaction = await standin.slash(amelie, "insight", theme="citizen-participation")
    callback = await standin.wait_for(lambda: standin.callback(interaction))
    modal = callback.json["data"]
    assert modal["title"].startswith("Enseignement : ")
    shown = str(modal["components"])
    assert "Ville (facultatif)" in shown and "Publier anonymement" in shown and "City" not in shown
