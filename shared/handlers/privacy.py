"""``/mydata``, ``/forgetme`` and ``/privacy``: each person's control over their data."""

from __future__ import annotations

import json
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

    async def erase(conn):
        person_id = await privacy.person_of(conn, inv.identity)
        if person_id is None:
            return replies.nothing_to_forget()
        if not word:
            return replies.forget_ask(await privacy.preview(conn, person_id))
        return await privacy.forget(conn, core.program, person_id, core.now(), via="self")

    # run again whole if PostgreSQL ends it as a deadlock's loser (it locks several sessions)
    erased = await core.db.run(erase)
    if isinstance(erased, Message):
        return erased
    if erased.promoted:
        core.queued()
    return replies.forgotten(erased)


@handler("mydata")
async def mydata(core: Roundtable, inv: Invocation) -> Message:
    async with core.db.transaction() as conn:
        person_id = await privacy.person_of(conn, inv.identity)
        data = await privacy.export(conn, person_id) if person_id is not None else None
    if data is None:
        return replies.no_data()
    body = json.dumps(
        {"event": core.program.event.name, "exported_at": core.now().isoformat(), **data},
        indent=2,
        ensure_ascii=False,
    )
    stamp = core.now().strftime("%Y%m%d-%H%M%S")
    return replies.your_data(data, f"roundtable-mydata-{stamp}.json", body.encode("utf-8"))


@handler("privacy")
async def privacy_notice(core: Roundtable, inv: Invocation) -> Message:
    return replies.privacy_notice(core.program, core.settings.retention_days)
