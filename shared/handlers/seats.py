"""``/register``, ``/unregister`` and ``/mysessions``."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from shared import calendar, i18n, people, questions, registrations, replies
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
        return replies.session_picker(
            [s for s in core.program.open_sessions if s.accepts_registration(now)], now
        )
    session = registrations.session_or_raise(core.program, session_id)
    if session.cancelled:
        raise Refusal(replies.session_cancelled(core.program, session), "session")
    answers = questions.given(inv.args)
    if session.questions and answers is None:
        # ask first: a seat is taken only with a complete registration
        if not session.accepts_registration(core.now()):
            raise registrations.RegistrationError(registrations.closed_message(session))
        async with core.db.transaction() as conn:
            current = await registrations.answers_of(conn, inv.identity, session.id)
        return Message(text=replies.questions_asked(session), form=questions.form(session, current))
    kept = questions.judge(session, answers or {}) if session.questions else None
    now = core.now()

    async def take(conn):
        result = await registrations.register(conn, core.program, inv.identity, session.id, now, answers=kept)
        # only a seat or a follow before the start gets a calendar entry
        entry = result.status != registrations.WAITLISTED and not session.live(now)
        return result, (await calendar.sequence_of(conn, result.session_id) if entry else 0)

    try:
        # registrations that arrive together share a transaction; each gets its own answer
        result, sequence = await core.db.grouped(take)
    except registrations.SessionCancelled as exc:
        raise Refusal(replies.session_cancelled(core.program, exc.session), "session") from exc
    if result.first_due is not None:
        core.queued(result.first_due)
    # the reader's zone and language came with their account: no lookup of their own
    prefs = result.prefs or people.Prefs(reported_zone=inv.identity.zone, reported_locale=inv.identity.locale)
    with i18n.using(prefs.locale) as locale:
        message = replies.standing(core.program, session, result, now)
        if kept is not None and result.already:
            message = dataclasses.replace(message, text=f"{replies.answers_saved(session)} {message.text}")
        if result.status != registrations.WAITLISTED and not session.live(now):
            # a calendar entry for the person: a file, and a link that works where files do not
            message = dataclasses.replace(
                message,
                buttons=(*message.buttons, replies.calendar_button(core.program, session)),
                files=(calendar.attachment(core.program, session, now=now, sequence=sequence),),
            )
    return dataclasses.replace(message, zone=prefs.zone, locale=locale)


@handler("unregister")
async def unregister(core: Roundtable, inv: Invocation) -> Message:
    if (inv.args.get("step") or "").strip().lower() == "ask":
        # the reminder's "I can't come": one more click, so that a stray tap frees nothing
        session = registrations.session_or_raise(core.program, inv.args["session"])
        async with core.db.transaction() as conn:
            account = await people.find(conn, inv.identity)
            place = await registrations.standing(conn, account.person_id, session.id) if account else None
        return replies.confirm_cancel(session, place.status if place else None)
    now = core.now()

    async def give_back(conn):
        result = await registrations.cancel(conn, core.program, inv.identity, inv.args["session"], now)
        return result, await calendar.sequence_of(conn, result.session_id)

    result, sequence = await core.db.run(give_back)
    if result.promoted:
        core.queued()
    session = core.program.session(result.session_id)
    assert session is not None
    message = replies.cancelled(session, result.was)
    if result.was in (registrations.CONFIRMED, registrations.FOLLOWING):
        # the entry leaves the person's calendar too
        entry = calendar.attachment(core.program, session, now=core.now(), sequence=sequence, cancel=True)
        message = dataclasses.replace(message, files=(entry,))
    return message


@handler("mysessions")
async def mysessions(core: Roundtable, inv: Invocation) -> Message:
    async with core.db.transaction() as conn:
        mine = await registrations.mine(conn, inv.identity)
    return replies.my_sessions(core.program, mine)
