"""``/link``: one person behind accounts on several platforms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import linking, platforms, replies
from shared.commands import Invocation, handler
from shared.messages import Message

if TYPE_CHECKING:
    from shared.app import Roundtable


@handler("link")
async def link(core: Roundtable, inv: Invocation) -> Message:
    code = (inv.args.get("code") or "").strip()
    if not code:
        async with core.db.transaction() as conn:
            code = await linking.issue(conn, inv.identity, core.now())
        others = [platforms.label(name) for name in core.platforms() if name != inv.identity.platform]
        return replies.link_code(code, others)
    async with core.db.transaction() as conn:
        linked = await linking.redeem(conn, core.program, inv.identity, code, core.now())
    if linked.promoted:
        core.queued()
    return replies.linked(core.program, linked.platforms, linked.freed)
