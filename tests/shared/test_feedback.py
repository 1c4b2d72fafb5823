"""Feedback after each session: one DM with 1-5 buttons, a form for the lesson, sharing by choice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared import feedback
from shared.commands import Invocation
from tests.support import RecordingPort, outbox_rows, person, with_capacity


@pytest.fixture
def program():
    return with_capacity(1)


def fb(who, **args):
    return Invocation(person(who), "feedback", {"session": "workshop", **args})


async def test_one_request_per_person_when_the_session_ends_and_none_for_who_only_waited(core, clock):
    port = RecordingPort()
    core.attach(port)
    for who in ("ann", "ben"):
        await core.register(person(who), "workshop")  # ben only waits
    await core.register(person("cid"), "roundtable")
    workshop = core.program.session("workshop")
    assert await core.ask_feedback() == 0  # nothing ended yet
    await clock.set(workshop.ends_at)
    assert await core.ask_feedback() == 3  # the roundtable ended first; ann, ben, cid
    assert await core.ask_feedback() == 0  # once
    await core.dispatch_due()
    (dm,) = [m for r, m in port.direct if r.user_id == "ann" and m.kind == "feedback"]
    assert "How was it, from 1 (poor) to 5 (excellent)?" in dm.text
    assert [b.action for b in dm.buttons] == [f"/feedback workshop {n}" for n in range(1, 6)]
    assert [r.reason for r in await outbox_rows(core, kind="feedback", recipient="ben")] == ["only_waited"]


async def test_rating_then_a_lesson_shared_only_when_chosen(core, clock):
    await core.register(person("ann"), "workshop")
    await core.register(person("ben"), "workshop")
    refused = await core.handle(fb("ann", rating="4"))
    assert not refused.ok and "has not started yet" in refused.text
    await clock.set(core.program.session("workshop").ends_at)

    bad = await core.handle(fb("ann", rating="9"))
    assert not bad.ok and bad.error_field == "rating"
    waited = await core.handle(fb("ben", rating="3"))
    assert not waited.ok and "held a seat" in waited.text

    rated = await core.handle(fb("ann", rating="4"))
    assert rated.ok and "You rated" in rated.text and rated.form is not None
    share = rated.form.fields[1]
    assert share.value == share.choices[0]  # keeping it private is the default
    kept = await core.handle(fb("ann", rating="4", **{"answer.lesson": "Plan early.", "answer.share": ""}))
    assert "shared as an insight" not in kept.text
    assert (await core.handle(Invocation(person("x"), "insights"))).text.startswith("No insights")

    theme = core.program.themes[0]
    shared = await core.handle(
        fb("ann", rating="5", **{"answer.lesson": "Plan early.", "answer.share": theme.name})
    )
    assert f"shared as an insight in {theme.name}" in shared.text
    listing = await core.handle(Invocation(person("x"), "insights"))
    assert "Plan early." in listing.fields[0].value

    typed = await core.handle(fb("ann", rating="3", text="Short lesson"))
    assert typed.form is None and "rated" in typed.text
    async with core.db.transaction() as conn:
        (summary,) = await feedback.summaries(conn, core.program, "workshop")
    assert summary.counts == {1: 0, 2: 0, 3: 1, 4: 0, 5: 0} and summary.comments == ["Short lesson"]


async def test_erasure_keeps_the_rating_as_a_count(core, clock):
    await core.register(person("ann"), "workshop")
    await clock.set(core.program.session("workshop").ends_at + timedelta(minutes=1))
    await core.handle(fb("ann", rating="2", text="Too short"))
    done = await core.handle(Invocation(person("ann"), "forgetme", {"confirm": "confirm"}))
    assert "1 rating" in done.text
    async with core.db.transaction() as conn:
        (summary,) = await feedback.summaries(conn, core.program, "workshop")
    assert summary.counts[2] == 1 and summary.comments == []
