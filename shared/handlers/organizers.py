"""``/roster`` and ``/announce``: the organizers' commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import outbox, registrations, replies, text
from shared.commands import Invocation, handler
from shared.errors import Refusal
from shared.messages import Message

if TYPE_CHECKING:
    from shared.app import Roundtable

MAX_ANNOUNCEMENT = 1500


@handler("roster")
async def roster(core: Roundtable, inv: Invocation) -> Message:
    session = registrations.session_or_raise(core.program, inv.args["session"])
    async with core.db.transaction() as conn:
        entries = await registrations.roster(conn, session.id)
    return replies.roster(session, entries)


@handler("announce")
async def announce(core: Roundtable, inv: Invocation) -> Message:
    session = registrations.session_or_raise(core.program, inv.args["session"])
    body = text.clean(inv.args["message"])
    if not body:
        raise Refusal("The announcement is empty.", "message")
    if len(body) > MAX_ANNOUNCEMENT:
        raise Refusal(f"Please keep an announcement to {MAX_ANNOUNCEMENT} characters.", "message")
    now = core.now()
    async with core.db.transaction() as conn:
        targets = await registrations.targets(conn, session.id)
        for target in targets:
            await outbox.enqueue_notice(conn, "announcement", target, session.id, now, body=body)
    core.queued()
    return replies.announcement_queued(session, len(targets))
