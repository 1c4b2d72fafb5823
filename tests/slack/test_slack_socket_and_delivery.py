"""Socket Mode through a local websocket, start-up errors, and the delivery port's failures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bots.slack.adapter import SlackAdapter
from bots.slack.settings import SlackSettings
from shared.app import Roundtable
from shared.errors import AdapterStartError
from shared.identity import Reach, Recipient
from shared.messages import InsightPost, Message
from shared.port import CANNOT_DM_BOT, PLATFORM_ERROR, UNKNOWN_CHANNEL, UNKNOWN_USER, DeliveryError
from tests.slack.conftest import THEME_CHANNEL
from tests.slack.slack_standin import BOT_USER_ID, SlackStandIn

ALICE = "UALICE01"


def changed(settings: SlackSettings, **update: object) -> SlackSettings:
    """The same settings with some changed, validated as the runner would read them."""
    return SlackSettings(_env_file=None, **{**settings.model_dump(), **update})


def recipient(user_id: str, dm_channel: str | None = None) -> Recipient:
    return Recipient("slack", "T0STANDIN", user_id, user_id.lower(), dm_channel)


def post(text: str = "We kept the food bank open.") -> InsightPost:
    return InsightPost(
        1,
        "citizen-participation",
        "Citizen participation",
        text,
        "alice",
        "Paris",
        "slack",
        datetime(2026, 12, 1, tzinfo=UTC),
    )


async def test_socket_mode_slash_command_and_delivery(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    bot = SlackAdapter(sqlite_core, slack_settings)
    assert bot.reach() == []  # nothing is delivered before the connection is up
    await bot.start()
    try:
        assert bot.reach() == [Reach("slack", workspace=standin.team_id)]
        [opened] = standin.calls("apps.connections.open")
        assert "token" not in opened.args  # tokens are never recorded, but the call was made once
        ack = await standin.send_envelope(
            "slash_commands", standin.slash("/register", "workshop", user=ALICE, key="sock")
        )
        assert ack.get("payload") in (None, {})  # an immediate empty ack; the answer follows
        [reply] = await standin.wait_for("response_url", match=lambda r: r.path.endswith("/sock"))
        assert "seat is confirmed" in reply.args["text"]

        # a modal refusal travels back in the ack's payload, as over HTTP
        await standin.send_envelope("slash_commands", standin.slash("/insight", user=ALICE))
        [opened] = await standin.wait_for("views.open")
        empty = standin.submit(
            opened.args["view"], {"text": {"type": "plain_text_input", "value": ""}}, user=ALICE
        )
        refused = await standin.send_envelope("interactive", empty)
        assert refused["payload"]["response_action"] == "errors"
        assert set(refused["payload"]["errors"]) <= {"theme", "text"}

        home_ack = await standin.send_envelope("events_api", standin.home_opened(user=ALICE))
        assert "envelope_id" in home_ack
        await standin.wait_for("views.publish", user_id=ALICE)
    finally:
        await bot.close()
    assert bot.reach() == []


async def test_missing_and_refused_tokens_give_clear_errors(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    with pytest.raises(AdapterStartError, match="SLACK_BOT_TOKEN is not set"):
        SlackAdapter(sqlite_core, changed(slack_settings, bot_token=None))

    wrong_bot = SlackAdapter(sqlite_core, changed(slack_settings, bot_token="xoxb-bad"))
    with pytest.raises(AdapterStartError, match=r"refused SLACK_BOT_TOKEN \(invalid_auth\)"):
        await wrong_bot.start()

    no_app = SlackAdapter(sqlite_core, changed(slack_settings, app_token=None))
    with pytest.raises(AdapterStartError, match="SLACK_APP_TOKEN is not set"):
        await no_app.start()

    wrong_app = SlackAdapter(sqlite_core, changed(slack_settings, app_token="xapp-bad"))
    with pytest.raises(AdapterStartError, match=r"refused SLACK_APP_TOKEN \(invalid_auth\)"):
        await wrong_app.start()
    assert wrong_app.reach() == []

    no_secret = SlackAdapter(sqlite_core, changed(slack_settings, signing_secret=None))
    with pytest.raises(AdapterStartError, match="SLACK_SIGNING_SECRET is not set"):
        await no_secret.start_http("127.0.0.1", 0)

    nowhere = SlackAdapter(sqlite_core, changed(slack_settings, api_url="http://127.0.0.1:9/api"))
    with pytest.raises(AdapterStartError, match="Cannot reach the Slack API"):
        await nowhere.start()


async def test_dm_failures_map_to_reasons(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    bot = SlackAdapter(sqlite_core, slack_settings)
    hello = Message("Your session starts soon.")

    receipt = await bot.send_direct(recipient(ALICE), hello)
    assert receipt.dm_channel == "DALICE01"
    [sent] = standin.calls("chat.postMessage", channel=ALICE)
    assert sent.args["text"] == "Your session starts soon."

    for user_id, reason in (("UNOBODY1", UNKNOWN_USER), (BOT_USER_ID, CANNOT_DM_BOT)):
        with pytest.raises(DeliveryError) as failed:
            await bot.send_direct(recipient(user_id), hello)
        assert failed.value.reason == reason

    standin.fail("chat.postMessage", "fatal_error", channel=ALICE)
    with pytest.raises(DeliveryError) as broken:
        await bot.send_direct(recipient(ALICE), hello)
    assert (broken.value.reason, broken.value.retryable) == (PLATFORM_ERROR, True)

    standin.fail("chat.postMessage", "invalid_blocks", channel=ALICE)
    with pytest.raises(DeliveryError) as refused:
        await bot.send_direct(recipient(ALICE), hello)
    assert (refused.value.reason, refused.value.retryable) == (PLATFORM_ERROR, False)

    # a stale cached DM channel falls back to the user id
    receipt = await bot.send_direct(recipient(ALICE, dm_channel="DGONE0001"), hello)
    assert receipt.dm_channel == "DALICE01"
    assert [r.args["channel"] for r in standin.calls("chat.postMessage")][-2:] == ["DGONE0001", ALICE]


async def test_a_rate_limit_is_rescheduled_not_slept_on_and_slows_the_lane(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    bot = SlackAdapter(sqlite_core, slack_settings)
    standin.rate_limit("chat.postMessage", times=10, retry_after=3)
    with pytest.raises(DeliveryError) as limited:
        await bot.send_direct(recipient(ALICE), Message("hi"))
    assert (limited.value.reason, limited.value.retryable) == (PLATFORM_ERROR, True)
    assert limited.value.retry_after == 3 and limited.value.sent is False
    assert len(standin.calls("chat.postMessage")) == 1  # no sleeping retry inside the send
    assert bot.pacer.rate is not None  # paced from now on, faster again step by step


async def test_insight_posts_join_public_channels_and_report_missing_ones(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    bot = SlackAdapter(sqlite_core, slack_settings)
    await bot.post_insight(THEME_CHANNEL, post())
    [sent] = standin.calls("chat.postMessage", channel=THEME_CHANNEL)
    assert sent.args["unfurl_links"] in (False, 0, "0")

    await bot.post_insight("C0NOTJOINED", post())  # not_in_channel: join, then post
    assert standin.calls("conversations.join", channel="C0NOTJOINED")
    assert [r.status for r in standin.calls("chat.postMessage", channel="C0NOTJOINED")] == [200, 200]

    with pytest.raises(DeliveryError) as missing:
        await bot.post_insight("G0PRIVATE1", post())
    assert missing.value.reason == UNKNOWN_CHANNEL


async def test_start_follows_slack_mode_and_serves_http_on_port(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    import socket

    import aiohttp

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bot = SlackAdapter(sqlite_core, changed(slack_settings, mode="http", port=port))
    await bot.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert (resp.status, await resp.text()) == (200, "ok\nslack: up")
        assert bot.reach() == [Reach("slack", workspace=standin.team_id)]
        assert not standin.calls("apps.connections.open")  # no websocket in HTTP mode

        class Gateway:  # another adapter of the process, whose connection is away
            platform = "discord"

            def health(self) -> str:
                return "reconnecting"

        sqlite_core.adapters = [bot, Gateway()]
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert resp.status == 503
            assert await resp.text() == "unhealthy\nslack: up\ndiscord: reconnecting"
    finally:
        await bot.close()


async def test_a_dropped_socket_is_reported_and_reopened(
    sqlite_core: Roundtable,
    slack_settings: SlackSettings,
    standin: SlackStandIn,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import bots.slack.adapter as slack_adapter
    from tests.support import until

    monkeypatch.setattr(slack_adapter, "WATCH_EVERY", 0.05)
    monkeypatch.setattr(slack_adapter, "RECONNECT_BASE", 0.05)
    bot = SlackAdapter(sqlite_core, slack_settings)
    await bot.start_socket()
    try:
        bot._socket.client.auto_reconnect_enabled = False  # type: ignore[union-attr]  # ours alone
        opened = len(standin.calls("apps.connections.open"))
        for ws in list(standin._sockets):
            await ws.close()
        await until(lambda: bot.health() == "reconnecting", limit=5, what="the drop noticed")
        assert any("Socket Mode connection dropped" in r.getMessage() for r in caplog.records)
        await until(lambda: bot.health() == "up", limit=10, what="the socket back")
        assert len(standin.calls("apps.connections.open")) > opened
    finally:
        await bot.close()


async def test_slack_gives_the_zone_and_the_notification_text_uses_it(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    standin.users[ALICE].tz = "America/Bogota"
    bot = SlackAdapter(sqlite_core, slack_settings)
    await bot.start()
    try:
        await standin.send_envelope("slash_commands", standin.slash("/timezone", "", user=ALICE, key="tz"))
        [shown] = await standin.wait_for("response_url", match=lambda r: r.path.endswith("/tz"))
        assert "America/Bogota, as your app reports it" in shown.args["text"]
        [looked_up, *_] = standin.calls("users.info")
        assert str(looked_up.args.get("include_locale")).lower() in ("true", "1")
        await standin.send_envelope("slash_commands", standin.slash("/schedule", "", user=ALICE, key="sch"))
        [schedule] = await standin.wait_for("response_url", match=lambda r: r.path.endswith("/sch"))
        # the notification text, which Slack shows where it cannot format dates, names her zone
        assert "11:50 America/Bogota (UTC-05:00)" in schedule.args["text"]
    finally:
        await bot.close()


async def test_a_socket_that_stays_down_ends_the_adapter(
    sqlite_core: Roundtable,
    slack_settings: SlackSettings,
    standin: SlackStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    import bots.slack.adapter as slack_adapter
    from shared.errors import AdapterDied

    monkeypatch.setattr(slack_adapter, "WATCH_EVERY", 0.05)
    monkeypatch.setattr(slack_adapter, "RECONNECT_BASE", 0.05)
    bot = SlackAdapter(sqlite_core, slack_settings)
    bot.reconnect_within = 0.3
    await bot.start_socket()
    try:
        bot._socket.client.auto_reconnect_enabled = False  # type: ignore[union-attr]
        standin.fail("apps.connections.open", "internal_error", times=None)
        for ws in list(standin._sockets):
            await ws.close()
        with pytest.raises(AdapterDied):
            await asyncio.wait_for(bot.wait(), 10)
        assert bot.health() == "down"
    finally:
        await bot.close()


async def test_i_cant_come_on_a_slack_reminder_asks_then_promotes_the_waitlist(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn, clock
) -> None:
    import json
    from datetime import timedelta

    bob = "UBOB0001"
    bot = SlackAdapter(sqlite_core, slack_settings)
    await bot.start()
    try:
        for user, key in ((ALICE, "a"), (bob, "b")):  # one seat: bob waits
            await standin.send_envelope(
                "slash_commands", standin.slash("/register", "workshop", user=user, key=key)
            )
            await standin.wait_for("response_url", match=lambda r, k=key: r.path.endswith(f"/{k}"))
        workshop = sqlite_core.program.session("workshop")
        await clock.set(workshop.starts_at - timedelta(days=1) + timedelta(minutes=1))
        await sqlite_core.dispatch_due()
        [reminder] = standin.dms_to(ALICE)
        blocks = reminder.args["blocks"]
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        values = [e.get("value") for b in blocks if b["type"] == "actions" for e in b["elements"]]
        assert "/unregister workshop ask" in values

        await standin.send_envelope(
            "interactive", standin.click("/unregister workshop ask", user=ALICE, key="ask")
        )
        [asked] = await standin.wait_for("response_url", match=lambda r: r.path.endswith("/ask"))
        assert "Give back your seat" in asked.args["text"]
        await standin.send_envelope(
            "interactive", standin.click("/unregister workshop", user=ALICE, key="yes")
        )
        [done] = await standin.wait_for("response_url", match=lambda r: r.path.endswith("/yes"))
        assert "cancelled" in done.args["text"]
        await sqlite_core.dispatch_due()
        assert any("seat opened up" in r.args["text"] for r in standin.dms_to(bob))
    finally:
        await bot.close()


async def test_deliveries_carry_their_row_in_metadata_and_can_be_found_again(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    bot = SlackAdapter(sqlite_core, slack_settings)
    receipt = await bot.send_direct(recipient(ALICE), Message("hi"), key="rt5")
    [sent] = standin.calls("chat.postMessage")
    assert sent.args["metadata"] == {"event_type": "roundtable_delivery", "event_payload": {"row": "rt5"}}
    # before re-sending a row whose fate is unknown: found by its key, with or without a cached channel
    assert await bot.find_sent("rt5", recipient=recipient(ALICE, receipt.dm_channel), channel=None)
    assert await bot.find_sent("rt5", recipient=recipient(ALICE), channel=None)
    assert not await bot.find_sent("rt6", recipient=recipient(ALICE), channel=None)
    assert not await bot.find_sent("rt5", recipient=recipient("UBOB0001"), channel=None)
    [history] = standin.calls("conversations.history")[:1]
    assert history.args["include_all_metadata"] in (True, 1, "1", "true")
    await bot.post_insight(THEME_CHANNEL, post(), key="rt9")
    assert await bot.find_sent("rt9", recipient=None, channel=THEME_CHANNEL)


async def _share_and_post(core: Roundtable, bot: SlackAdapter, standin: SlackStandIn) -> None:
    from shared.identity import Identity

    alice = Identity("slack", standin.team_id, ALICE, "alice")
    assert (await core.share_insight(alice, "citizen-participation", "We kept the food bank open.")).ok
    await core.dispatch_due()
    assert [m["text"] for m in standin.posts_in(THEME_CHANNEL)]  # posted


async def test_forgetme_takes_the_insight_post_down_from_the_channel(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    bot = SlackAdapter(sqlite_core, slack_settings)
    await bot.start()
    try:
        await _share_and_post(sqlite_core, bot, standin)
        await standin.send_envelope(
            "slash_commands", standin.slash("/forgetme", "confirm", user=ALICE, key="gone")
        )
        [reply] = await standin.wait_for("response_url", match=lambda r: r.path.endswith("/gone"))
        assert "taking down the 1 channel post" in reply.args["text"]
        await sqlite_core.dispatch_due()
        [deleted] = standin.calls("chat.delete", channel=THEME_CHANNEL)
        assert deleted.status == 200
        assert standin.posts_in(THEME_CHANNEL) == []  # gone from the channel's history
    finally:
        await bot.close()


async def test_a_post_slack_refuses_to_delete_is_recorded(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    import json

    from sqlalchemy import select

    from shared.store.schema import erasures

    bot = SlackAdapter(sqlite_core, slack_settings)
    await bot.start()
    try:
        await _share_and_post(sqlite_core, bot, standin)
        standin.fail("chat.delete", "cant_delete_message")
        await standin.send_envelope("slash_commands", standin.slash("/forgetme", "confirm", user=ALICE))
        await standin.wait_for("response_url")
        await sqlite_core.dispatch_due()
        assert len(standin.posts_in(THEME_CHANNEL)) == 1  # still there
        async with sqlite_core.db.transaction() as conn:
            records = [json.loads(r.summary) for r in await conn.execute(select(erasures))]
        assert any(
            r.get("channel_posts_left") == {"slack": 1} and r.get("reason") == "cannot_delete"
            for r in records
        )
    finally:
        await bot.close()


async def test_deleting_a_post_maps_slack_answers(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    bot = SlackAdapter(sqlite_core, slack_settings)
    receipt = await bot.post_insight(THEME_CHANNEL, post())
    assert receipt.ref == standin.posts_in(THEME_CHANNEL)[0]["ts"]
    await bot.delete_post(THEME_CHANNEL, receipt.ref)
    await bot.delete_post(THEME_CHANNEL, receipt.ref)  # message_not_found: already gone, fine
    assert standin.posts_in(THEME_CHANNEL) == []
    for code in ("cant_delete_message", "missing_scope", "channel_not_found"):
        standin.fail("chat.delete", code)
        with pytest.raises(DeliveryError) as refused:
            await bot.delete_post(THEME_CHANNEL, "1.000001")
        assert refused.value.reason == "cannot_delete" and not refused.value.retryable
    standin.fail("chat.delete", "internal_error", status=500)
    with pytest.raises(DeliveryError) as later:
        await bot.delete_post(THEME_CHANNEL, "1.000001")
    assert later.value.retryable


async def test_slack_locale_picks_the_language(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    standin.users[ALICE].locale = "es-LA"
    bot = SlackAdapter(sqlite_core, slack_settings)
    await bot.start()
    try:
        await standin.send_envelope("slash_commands", standin.slash("/mysessions", "", user=ALICE, key="es"))
        [mine] = await standin.wait_for("response_url", match=lambda r: r.path.endswith("/es"))
        assert mine.args["text"].startswith("Aún no tiene sesiones")
    finally:
        await bot.close()


async def test_the_calendar_entry_is_uploaded_to_the_dm_and_a_failed_upload_keeps_the_confirmation(
    sqlite_core: Roundtable, slack_settings: SlackSettings, standin: SlackStandIn
) -> None:
    bot = SlackAdapter(sqlite_core, slack_settings)
    await bot.start()
    try:
        await standin.send_envelope(
            "slash_commands", standin.slash("/register", "workshop", user=ALICE, key="r")
        )
        [reply] = await standin.wait_for("response_url", match=lambda r: r.path.endswith("/r"))
        assert "seat is confirmed" in reply.args["text"]
        [upload] = [f for f in standin.uploads.values() if f["channel"]]
        assert upload["filename"] == "workshop.ics" and upload["channel"] == "D" + ALICE[1:]
        assert b"UID:rise-cities-workshop-20261210@roundtable.invalid" in upload["data"]

        # uploads refused: the confirmation still comes, with the calendar link in it
        standin.fail("files.getUploadURLExternal", "not_allowed", times=None)
        await standin.send_envelope(
            "slash_commands", standin.slash("/register", "roundtable", user=ALICE, key="o")
        )
        [followed] = await standin.wait_for("response_url", match=lambda r: r.path.endswith("/o"))
        assert "You are following" in followed.args["text"]
        assert "calendar.google.com" in str(followed.args.get("blocks"))
    finally:
        await bot.close()
