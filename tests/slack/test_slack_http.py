"""The Slack adapter in HTTP mode: the real slack-bolt app, signed requests, the local Slack."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import timedelta
from typing import Any

from bots.slack.adapter import SlackAdapter
from shared.app import Roundtable
from shared.commands import Invocation
from shared.identity import Identity
from tests.slack.conftest import ADMIN_ID, THEME_CHANNEL
from tests.slack.slack_standin import SlackStandIn, post_signed

ALICE, BOB, CAROL = "UALICE01", "UBOB0001", "UCAROL01"
# a mention, a channel link, a user link or a date token: what people's text must never produce
MARKUP = re.compile(r"<[!@#]")


async def slash(
    bot: SlackAdapter, standin: SlackStandIn, command: str, text: str = "", *, user: str, key: str = ""
) -> dict[str, Any]:
    """Run a slash command as Slack would; return the reply posted to its response URL."""
    key = key or f"{command.strip('/')}-{user}-{time.monotonic_ns()}"
    status, body = await post_signed(
        bot.events_url, "slash_commands", standin.slash(command, text, user=user, key=key)
    )
    assert (status, body) == (200, "")
    [reply] = await standin.wait_for("response_url", match=lambda r: r.path.endswith(f"/{key}"))
    return reply.args


async def click(bot: SlackAdapter, standin: SlackStandIn, value: str, *, user: str) -> dict[str, Any]:
    key = f"click-{time.monotonic_ns()}"
    status, _ = await post_signed(bot.events_url, "interactive", standin.click(value, user=user, key=key))
    assert status == 200
    [reply] = await standin.wait_for("response_url", match=lambda r: r.path.endswith(f"/{key}"))
    return reply.args


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every mrkdwn/plain text in some blocks, joined."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(found)


def button_values(blocks: list[dict[str, Any]]) -> list[str]:
    return [e.get("value", "") for b in blocks if b["type"] == "actions" for e in b["elements"]]


async def test_schedule_uses_slack_dates_and_offers_register_buttons(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable
) -> None:
    reply = await slash(http_bot, standin, "/schedule", user=ALICE)
    assert reply["response_type"] == "ephemeral"
    workshop = sqlite_core.program.session("workshop")
    assert workshop is not None
    unix = int(workshop.starts_at.timestamp())
    assert f"<!date^{unix}^{{date_short_pretty}} {{time}}|" in texts(reply["blocks"])
    shown = json.dumps(reply, ensure_ascii=False)
    assert "⟦time:" not in shown and "<t:" not in shown  # no core time marker leaks through
    assert "/register workshop" in button_values(reply["blocks"])


async def test_register_waitlist_and_promotion_dm(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable
) -> None:
    first = await slash(http_bot, standin, "/register", "workshop", user=ALICE)
    assert "confirmed" in texts(first["blocks"])
    second = await slash(http_bot, standin, "/register", "workshop", user=BOB)
    assert "#1 on the waitlist" in texts(second["blocks"])
    assert "/unregister workshop" in button_values(second["blocks"])

    gone = await slash(http_bot, standin, "/unregister", "workshop", user=ALICE)
    assert "cancelled" in texts(gone["blocks"])
    await sqlite_core.dispatch_due()
    [dm] = await standin.wait_for("chat.postMessage", channel=BOB)
    assert "seat" in dm.args["text"].lower()
    mine = await slash(http_bot, standin, "/mysessions", user=BOB)
    assert "seat confirmed" in texts(mine["blocks"])
    assert not standin.calls("chat.postMessage", channel=ALICE)


async def test_register_without_session_offers_a_picker_whose_buttons_work(
    http_bot: SlackAdapter, standin: SlackStandIn
) -> None:
    picker = await slash(http_bot, standin, "/register", user=ALICE)
    assert set(button_values(picker["blocks"])) == {"/register roundtable", "/register workshop"}
    clicked = await click(http_bot, standin, "/register workshop", user=ALICE)
    assert clicked["response_type"] == "ephemeral"
    assert "seat is confirmed" in texts(clicked["blocks"])


async def test_unknown_session_gets_a_polite_ephemeral_answer(
    http_bot: SlackAdapter, standin: SlackStandIn
) -> None:
    reply = await slash(http_bot, standin, "/register", "nonsense", user=ALICE)
    assert reply["response_type"] == "ephemeral"
    assert "workshop" in texts(reply["blocks"])  # the refusal names the sessions that exist
    extra = await slash(http_bot, standin, "/unregister", "workshop and more", user=ALICE)
    assert "fewer words" in texts(extra["blocks"])


async def test_slow_work_runs_after_the_ack(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable, monkeypatch
) -> None:
    release = asyncio.Event()
    handle = sqlite_core.handle

    async def slow(inv: Invocation):
        await release.wait()
        return await handle(inv)

    monkeypatch.setattr(sqlite_core, "handle", slow)
    started = time.monotonic()
    status, body = await post_signed(
        http_bot.events_url, "slash_commands", standin.slash("/schedule", user=ALICE, key="slow")
    )
    assert (status, body) == (200, "")
    assert time.monotonic() - started < 3
    assert not standin.responses("slow")
    release.set()
    await standin.wait_for("response_url", match=lambda r: r.path.endswith("/slow"))


async def test_bad_and_stale_signatures_get_401_and_store_nothing(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable
) -> None:
    payload = standin.slash("/register", "workshop", user=ALICE)
    assert (await post_signed(http_bot.events_url, "slash_commands", payload, secret="not-the-secret"))[
        0
    ] == 401
    assert (await post_signed(http_bot.events_url, "slash_commands", payload, tamper=True))[0] == 401
    stale = int(time.time()) - 10 * 60
    assert (await post_signed(http_bot.events_url, "slash_commands", payload, timestamp=stale))[0] == 401
    await standin.quiet()
    assert not standin.calls("response_url")
    mine = await sqlite_core.handle(
        Invocation(Identity("slack", standin.team_id, ALICE, "alice"), "mysessions")
    )
    assert "no sessions" in mine.text


async def test_insight_modal_validation_errors_then_post(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable
) -> None:
    status, _ = await post_signed(
        http_bot.events_url, "slash_commands", standin.slash("/insight", user=ALICE, key="modal")
    )
    assert status == 200
    [opened] = await standin.wait_for("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "rt_insight"
    assert [b["block_id"] for b in view["blocks"]] == ["theme", "text", "city", "anonymous"]

    theme = {"type": "static_select", "selected_option": {"value": "citizen-participation"}}
    empty = standin.submit(
        view, {"theme": theme, "text": {"type": "plain_text_input", "value": "   "}}, user=ALICE
    )
    status, body = await post_signed(http_bot.events_url, "interactive", empty)
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["text"]

    no_theme = standin.submit(view, {"text": {"type": "plain_text_input", "value": "Lesson"}}, user=ALICE)
    answer = json.loads((await post_signed(http_bot.events_url, "interactive", no_theme))[1])
    assert list(answer["errors"]) == ["theme"]
    await sqlite_core.dispatch_due()
    assert not standin.calls("chat.postMessage")  # refused forms publish nothing

    good = standin.submit(
        view,
        {
            "theme": theme,
            "text": {"type": "plain_text_input", "value": "Neighbourhood groups kept going."},
            "city": {"type": "plain_text_input", "value": "Medellín"},
            "anonymous": {"type": "checkboxes", "selected_options": [{"value": "anonymous"}]},
        },
        user=ALICE,
    )
    status, body = await post_signed(http_bot.events_url, "interactive", good)
    assert (status, body) == (200, "")  # an empty ack closes the modal
    [thanks] = await standin.wait_for("response_url", match=lambda r: r.path.endswith("/modal"))
    assert "Thank you" in thanks.args["text"]
    await sqlite_core.dispatch_due()
    [post] = await standin.wait_for("chat.postMessage", channel=THEME_CHANNEL)
    shown = texts(post.args["blocks"])
    assert "Neighbourhood groups kept going." in shown and "Medellín" in shown
    assert "anonymous" in shown and "alice" not in shown.lower()


async def test_people_text_cannot_mention_anyone(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable
) -> None:
    attack = (
        "<!channel> <!here> <!everyone> <@UALICE01> <#C0GENERAL> <!date^1^{date}|x> & <https://x|y> "
        "⟦time:1:full⟧"
    )
    # Slack sends typed text escaped; a raw copy checks we do not rely on that
    for text in (attack.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), attack):
        reply = await slash(http_bot, standin, "/insight", f"citizen-participation {text}", user=BOB)
        assert "Thank you" in texts(reply["blocks"])
    await sqlite_core.dispatch_due()
    posts = await standin.wait_for("chat.postMessage", 2, channel=THEME_CHANNEL)
    for post in posts:
        for shown in (texts(post.args["blocks"]), post.args["text"]):
            assert not MARKUP.search(shown), shown
            assert "&lt;!channel&gt;" in shown and "&amp;" in shown
        assert post.args.get("link_names") in (None, False, 0, "0")
    listing = await slash(http_bot, standin, "/insights", "citizen-participation", user=CAROL)
    assert not MARKUP.search(texts(listing["blocks"]).replace("<!date^", ""))


async def test_organizer_commands(http_bot: SlackAdapter, standin: SlackStandIn) -> None:
    refused = await slash(http_bot, standin, "/roster", "workshop", user=ALICE)
    assert "organizers" in texts(refused["blocks"])
    assert standin.calls("users.info", user=ALICE)  # asked Slack whether alice is an admin

    await slash(http_bot, standin, "/register", "workshop", user=BOB)
    standin.fail("users.info", "fatal_error", times=None, user=ADMIN_ID)
    listed = await slash(http_bot, standin, "/roster", "workshop", user=ADMIN_ID)
    assert "1. Bob (Slack)" in texts(listed["blocks"])  # SLACK_ADMIN_IDS needs no lookup

    standin.add_user("UOWNER01", "owner", is_owner=True)
    owned = await slash(http_bot, standin, "/roster", "workshop", user="UOWNER01")
    assert "Roster of" in texts(owned["blocks"])

    standin.fail("users.info", "fatal_error", times=None, user=CAROL)
    unknown = await slash(http_bot, standin, "/announce", "workshop Doors open!", user=CAROL)
    assert "organizers" in texts(unknown["blocks"])  # a failed lookup grants nothing


async def test_app_home_lists_registrations_and_its_buttons_work(
    http_bot: SlackAdapter, standin: SlackStandIn
) -> None:
    await slash(http_bot, standin, "/register", "workshop", user=ALICE)
    status, _ = await post_signed(http_bot.events_url, "events", standin.home_opened(user=ALICE))
    assert status == 200
    [home] = await standin.wait_for("views.publish", user_id=ALICE)
    view = home.args["view"]
    assert view["type"] == "home"
    assert "seat confirmed" in texts(view["blocks"])
    assert "/register roundtable" in button_values(view["blocks"])

    payload = standin.click("/register roundtable", user=ALICE, home=True)
    assert (await post_signed(http_bot.events_url, "interactive", payload))[0] == 200
    _, again = await standin.wait_for("views.publish", 2, user_id=ALICE)
    assert "You are following" in texts(again.args["view"]["blocks"])
    assert "following" in texts(again.args["view"]["blocks"])


async def test_rate_limited_dm_is_retried_after_retry_after(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable, clock
) -> None:
    await slash(http_bot, standin, "/register", "workshop", user=ALICE)
    await slash(http_bot, standin, "/register", "workshop", user=BOB)
    standin.rate_limit("chat.postMessage", retry_after=1, channel=BOB)
    await slash(http_bot, standin, "/unregister", "workshop", user=ALICE)
    await sqlite_core.dispatch_due()  # the 429: back in the queue, due after Retry-After
    await asyncio.sleep(1.1)
    await sqlite_core.dispatch_due()
    assert len(standin.calls("chat.postMessage", channel=BOB)) == 1  # not due yet on the core's clock
    await clock.advance(timedelta(seconds=1))
    await sqlite_core.dispatch_due()
    limited, delivered = await standin.wait_for("chat.postMessage", 2, channel=BOB)
    assert (limited.status, delivered.status) == (429, 200)
    assert delivered.at - limited.at >= 1.0


async def test_names_come_from_the_profile_and_are_escaped_too(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable
) -> None:
    standin.add_user("UDANA001", "dana", display="Dana <!here>")
    reply = await slash(http_bot, standin, "/insight", "citizen-participation Lesson one", user="UDANA001")
    assert "as Dana <!here>" not in texts(reply["blocks"])  # the core's text is escaped as well
    await sqlite_core.dispatch_due()
    [post] = await standin.wait_for("chat.postMessage", channel=THEME_CHANNEL)
    assert "Dana &lt;!here&gt;" in texts(post.args["blocks"])
    assert not MARKUP.search(texts(post.args["blocks"]))


async def test_url_verification_challenge(http_bot: SlackAdapter, standin: SlackStandIn) -> None:
    status, body = await post_signed(
        http_bot.events_url, "events", {"type": "url_verification", "challenge": "c-123", "token": "x"}
    )
    assert status == 200 and "c-123" in body


async def test_ssl_check_is_answered(http_bot: SlackAdapter, standin: SlackStandIn) -> None:
    status, body = await post_signed(http_bot.events_url, "slash_commands", {"ssl_check": "1", "token": "x"})
    assert (status, body) == (200, "")
    assert not standin.calls("response_url")


async def test_a_command_whose_text_says_payload_is_answered(
    http_bot: SlackAdapter, standin: SlackStandIn
) -> None:
    # bolt's own form parser returns an empty body for any form with "payload" in it; the
    # listeners get the gate's parse instead
    reply = await slash(http_bot, standin, "/register", "payload", user=ALICE)
    assert reply["response_type"] == "ephemeral"
    assert "workshop" in texts(reply["blocks"])  # the refusal of an unknown session


async def test_every_command_reaches_the_one_command_listener(
    http_bot: SlackAdapter, standin: SlackStandIn
) -> None:
    # one listener serves every command: the first and the last listed both get their answer
    first = await slash(http_bot, standin, "/schedule", user=ALICE)
    last = await slash(http_bot, standin, "/help", user=ALICE)
    assert "/register workshop" in button_values(first["blocks"])
    assert "/register" in texts(last["blocks"])


async def test_a_dm_that_cannot_be_delivered_is_recorded_with_its_reason(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable
) -> None:
    from sqlalchemy import select

    from shared.store.schema import outbox

    await slash(http_bot, standin, "/register", "workshop", user=ALICE)
    await slash(http_bot, standin, "/register", "workshop", user=BOB)
    standin.users[BOB].deleted = True  # bob left the workspace while waiting
    await slash(http_bot, standin, "/unregister", "workshop", user=ALICE)
    await sqlite_core.dispatch_due()
    await standin.wait_for("chat.postMessage", channel=BOB)
    async with sqlite_core.db.transaction() as conn:
        rows = (await conn.execute(select(outbox).where(outbox.c.recipient == BOB))).fetchall()
    promotion = [r for r in rows if r.kind == "promotion"]
    assert [(r.state, r.reason) for r in promotion] == [("failed", "unknown_user")]


async def test_mydata_is_a_file_in_the_dm_with_the_bot(http_bot: SlackAdapter, standin: SlackStandIn) -> None:
    import json

    nothing = await slash(http_bot, standin, "/mydata", user=ALICE)
    assert "I keep no data about you" in texts(nothing["blocks"])
    assert standin.uploads == {}
    await slash(http_bot, standin, "/register", "workshop", user=ALICE)
    reply = await slash(http_bot, standin, "/mydata", user=ALICE)
    assert reply["response_type"] == "ephemeral"
    assert "1 account, 1 registration" in texts(reply["blocks"])
    # the registration's calendar entry came first; then the data, as JSON
    (upload,) = [u for u in standin.uploads.values() if u["filename"].endswith(".json")]
    assert upload["channel"] == "D" + ALICE[1:]  # the person's DM, never the channel typed in
    assert upload["filename"].startswith("roundtable-mydata-")
    assert json.loads(upload["data"])["accounts"][0]["user_id"] == ALICE


async def test_a_failed_upload_is_said_plainly(http_bot: SlackAdapter, standin: SlackStandIn) -> None:
    await slash(http_bot, standin, "/register", "workshop", user=ALICE)
    standin.fail("files.getUploadURLExternal", "not_allowed_token_type")
    reply = await slash(http_bot, standin, "/mydata", user=ALICE)
    assert "could not send you the file" in texts(reply["blocks"])


async def test_forgetme_button_erases_and_a_second_time_finds_nothing(
    http_bot: SlackAdapter, standin: SlackStandIn
) -> None:
    await slash(http_bot, standin, "/register", "workshop", user=ALICE)
    ask = await slash(http_bot, standin, "/forgetme", user=ALICE)
    assert button_values(ask["blocks"]) == ["/forgetme confirm"]
    done = await click(http_bot, standin, "/forgetme confirm", user=ALICE)
    assert "Done: I erased 1 account, 1 registration" in texts(done["blocks"])
    again = await slash(http_bot, standin, "/forgetme", user=ALICE)
    assert "nothing to erase" in texts(again["blocks"])


async def test_a_form_that_would_not_open_is_explained_in_the_readers_language(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable
) -> None:
    await sqlite_core.handle(
        Invocation(Identity("slack", standin.team_id, ALICE, "alice"), "language", {"language": "fr"})
    )
    standin.fail("views.open", "expired_trigger_id")
    reply = await slash(http_bot, standin, "/insight", user=ALICE)
    assert "Je n'ai pas pu ouvrir le formulaire" in json.dumps(reply, ensure_ascii=False)
