"""``/schedule`` and ``/help``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import registrations, replies
from shared.commands import COMMANDS, Invocation, handler
from shared.messages import Message

if TYPE_CHECKING:
    from shared.app import Roundtable


@handler("schedule")
async def schedule(core: Roundtable, inv: Invocation) -> Message:
    async with core.db.transaction() as conn:
        counts = await registrations.counts_by_session(conn)
    return replies.schedule(core.program, counts, core.now())


@handler("help")
async def help_(core: Roundtable, inv: Invocation) -> Message:
    specs = [spec for spec in COMMANDS.values() if inv.organizer or not spec.organizer_only]
    return replies.help_text(core.program, specs)
