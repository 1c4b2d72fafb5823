"""``/register``, ``/unregister`` and ``/mysessions``."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from shared import calendar, people, registrations, replies
from shared.commands import Invocation, handler
from shared.messages import Message

if TYPE_CHECKING:
    from shared.app import Roundtable


@handler("register")
async def register(core: Roundtable, inv: Invocation) -> Message:
    session_id = (inv.args.get("session") or "").strip().lower()
    if not session_id:
        now = core.now()
        return replies.session_picker([s for s in core.program.sessions if s.accepts_registration(now)], now)
    async with core.db.transaction() as conn:
        result = await registrations.register(conn, core.program, inv.identity, session_id, core.now())
        sequence = (await calendar.sequences(conn)).get(result.session_id, 0)
    if result.first_due is not None:
        core.queued(result.first_due)
    session = core.program.session(result.session_id)
    assert session is not None
    message = replies.standing(core.program, session, result, core.now())
    if result.status == registrations.WAITLISTED or session.live(core.now()):
        return message  # no seat yet, or a latecomer: no entry to add
    # a calendar entry for the person: a file, and a link that works where files do not
    return dataclasses.replace(
        message,
        buttons=(*message.buttons, replies.calendar_button(core.program, session)),
        attachments=(calendar.attachment(core.program, session, now=core.now(), sequence=sequence),),
    )


@handler("unregister")
async def unregister(core: Roundtable, inv: Invocation) -> Message:
    if (inv.args.get("step") or "").strip().lower() == "ask":
        # the reminder's "I can't come": one more click, so that a stray tap frees nothing
        session = registrations.session_or_raise(core.program, inv.args["session"])
        async with core.db.transaction() as conn:
            account = await people.find(conn, inv.identity)
            place = await registrations.standing(conn, account.person_id, session.id) if account else None
        return replies.confirm_cancel(session, place.status if place else None)
    async with core.db.transaction() as conn:
        result = await registrations.cancel(conn, core.program, inv.identity, inv.args["session"], core.now())
        sequence = (await calendar.sequences(conn)).get(result.session_id, 0)
    if result.promoted:
        core.queued()
    session = core.program.session(result.session_id)
    assert session is not None
    message = replies.cancelled(session, result.was)
    if result.was in (registrations.CONFIRMED, registrations.FOLLOWING):
        # the entry leaves the person's calendar too
        entry = calendar.attachment(core.program, session, now=core.now(), sequence=sequence, cancel=True)
        message = dataclasses.replace(message, attachments=(entry,))
    return message


@handler("mysessions")
async def mysessions(core: Roundtable, inv: Invocation) -> Message:
    async with core.db.transaction() as conn:
        mine = await registrations.mine(conn, inv.identity)
    return replies.my_sessions(core.program, mine)
