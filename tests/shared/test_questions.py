"""Registration questions: asked as a form, judged in the core, shown on the roster."""

from __future__ import annotations

import pytest

from shared.commands import Invocation
from shared.program import ProgramError, Question, parse_program
from tests.support import person, with_capacity

QUESTIONS = [
    Question(id="city", label="Your city", required=True, max_length=20),
    Question(id="role", label="Your role", choices=["Mayor", "Staff", "Other"]),
]


@pytest.fixture
def program():
    base = with_capacity(1)
    sessions = [
        s.model_copy(update={"questions": QUESTIONS}) if s.id == "workshop" else s for s in base.sessions
    ]
    return base.model_copy(update={"sessions": sessions})


def register(who, **answers):
    args = {"session": "workshop", **{f"answer.{k}": v for k, v in answers.items()}}
    return Invocation(person(who), "register", args)


async def test_register_asks_first_and_takes_a_seat_only_when_complete(core):
    asked = await core.handle(Invocation(person("ann"), "register", {"session": "workshop"}))
    assert asked.form is not None and "asks a few questions" in asked.text
    assert [(f.id, f.required, f.choices) for f in asked.form.fields] == [
        ("answer.city", True, ()),
        ("answer.role", False, ("Mayor", "Staff", "Other")),
    ]
    assert dict(asked.form.args) == {"session": "workshop"}

    missing = await core.handle(register("ann", city="  ", role="Mayor"))
    assert not missing.ok and missing.error_field == "answer.city" and "Your city" in missing.text
    long = await core.handle(register("ann", city="x" * 21))
    assert not long.ok and long.error_field == "answer.city" and "20 characters" in long.text
    wrong = await core.handle(register("ann", city="Graz", role="Astronaut"))
    assert not wrong.ok and wrong.error_field == "answer.role" and "Mayor, Staff, Other" in wrong.text
    # nothing was stored: ben still gets the one seat
    assert "seat is confirmed" in (await core.handle(register("ben", city="Oslo", role=""))).text

    taken = await core.handle(register("ann", city="Graz", role="staff"))
    assert "You are #1 on the waitlist" in taken.text
    roster = await core.handle(Invocation(person("o"), "roster", {"session": "workshop"}, organizer=True))
    assert roster.fields[0].value == "1. Ben (Console) — Your city: Oslo"
    assert roster.fields[1].value == "#1 Ann (Console) — Your city: Graz; Your role: Staff"


async def test_registering_again_changes_the_answers_and_keeps_the_place(core):
    await core.handle(register("ann", city="Graz", role="Mayor"))
    again = await core.handle(Invocation(person("ann"), "register", {"session": "workshop"}))
    assert [f.value for f in again.form.fields] == ["Graz", "Mayor"]  # prefilled
    changed = await core.handle(register("ann", city="Linz", role="Staff"))
    assert changed.text.startswith("Your answers for Workshop") and "already registered" in changed.text
    roster = await core.handle(Invocation(person("o"), "roster", {"session": "workshop"}, organizer=True))
    assert roster.fields[0].value == "1. Ann (Console) — Your city: Linz; Your role: Staff"


async def test_sessions_without_questions_register_at_once(core):
    said = await core.handle(Invocation(person("ann"), "register", {"session": "roundtable"}))
    assert said.form is None and "following" in said.text


def test_the_program_file_declares_questions_and_refuses_bad_ones():
    from importlib import resources

    text = resources.files("shared").joinpath("default_program.toml").read_text("utf-8")
    extra = '\n[[sessions.questions]]\nid = "city"\nlabel = "Your city"\nrequired = true\n'
    program = parse_program(text + extra.replace("[[sessions.questions]]", "[[sessions.questions]]"))
    assert [q.id for q in program.sessions[-1].questions] == ["city"]
    with pytest.raises(ProgramError, match="its own id"):
        parse_program(text + extra + extra)


async def test_a_mark_on_an_open_session_with_questions_points_to_register(core, clock):
    """A platform's mark cannot answer questions: it takes no follow, and the DM says how."""
    from shared.handlers.seats import follow_via, resync_via

    sessions = [
        s.model_copy(update={"questions": QUESTIONS}) if s.id == "roundtable" else s
        for s in core.program.sessions
    ]
    core.program = core.program.model_copy(update={"sessions": sessions})
    who = person("mia")
    told = await follow_via(core, who, "roundtable", "interested")
    assert told is not None and "/register" in told.text
    assert (await resync_via(core, "roundtable", who.platform, who.workspace, [who], "interested")).added == 0
    assert (await core.respond(who, line="/mysessions")).text.startswith("You have no sessions yet")
