"""The adapter contract: the same scenarios, through the real adapter, on every platform.

Each scenario drives one platform as people would (slash commands, the console's typed
lines) and asserts on what the platform received or showed.
"""

from __future__ import annotations

import pytest

from shared.commands import HANDLERS
from shared.replies import APOLOGY
from tests.contract.drivers import Driver


async def test_registering_confirms_a_seat(driver: Driver) -> None:
    said = await driver.say("ann", "/register workshop")
    assert "Your seat is confirmed for Workshop" in said.text
    assert said.private in (True, None)


async def test_a_full_session_puts_the_next_person_on_the_waitlist(driver: Driver) -> None:
    await driver.say("ann", "/register workshop")
    said = await driver.say("ben", "/register workshop")
    assert "is full. You are #1 on the waitlist" in said.text


async def test_a_freed_seat_promotes_the_waitlist_and_tells_them_by_dm(driver: Driver) -> None:
    await driver.say("ann", "/register workshop")
    await driver.say("ben", "/register workshop")
    assert not [dm for dm in await driver.dms("ben") if "seat opened up" in dm]
    said = await driver.say("ann", "/unregister workshop")
    assert "Your seat for Workshop" in said.text and "is cancelled" in said.text
    await driver.deliver()
    promoted = [dm for dm in await driver.dms("ben") if "A seat opened up" in dm]
    assert len(promoted) == 1 and "you are confirmed for Workshop" in promoted[0]
    mine = await driver.say("ben", "/mysessions")
    assert "seat confirmed" in mine.text


async def test_an_insight_fans_out_to_the_theme_channel(driver: Driver) -> None:
    said = await driver.say("ann", "/insight citizen-participation We opened the town hall at night")
    assert "Thank you! Your insight is shared in Citizen participation" in said.text
    if driver.theme_channel is not None:
        assert f"channel on {driver.label}" in said.text
    await driver.deliver()
    posts = [p for p in await driver.posts() if "town hall at night" in p]
    if driver.theme_channel is None:
        assert posts == []  # a platform without channels posts nowhere
    else:
        assert len(posts) == 1 and f"via {driver.label}" in posts[0]
    listing = await driver.say("ben", "/insights citizen-participation")
    assert "We opened the town hall at night" in listing.text


async def test_bad_input_is_refused_politely_and_privately(driver: Driver) -> None:
    said = await driver.say("ann", "/register gala")
    assert "There is no session called" in said.text and "gala" in said.text
    assert "Choose one of" in said.text
    assert said.private in (True, None)
    mine = await driver.say("ann", "/mysessions")
    assert "You have no sessions yet" in mine.text  # nothing was stored


async def test_a_failure_of_ours_is_one_apology(driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(core, inv):
        raise RuntimeError("the database went away")

    monkeypatch.setitem(HANDLERS, "mysessions", broken)
    said = await driver.say("ann", "/mysessions")
    assert APOLOGY in said.text
    assert "database went away" not in said.text
    assert said.private in (True, None)


async def test_organizer_commands_are_for_organizers(driver: Driver) -> None:
    await driver.say("ann", "/register workshop")
    refused = await driver.say("ben", "/roster workshop")
    assert "is for the event's organizers" in refused.text
    roster = await driver.say("orga", "/roster workshop")
    assert "Roster of Workshop" in roster.text and "ann (" in roster.text.lower()


async def test_a_command_with_a_hyphen_in_its_name_works(driver: Driver, hyphenated_command: str) -> None:
    said = await driver.say("ann", f"/{hyphenated_command}")
    assert "Hello, " in said.text


async def test_forgetme_asks_then_erases_and_gives_the_seat_away(driver: Driver) -> None:
    await driver.say("ann", "/register workshop")
    await driver.say("ben", "/register workshop")
    ask = await driver.say("ann", "/forgetme")
    assert "This erases everything I keep about you: 1 account, 1 registration" in ask.text
    assert ask.private in (True, None)
    done = await driver.say("ann", "/forgetme confirm")
    assert "Done: I erased 1 account, 1 registration" in done.text
    await driver.deliver()
    assert [dm for dm in await driver.dms("ben") if "A seat opened up" in dm]
    again = await driver.say("ann", "/forgetme")
    assert "there is nothing to erase" in again.text


async def test_forgetme_takes_down_the_channel_posts_of_their_insights(driver: Driver) -> None:
    await driver.say("ann", "/insight citizen-participation We opened the town hall at night")
    await driver.say("ben", "/insight citizen-participation Ben kept the library open")
    await driver.deliver()
    if driver.theme_channel is not None:
        assert [p for p in await driver.held() if "town hall at night" in p]
    done = await driver.say("ann", "/forgetme confirm")
    assert "Done: I erased 1 account" in done.text and "1 insight" in done.text
    if driver.theme_channel is not None:
        assert "taking down the 1 channel post" in done.text
    await driver.deliver()
    held = await driver.held()
    assert not [p for p in held if "town hall at night" in p]
    if driver.theme_channel is not None:
        assert [p for p in held if "library open" in p]  # only hers go


async def test_feedback_after_the_session_and_a_typed_lesson(driver: Driver) -> None:
    await driver.say("ann", "/register workshop")
    early = await driver.say("ann", "/feedback workshop 5")
    assert "has not started yet" in early.text
    clock = driver.core.clock
    await clock.set(driver.core.program.session("workshop").ends_at)  # type: ignore[attr-defined]
    assert await driver.core.ask_feedback() == 1
    await driver.deliver()
    assert [dm for dm in await driver.dms("ann") if "How was it, from 1 (poor) to 5" in dm]
    rated = await driver.say("ann", "/feedback workshop 4 Listen to residents first")
    assert "You rated Workshop" in rated.text and "4 out of 5" in rated.text
    assert rated.private in (True, None)
    refused = await driver.say("ben", "/feedback workshop 4")
    assert "held a seat in it or followed it" in refused.text
