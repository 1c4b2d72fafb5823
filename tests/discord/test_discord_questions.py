"""Registration questions on Discord: a modal built from the core's form."""

from __future__ import annotations

import re

from bots.discord.adapter import DiscordAdapter
from shared.app import Roundtable
from shared.commands import Invocation
from shared.program import Question
from tests.discord.discord_standin import DiscordStandin
from tests.discord.test_discord_adapter import is_ephemeral, text_of
from tests.support import person


def ask_questions(core: Roundtable) -> None:
    questions = [
        Question(id="city", label="Your city", required=True, max_length=20),
        Question(id="role", label="Your role", choices=["Mayor", "Staff"]),
    ]
    sessions = [
        s.model_copy(update={"questions": questions}) if s.id == "workshop" else s
        for s in core.program.sessions
    ]
    core.program = core.program.model_copy(update={"sessions": sessions})


async def test_register_opens_a_modal_and_a_complete_one_takes_the_seat(
    standin: DiscordStandin, discord_core: Roundtable, bot: DiscordAdapter
) -> None:
    ask_questions(discord_core)
    alice = standin.add_user("alice")
    interaction = await standin.slash(alice, "register", session="workshop")
    callback = await standin.wait_for(lambda: standin.callback(interaction))
    assert callback.json["type"] == 9  # MODAL
    modal = callback.json["data"]
    assert set(re.findall(r"'custom_id': '(answer\.[a-z]+)'", str(modal["components"]))) == {
        "answer.city",
        "answer.role",
    }

    refused = await standin.wait_answer(
        await standin.submit_modal(alice, modal["custom_id"], {"answer.city": " ", "answer.role": []})
    )
    assert is_ephemeral(refused) and "Your city" in text_of(refused)

    # a submitted modal closes: the person runs the command again for a fresh one
    again = await standin.slash(alice, "register", session="workshop")
    modal = (await standin.wait_for(lambda: standin.callback(again))).json["data"]
    done = await standin.wait_answer(
        await standin.submit_modal(
            alice, modal["custom_id"], {"answer.city": "Graz", "answer.role": ["Staff"]}
        )
    )
    assert "seat is confirmed" in text_of(done)
    roster = await discord_core.handle(
        Invocation(person("o"), "roster", {"session": "workshop"}, organizer=True)
    )
    assert "Your city: Graz; Your role: Staff" in roster.fields[0].value
