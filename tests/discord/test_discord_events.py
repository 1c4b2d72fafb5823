"""The program in the server's Events tab: created once, updated, deleted; ids kept across restarts."""

from __future__ import annotations

import logging

import pytest

from bots.discord.adapter import DiscordAdapter
from bots.discord.events import payload
from shared.app import Roundtable
from tests.discord.discord_standin import DiscordStandin
from tests.support import discord_settings

EVENTS = r"/guilds/\d+/scheduled-events"


async def _restart(standin: DiscordStandin, core: Roundtable) -> None:
    adapter = DiscordAdapter(core, discord_settings(standin), guild_ready_timeout=0.05)
    await adapter.start()
    await adapter.close()


async def test_each_upcoming_session_becomes_one_external_event(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    events = {e["name"]: e for e in standin.scheduled_events.values()}
    assert len(events) == len(discord_core.program.sessions)
    for session in discord_core.program.sessions:
        event = events[session.title]
        assert event["entity_type"] == 3 and event["privacy_level"] == 2
        assert event["scheduled_start_time"] == session.starts_at.isoformat()
        assert event["scheduled_end_time"] == session.ends_at.isoformat()
        expected = session.join if not session.capped else "Register with /register"
        assert event["entity_metadata"]["location"] == expected


async def test_a_restart_creates_no_duplicates_and_a_change_is_an_update(
    standin: DiscordStandin, discord_core: Roundtable
) -> None:
    await _restart(standin, discord_core)
    created = len(standin.find("POST", EVENTS))
    assert created == len(discord_core.program.sessions)
    await _restart(standin, discord_core)
    assert len(standin.find("POST", EVENTS)) == created  # ids are stored: nothing new
    assert standin.find("PATCH", EVENTS + r"/\d+") == []

    workshop = discord_core.program.session("workshop")
    renamed = workshop.model_copy(update={"title": "Workshop (room 2)"})
    renamed._zone = workshop._zone
    discord_core.program = discord_core.program.model_copy(
        update={"sessions": [renamed if s.id == "workshop" else s for s in discord_core.program.sessions]}
    )
    await _restart(standin, discord_core)
    [patch] = standin.find("PATCH", EVENTS + r"/\d+")
    assert patch.json["name"] == "Workshop (room 2)"
    assert len(standin.scheduled_events) == created

    # a session that leaves the program leaves the Events tab
    discord_core.program = discord_core.program.model_copy(
        update={"sessions": [s for s in discord_core.program.sessions if s.id != "workshop"]}
    )
    await _restart(standin, discord_core)
    assert [e["name"] for e in standin.scheduled_events.values()] == [
        s.title for s in discord_core.program.sessions
    ]


async def test_without_create_events_the_log_says_so_and_the_bot_still_serves(
    standin: DiscordStandin, discord_core: Roundtable, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bots.discord")
    standin.fail_next("POST", EVENTS, 403, {"message": "Missing Permissions", "code": 50013})
    adapter = DiscordAdapter(discord_core, discord_settings(standin), guild_ready_timeout=0.05)
    await adapter.start()
    try:
        assert "lacks the Create Events permission" in caplog.text
        alice = standin.add_user("alice")
        body = await standin.wait_answer(await standin.slash(alice, "schedule"))
        assert body
    finally:
        await adapter.close()


async def test_a_cancelled_session_leaves_the_events_tab(
    standin: DiscordStandin, discord_core: Roundtable
) -> None:
    await _restart(standin, discord_core)
    assert len(standin.scheduled_events) == len(discord_core.program.sessions)
    discord_core.program = discord_core.program.model_copy(
        update={
            "sessions": [
                s.model_copy(update={"cancelled": True}) if s.id == "workshop" else s
                for s in discord_core.program.sessions
            ]
        }
    )
    await _restart(standin, discord_core)
    assert len(standin.find("DELETE", EVENTS + r"/\d+")) == 1
    names = [e["name"] for e in standin.scheduled_events.values()]
    assert names == [s.title for s in discord_core.program.sessions if s.id != "workshop"]
    await _restart(standin, discord_core)  # and it is not created again
    assert len(standin.scheduled_events) == len(names)


def test_the_event_speaks_the_programs_language(discord_core: Roundtable) -> None:
    """Everyone in the server sees one event: its words are in the program's language."""
    workshop = discord_core.program.session("workshop")
    assert workshop is not None
    assert payload(workshop, "RISE")["entity_metadata"]["location"] == "Register with /register"
    assert payload(workshop, "RISE", "fr")["entity_metadata"]["location"] == "Inscription avec /register"
