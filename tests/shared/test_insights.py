"""Insights: validation, the rate limit, storage, and publication into theme channels."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.commands import Invocation
from shared.insights import MAX_TEXT
from tests.support import RecordingPort, outbox_rows, person, with_capacity


@pytest.fixture
def program():
    return with_capacity(30, slack="C0123456789", discord="123456789012345678")


async def share(
    core, who="ann", theme="citizen-participation", text="We opened the budget to residents.", **kw
):
    return await core.share_insight(person(who), theme, text, **kw)


async def test_an_insight_is_stored_then_posted_to_every_platform(core):
    slack, discord = RecordingPort(platform="slack"), RecordingPort(platform="discord")
    core.attach(slack)
    core.attach(discord)
    reply = await share(core, city="Medellín")
    assert reply.ok and "Citizen participation" in reply.text and "Slack and Discord" in reply.text
    await core.dispatch_due()
    [(channel, post)] = slack.posts
    assert channel == "C0123456789"
    assert (post.text, post.city, post.author, post.origin) == (
        "We opened the budget to residents.",
        "Medellín",
        "Ann",
        "via Console",
    )
    assert discord.posts[0][0] == "123456789012345678"
    assert {r.state for r in await outbox_rows(core, kind="insight")} == {"sent"}


async def test_an_insight_waits_in_the_queue_for_a_platform_that_is_not_connected(core):
    await share(core)
    slack = RecordingPort(platform="slack")
    core.attach(slack)
    await core.dispatch_due()
    rows = {r.platform: r.state for r in await outbox_rows(core, kind="insight")}
    assert rows == {"slack": "sent", "discord": "pending"}


async def test_anonymous_insights_carry_no_author(core):
    await share(core, anonymous=True)
    listing = await core.handle(Invocation(person("ben"), "insights", {}))
    assert listing.fields[0].name == "Citizen participation · anonymous · via Console"


@pytest.mark.parametrize(
    ("theme", "text", "city", "field", "words"),
    [
        ("parks", "text", None, "theme", "There is no theme called `parks`"),
        ("", "text", None, "theme", "Which theme?"),
        ("decision-making", "   \n\t ", None, "text", "Your insight is empty"),
        ("decision-making", "\u200b\u200b", None, "text", "Your insight is empty"),
        (
            "decision-making",
            "x" * (MAX_TEXT + 1),
            None,
            "text",
            f"{MAX_TEXT} characters; yours has {MAX_TEXT + 1}",
        ),
        ("decision-making", "fine", "y" * 81, "city", "keep the city to 80"),
    ],
)
async def test_bad_insights_are_refused_with_a_reason(core, theme, text, city, field, words):
    reply = await core.share_insight(person("ann"), theme, text, city)
    assert not reply.ok and reply.ephemeral
    assert reply.error_field == field
    assert words in reply.text
    assert await outbox_rows(core, kind="insight") == []


async def test_people_text_is_kept_as_plain_text(core):
    text = "Thanks @everyone <@&123> <!here> **bold** <t:0:F> ⟦time:0:full⟧\x07"
    await share(core, text=text)
    listing = await core.handle(Invocation(person("ben"), "insights", {"theme": "citizen-participation"}))
    field = listing.fields[0]
    # stored as typed (control characters dropped) and flagged for plain rendering
    assert field.value == "Thanks @everyone <@&123> <!here> **bold** <t:0:F> ⟦time:0:full⟧"
    assert field.verbatim


async def test_the_rate_limit_says_when_to_come_back(core, clock):
    for i in range(core.settings.insight_rate_limit):
        assert (await share(core, text=f"lesson {i}")).ok
        await clock.advance(timedelta(minutes=1))
    refused = await share(core, text="one more")
    assert not refused.ok
    first = clock.now() - timedelta(minutes=core.settings.insight_rate_limit)
    retry_at = first + core.settings.insight_rate_window
    assert f"⟦time:{int(retry_at.timestamp())}:relative⟧" in refused.text
    assert (await share(core, who="ben", text="someone else")).ok  # per person
    await clock.set(retry_at + timedelta(seconds=1))
    assert (await share(core, text="later")).ok


async def test_insights_are_listed_newest_first_by_theme(core, clock):
    await share(core, theme="decision-making", text="first")
    await clock.advance(timedelta(minutes=1))
    await share(core, who="ben", theme="citizen-participation", text="second")
    await clock.advance(timedelta(minutes=1))
    await share(core, who="cid", theme="decision-making", text="third")
    everything = await core.handle(Invocation(person("x"), "insights", {}))
    assert [f.value for f in everything.fields] == ["third", "second", "first"]
    one = await core.handle(Invocation(person("x"), "insights", {"theme": "decision-making"}))
    assert [f.value for f in one.fields] == ["third", "first"]
    unknown = await core.handle(Invocation(person("x"), "insights", {"theme": "nope"}))
    assert not unknown.ok
