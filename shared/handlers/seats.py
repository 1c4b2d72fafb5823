"""``/register``, ``/unregister`` and ``/mysessions``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import questions, registrations, replies
from shared.commands import Invocation, handler
from shared.errors import Refusal
from shared.messages import Message

if TYPE_CHECKING:
    from shared.app import Roundtable


@handler("register")
async def register(core: Roundtable, inv: Invocation) -> Message:
    session_id = (inv.args.get("session") or "").strip().lower()
    if not session_id:
        now = core.now()
        return replies.session_picker([s for s in core.program.open_sessions if now < s.starts_at])
    session = registrations.session_or_raise(core.program, session_id)
    if session.cancelled:
        raise Refusal(replies.session_cancelled(core.program, session), "session")
    answers = questions.given(inv.args)
    if session.questions and answers is None:
        # ask first: a seat is taken only with a complete registration
        if core.now() >= session.starts_at:
            raise registrations.RegistrationError(registrations.closed_message(session))
        async with core.db.transaction() as conn:
            current = await registrations.answers_of(conn, inv.identity, session.id)
        return Message(text=replies.questions_asked(session), form=questions.form(session, current))
    kept = questions.judge(session, answers or {}) if session.questions else None
    now = core.now()
    try:
        result = await core.db.run(
            lambda conn: registrations.register(
                conn, core.program, inv.identity, session.id, now, answers=kept
            )
        )
    except registrations.SessionCancelled as exc:
        raise Refusal(replies.session_cancelled(core.program, exc.session), "session") from exc
    if result.first_due is not None:
        core.queued(result.first_due)
    reply = replies.standing(core.program, session, result)
    if kept is not None and result.already:
        return Message(
            text=f"{replies.answers_saved(session)} {reply.text}", fields=reply.fields, buttons=reply.buttons
        )
    return reply


@handler("unregister")
async def unregister(core: Roundtable, inv: Invocation) -> Message:
    now = core.now()
    result = await core.db.run(
        lambda conn: registrations.cancel(conn, core.program, inv.identity, inv.args["session"], now)
    )
    if result.promoted:
        core.queued()
    session = core.program.session(result.session_id)
    assert session is not None
    return replies.cancelled(session, result.was)


@handler("mysessions")
async def mysessions(core: Roundtable, inv: Invocation) -> Message:
    async with core.db.transaction() as conn:
        mine = await registrations.mine(conn, inv.identity)
    return replies.my_sessions(core.program, mine)
