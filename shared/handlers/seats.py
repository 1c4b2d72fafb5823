"""``/register``, ``/unregister`` and ``/mysessions``."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared import calendar, i18n, marks, people, questions, registrations, replies
from shared.commands import Invocation, handler
from shared.errors import Refusal
from shared.identity import Identity
from shared.messages import Message

if TYPE_CHECKING:
    from datetime import datetime

    from shared.app import Roundtable
    from shared.program import Session

log = logging.getLogger(__name__)


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

    # registrations that arrive together share a transaction, each getting its own answer; a
    # session closed to registration is answered alone, so its refusal unravels no group
    store = core.db.grouped if session.accepts_registration(now) else core.db.run
    try:
        result, sequence = await store(take)
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


# ----- follows made by a platform's own gesture (a mark on a server's event) -----------------


def follows_by_mark(session: Session, now: datetime) -> bool:
    """Whether a mark on the session's event makes (and a re-sync keeps in line) a follow: an
    open session that asks no questions, before it starts."""
    return not (session.capped or session.questions or session.cancelled) and now < session.starts_at


async def follow_via(core: Roundtable, identity: Identity, session_id: str, via: str) -> Message | None:
    """Someone marked a session's event on their platform: an open session gets a follow made
    ``via`` that gesture, with its reminders planned as by ``/register``. A session with seats
    takes none this way (seats are asked for, and may come with questions); the person gets a
    pointer to ``/register`` instead, unless they hold a place already; so does a session
    that asks questions (a mark cannot answer them).

    Returns the DM to send (in the reader's language), or None when there is nothing to say.
    A refusal (an ended or cancelled session) is logged and says nothing: nobody asked."""
    now = core.now()
    session = core.program.session(session_id)
    # once it started no reminder can come: a mark then is only the platform's business
    if session is None or session.cancelled or now >= session.starts_at:
        log.info("a mark on %r was ignored: the session takes no follows this way now", session_id)
        return None
    if not follows_by_mark(session, now):
        # seats are asked for, and questions answered, with /register: a mark takes neither
        async with core.db.transaction() as conn:
            account = await people.find(conn, identity)
            if account is not None and await registrations.standing(conn, account.person_id, session.id):
                return None
        prefs = (
            account.prefs
            if account
            else people.Prefs(reported_zone=identity.zone, reported_locale=identity.locale)
        )
        with i18n.using(prefs.locale) as locale:
            return dataclasses.replace(replies.seats_by_registration(session), zone=prefs.zone, locale=locale)

    async def take(conn):
        result = await registrations.register(conn, core.program, identity, session.id, now, via=via)
        await marks.remember(conn, identity, session.id, via, now)  # a re-sync leaves it alone from now on
        return result

    try:
        result = await core.db.run(take)
    except Refusal as exc:
        log.info("a mark on %r was not made a follow: %s", session_id, exc)
        return None
    if result.first_due is not None:
        core.queued(result.first_due)
    if result.already:
        return None
    prefs = result.prefs or people.Prefs(reported_zone=identity.zone, reported_locale=identity.locale)
    with i18n.using(prefs.locale) as locale:
        return dataclasses.replace(replies.followed_via(session), zone=prefs.zone, locale=locale)


async def unfollow_via(core: Roundtable, identity: Identity, session_id: str, via: str) -> bool:
    """The mark was taken off: the follow it made ends (its reminders are dropped); a place
    asked for by a command stays. Returns whether a follow ended."""
    if core.program.session(session_id) is None:
        return False
    now = core.now()

    async def drop(conn):
        await marks.forget(conn, marks.of(identity), session_id, via)
        return await registrations.cancel_via(conn, core.program, identity, session_id, now, via)

    result = await core.db.run(drop)
    if result.promoted:
        core.queued()
    return result.was is not None


@dataclass(frozen=True, slots=True)
class Resynced:
    added: int = 0
    removed: int = 0


async def resync_via(
    core: Roundtable,
    session_id: str,
    platform: str,
    workspace: str,
    marked: Iterable[Identity],
    via: str,
) -> Resynced:
    """Bring the follows made ``via`` a gesture in line with who has the mark now (read from
    the platform after a time away): the marked without a place get a follow, the follows
    made that way of people no longer marked end. Places asked for by a command stay.
    Silent: the people added hear from the reminders, not from a burst of DMs at start."""
    session = core.program.session(session_id)
    if session is None or not follows_by_mark(session, core.now()):
        return Resynced()
    marked = {i.user_id: i for i in marked if i.platform == platform and i.workspace == workspace}
    async with core.db.transaction() as conn:
        held = await registrations.held_by_accounts(conn, session.id, platform, workspace)
        acted = await marks.known(conn, session.id, platform, workspace, via)
    keys = {marks.of(i): i for i in marked.values()}
    added = removed = 0
    for key, identity in keys.items():
        # a mark acted on before stays acted on: a follow given back (by /unregister, or with
        # everything else by /forgetme) stays given back
        if key not in acted and await follow_via(core, identity, session.id, via) is not None:
            added += 1
    now = core.now()
    for key in acted - keys.keys():
        # taken off while away: forgotten, so that marking again is a new mark
        await core.db.run(lambda conn, key=key: marks.forget(conn, key, session.id, via))
    # a person's place stays while any of their linked accounts here still has the mark
    still_marked = {held[u].person_id for u in marked if u in held}
    for user_id, place in held.items():
        if place.via != via or user_id in marked or place.person_id in still_marked:
            continue

        async def drop(conn, person_id=place.person_id):
            await registrations.lock_session(conn, session.id)
            # looked at again under the lock: a /register since the list was read made the
            # place the person's own, and a command's place stays
            if not await registrations.made_via(conn, person_id, session.id, via):
                return None
            return await registrations.cancel_person(conn, core.program, person_id, session, now)

        ended = await core.db.run(drop)
        if ended is not None and ended.was is not None:
            removed += 1
    return Resynced(added, removed)
