"""Registration questions on Slack: a modal built from the core's form, refusals under fields."""

from __future__ import annotations

import json

import pytest

from bots.slack.adapter import SlackAdapter
from shared.app import Roundtable
from shared.commands import Invocation
from shared.program import Program, Question
from tests import support
from tests.slack.slack_standin import SlackStandIn, post_signed

ALICE = "UALICE01"


@pytest.fixture
def program() -> Program:
    base = support.with_capacity(1)
    questions = [
        Question(id="city", label="Your city", required=True, max_length=20),
        Question(id="role", label="Your role", choices=["Mayor", "Staff"]),
    ]
    sessions = [
        s.model_copy(update={"questions": questions}) if s.id == "workshop" else s for s in base.sessions
    ]
    return base.model_copy(update={"sessions": sessions})


async def test_register_opens_a_modal_refuses_under_the_field_then_takes_the_seat(
    http_bot: SlackAdapter, standin: SlackStandIn, sqlite_core: Roundtable
) -> None:
    slash = standin.slash("/register", "workshop", user=ALICE, key="q")
    assert (await post_signed(http_bot.events_url, "slash_commands", slash))[0] == 200
    [opened] = await standin.wait_for("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "rt_form"
    assert [(b["block_id"], b["optional"]) for b in view["blocks"]] == [
        ("answer.city", False),
        ("answer.role", True),
    ]
    assert [o["value"] for o in view["blocks"][1]["element"]["options"]] == ["Mayor", "Staff"]

    long = standin.submit(view, {"answer.city": {"type": "plain_text_input", "value": "x" * 30}}, user=ALICE)
    answer = json.loads((await post_signed(http_bot.events_url, "interactive", long))[1])
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["answer.city"]
    roster = await sqlite_core.handle(
        Invocation(support.person("o"), "roster", {"session": "workshop"}, organizer=True)
    )
    assert "Nobody has registered" in roster.text  # nothing stored half-way

    good = standin.submit(
        view,
        {
            "answer.city": {"type": "plain_text_input", "value": "Graz"},
            "answer.role": {"type": "static_select", "selected_option": {"value": "Staff"}},
        },
        user=ALICE,
    )
    assert await post_signed(http_bot.events_url, "interactive", good) == (200, "")
    [done] = await standin.wait_for("response_url", match=lambda r: r.path.endswith("/q"))
    assert "seat is confirmed" in done.args["text"]
    roster = await sqlite_core.handle(
        Invocation(support.person("o"), "roster", {"session": "workshop"}, organizer=True)
    )
    assert "Your city: Graz; Your role: Staff" in roster.fields[0].value
