"""The reminder's "I can't come": a confirmation, then the seat goes to the waitlist."""

from __future__ import annotations

from tests.support import person, with_capacity


async def test_the_first_click_only_asks(core):
    await core.respond(person("ann"), line="/register workshop")
    asked = await core.respond(person("ann"), line="/unregister workshop ask")
    assert asked.ok and "Give back your seat" in asked.text
    assert [b.action for b in asked.buttons] == ["/unregister workshop", "/mysessions"]
    mine = await core.respond(person("ann"), line="/mysessions")
    assert "seat confirmed" in mine.fields[0].value


async def test_asking_without_a_place_says_so(core):
    asked = await core.respond(person("ann"), line="/unregister workshop ask")
    assert "nothing to cancel" in asked.text and asked.buttons == ()


def test_the_hidden_step_is_not_in_the_usage():
    from shared.commands import COMMANDS, usage

    assert usage(COMMANDS["unregister"]) == "Usage: `/unregister <session>`"


async def test_confirming_promotes_the_waitlist_at_once(settings, clock):
    from tests.support import RecordingPort, opened_core

    async with opened_core(settings, with_capacity(1), clock) as core:
        port = RecordingPort()
        core.attach(port)
        await core.respond(person("ann"), line="/register workshop")
        await core.respond(person("bob"), line="/register workshop")
        await core.respond(person("ann"), line="/unregister workshop")
        await core.dispatch_due()
        assert any("seat opened up" in t for t in port.texts_for("bob"))
