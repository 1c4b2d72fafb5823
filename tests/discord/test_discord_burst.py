"""Discord under a burst: deferred at once, busy past the queue's bound, one answer per double click."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bots.discord.adapter import DiscordAdapter
from shared.app import Roundtable
from tests.discord.discord_standin import DiscordStandin
from tests.discord.test_discord_adapter import EPHEMERAL, text_of


def hold_the_core(core: Roundtable, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    gate = asyncio.Event()
    handle = core.handle

    async def held(inv: Any) -> Any:
        await gate.wait()
        return await handle(inv)

    monkeypatch.setattr(core, "handle", held)
    return gate


async def test_every_command_is_deferred_before_the_core_answers(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = hold_the_core(discord_core, monkeypatch)
    alice = standin.add_user("alice")
    interaction = await standin.slash(alice, "mysessions")
    await standin.wait_for(lambda: standin.callback(interaction))
    assert standin.callback(interaction).json == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert not standin.answers(interaction)  # the core is still held: deferred, not answered
    gate.set()
    assert "no sessions yet" in text_of(await standin.wait_answer(interaction))


async def test_past_the_queue_bound_the_answer_is_busy_at_once(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = hold_the_core(discord_core, monkeypatch)
    monkeypatch.setattr(discord_core.work, "bound", 1)
    monkeypatch.setattr(discord_core.work, "workers", 1)
    people = [standin.add_user(f"p{n}") for n in range(3)]
    sent = []
    for person in people:  # one by one: the first runs, the second waits, the third is refused
        sent.append(await standin.slash(person, "mysessions"))
        await standin.wait_for(lambda i=sent[-1]: standin.callback(i))
    busy = standin.callback(sent[2]).json
    assert busy["type"] == 4 and "try again" in text_of(busy["data"]) and busy["data"]["flags"] & EPHEMERAL
    gate.set()
    for interaction in sent[:2]:
        assert "no sessions yet" in text_of(await standin.wait_answer(interaction))


async def test_a_double_click_is_answered_once(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = hold_the_core(discord_core, monkeypatch)
    alice = standin.add_user("alice")
    first = await standin.click(alice, "rt:/register workshop", in_dm=True)
    await standin.wait_for(lambda: standin.callback(first))
    second = await standin.click(alice, "rt:/register workshop", in_dm=True)
    await standin.wait_for(lambda: standin.callback(second))
    assert standin.callback(second).json["type"] == 6  # acknowledged, nothing shown
    gate.set()
    assert "workshop" in text_of(await standin.wait_answer(first)).lower()
    await asyncio.sleep(0.3)
    assert len(standin.answers(first)) == 1 and not standin.answers(second)
