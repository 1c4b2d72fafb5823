"""``/forgetme``: each person's control over their data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import privacy, replies
from shared.commands import Invocation, handler
from shared.errors import Refusal
from shared.messages import Message

if TYPE_CHECKING:
    from shared.app import Roundtable


@handler("forgetme")
async def forgetme(core: Roundtable, inv: Invocation) -> Message:
    word = (inv.args.get("confirm") or "").strip().lower()
    if word not in ("", "confirm"):
        raise Refusal(replies.forget_confirm_word(), "confirm")
    async with core.db.transaction() as conn:
        person_id = await privacy.person_of(conn, inv.identity)
        if person_id is None:
            return replies.nothing_to_forget()
        if not word:
            return replies.forget_ask(await privacy.preview(conn, person_id))
        erased = await privacy.forget(conn, core.program, person_id, core.now(), via="self")
    if erased.promoted:
        core.queued()
    return replies.forgotten(erased)
