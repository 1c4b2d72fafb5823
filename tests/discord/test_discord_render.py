"""Rendering of neutral messages into Discord payloads (no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import discord

from bots.discord.render import (
    CHOICES_MAX,
    command_payloads,
    insight_embed,
    invite_url,
    plain,
    render,
    search_choices,
)
from shared.messages import Button, Field, InsightPost, Message, moment


def test_plain_defuses_markdown_mentions_and_markup() -> None:
    shown = plain("@everyone <@&123456789012345678> <#42> <t:0:R> **x** `y`")
    assert "@everyone" not in shown and "<@&" not in shown and "<#" not in shown and "<t:" not in shown
    assert "\\*\\*x\\*\\*" in shown and "\\`y\\`" in shown


def test_core_time_markers_become_discord_timestamps_and_verbatim_fields_are_escaped() -> None:
    at = datetime.fromtimestamp(1796921400, UTC)
    message = Message(
        text=f"Starts {moment(at, 'full')} ({moment(at, 'relative')})",
        fields=(Field("Session", "**bold by the core**"), Field("Said", "<@1> **hi**", verbatim=True)),
    )
    kwargs = render(message)
    embed = kwargs["embeds"][0]
    assert embed.description == "Starts <t:1796921400:F> (<t:1796921400:R>)"
    assert embed.fields[0].value == "**bold by the core**"
    assert "<@1>" not in embed.fields[1].value and "\\*\\*hi\\*\\*" in embed.fields[1].value
    assert kwargs["allowed_mentions"].to_dict() == {"parse": []}


def test_short_text_is_content_and_buttons_are_actions_or_links() -> None:
    kwargs = render(
        Message(
            text="Confirmed.",
            buttons=(
                Button("Cancel", "/unregister workshop", style="danger"),
                Button("Join", url="https://x.test/j"),
            ),
        )
    )
    assert kwargs["content"] == "Confirmed." and "embeds" not in kwargs
    row = kwargs["view"].to_components()[0]["components"]
    assert row[0]["custom_id"] == "rt:/unregister workshop" and row[0]["style"] == 4
    assert row[1]["url"] == "https://x.test/j" and "custom_id" not in row[1]


def test_many_fields_are_split_into_embeds_within_discord_limits() -> None:
    fields = tuple(Field(f"Person {i}", "x" * 50) for i in range(60))
    embeds = render(Message(text="Roster", fields=fields))["embeds"]
    assert len(embeds) == 3 and all(len(e.fields) <= 25 for e in embeds)
    assert sum(len(e) for e in embeds) <= 6000


def test_insight_embed_names_author_city_and_platform() -> None:
    post = InsightPost(
        7, "t", "Theme *one*", "text @here", None, "Gent", "slack", datetime(2026, 1, 1, tzinfo=UTC)
    )
    embed = insight_embed(post)
    fields = {f.name: f.value for f in embed.fields}
    assert fields == {"Shared by": "anonymous", "City": "Gent", "Platform": "via Slack"}
    assert "@here" not in (embed.description or "") and embed.title == "Theme \\*one\\*"


def test_long_programs_use_autocomplete_instead_of_choices() -> None:
    themes = [SimpleNamespace(id=f"theme-{i}", name=f"Theme {i}") for i in range(CHOICES_MAX + 5)]
    program = SimpleNamespace(sessions=[SimpleNamespace(id="a", title="A")], themes=themes)
    payloads = {p["name"]: p for p in command_payloads(program)}  # type: ignore[arg-type]
    theme = payloads["insight"]["options"][0]
    assert theme["autocomplete"] is True and "choices" not in theme
    assert payloads["register"]["options"][0]["choices"] == [{"name": "A", "value": "a"}]
    hits = search_choices([{"name": t.name, "value": t.id} for t in themes], "theme 2")
    assert [c.value for c in hits][:2] == ["theme-2", "theme-20"] and len(hits) <= CHOICES_MAX


def test_global_commands_say_where_they_may_be_used() -> None:
    program = SimpleNamespace(sessions=[SimpleNamespace(id="a", title="A")], themes=[])
    guild = {p["name"]: p for p in command_payloads(program)}  # type: ignore[arg-type]
    assert "contexts" not in guild["register"]
    everywhere = {p["name"]: p for p in command_payloads(program, global_scope=True)}  # type: ignore[arg-type]
    assert everywhere["register"]["contexts"] == [0, 1] and everywhere["roster"]["contexts"] == [0]


def test_invite_url_asks_for_what_the_bot_needs() -> None:
    url = invite_url(123)
    assert "client_id=123" in url and "scope=bot+applications.commands" in url
    perms = discord.Permissions(int(url.split("permissions=")[1].split("&")[0]))
    assert perms.send_messages and perms.embed_links and perms.view_channel and not perms.administrator
    assert perms.create_events and perms.attach_files
