"""The stand-in itself: the real slack_sdk client against it, and the signing helper."""

from __future__ import annotations

import json
import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.slack.slack_standin import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, TEAM_ID, SlackStandIn, sign


def client(standin: SlackStandIn, token: str = BOT_TOKEN) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=standin.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )


async def test_records_form_json_and_query_arguments(standin: SlackStandIn) -> None:
    standin.add_user("U1", "alice")
    web = client(standin)
    assert (await web.auth_test())["team_id"] == TEAM_ID
    await web.chat_postMessage(
        channel="U1", text="hi", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]
    )
    await web.users_info(user="U1")  # slack_sdk sends this one as a GET with a query string

    [post] = standin.calls("chat.postMessage")
    assert post.args["channel"] == "U1" and post.args["text"] == "hi"
    assert post.args["blocks"][0]["text"]["text"] == "x"
    [info] = standin.calls("users.info")
    assert info.args == {"user": "U1"}
    assert [r.method for r in standin.requests] == ["auth.test", "chat.postMessage", "users.info"]


async def test_rejects_wrong_tokens(standin: SlackStandIn) -> None:
    with pytest.raises(SlackApiError) as bad:
        await client(standin, "xoxb-wrong").auth_test()
    assert bad.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as wrong_kind:
        await client(standin).apps_connections_open(app_token=BOT_TOKEN)
    assert wrong_kind.value.response["error"] == "not_allowed_token_type"
    opened = await client(standin).apps_connections_open(app_token=APP_TOKEN)
    assert opened["url"].startswith("ws://127.0.0.1:")


async def test_injected_errors_and_dm_rules(standin: SlackStandIn) -> None:
    standin.add_user("U1", "alice")
    web = client(standin)
    standin.fail("chat.postMessage", "channel_not_found", channel="U1")
    with pytest.raises(SlackApiError) as once:
        await web.chat_postMessage(channel="U1", text="a")
    assert once.value.response["error"] == "channel_not_found"
    assert (await web.chat_postMessage(channel="U1", text="b"))["channel"] == "D1"
    with pytest.raises(SlackApiError) as bot:
        await web.chat_postMessage(channel="UBOTSTANDIN", text="c")
    assert bot.value.response["error"] == "cannot_dm_bot"
    with pytest.raises(SlackApiError) as gone:
        await web.chat_postMessage(channel="UNOBODY", text="d")
    assert gone.value.response["error"] == "user_not_found"


async def test_429_is_retried_after_retry_after(standin: SlackStandIn) -> None:
    standin.add_user("U1", "alice")
    standin.rate_limit("chat.postMessage", retry_after=1)
    await client(standin).chat_postMessage(channel="U1", text="hi")
    first, second = standin.calls("chat.postMessage")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0


def test_signing_helper_matches_slack_sdk() -> None:
    body = "command=%2Fschedule&text="
    now = int(time.time())
    headers = sign(SIGNING_SECRET, body, now)
    verifier = SignatureVerifier(SIGNING_SECRET)
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert not verifier.is_valid(
        body + "x", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    stale = sign(SIGNING_SECRET, body, now - 600)
    assert not verifier.is_valid(body, stale["X-Slack-Request-Timestamp"], stale["X-Slack-Signature"])


async def test_payload_builders_look_like_slack(standin: SlackStandIn) -> None:
    view = {"type": "modal", "blocks": [{"type": "input", "block_id": "text", "element": {"action_id": "v"}}]}
    sub = standin.submit(view, {"text": {"type": "plain_text_input", "value": "hello"}}, user="U1")
    assert sub["view"]["state"]["values"] == {"text": {"v": {"type": "plain_text_input", "value": "hello"}}}
    assert json.loads(json.dumps(standin.click("/register workshop", user="U1")))["actions"][0]["value"]
