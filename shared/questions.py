"""A session's registration questions: the form that asks them, and the judging of answers."""

from __future__ import annotations

from shared import replies
from shared.errors import Refusal
from shared.insights import clean_text
from shared.messages import Form, FormField
from shared.program import Program, Session

PREFIX = "answer."  # form fields and command arguments that carry answers: answer.<question id>


def given(args: dict[str, str]) -> dict[str, str] | None:
    """The answers in a command's arguments, or None when the form was not filled in yet."""
    answers = {k.removeprefix(PREFIX): v for k, v in args.items() if k.startswith(PREFIX)}
    return answers if answers else None


def asks(program: Program, command: str, args: dict[str, str]) -> bool:
    """Whether ``/register`` will answer with the session's questions (the program alone says)."""
    if command != "register" or given(args) is not None:
        return False
    session = program.session((args.get("session") or "").strip().lower())
    return bool(session and session.questions and not session.cancelled)


def form(session: Session, current: dict[str, str] | None) -> Form:
    current = current or {}
    return Form(
        title=replies.questions_title(session),
        command="register",
        args=(("session", session.id),),
        fields=tuple(
            FormField(
                PREFIX + q.id,
                q.label,
                q.required,
                tuple(q.choices or ()),
                q.max_length,
                current.get(q.id, ""),
            )
            for q in session.questions
        ),
        submit=replies.questions_submit(session),
    )


def judge(session: Session, answers: dict[str, str]) -> dict[str, str]:
    """Clean answers, or a refusal under the first field that is wrong."""
    kept: dict[str, str] = {}
    for q in session.questions:
        value = clean_text(answers.get(q.id) or "", single_line=True)
        field = PREFIX + q.id
        if not value:
            if q.required:
                raise Refusal(replies.answer_required(q.label), field)
            continue
        if len(value) > q.max_length:
            raise Refusal(replies.answer_too_long(q.label, q.max_length, len(value)), field)
        if q.choices:
            match = next((c for c in q.choices if c.casefold() == value.casefold()), None)
            if match is None:
                raise Refusal(replies.answer_not_a_choice(q.label, q.choices), field)
            value = match
        kept[q.id] = value
    return kept
