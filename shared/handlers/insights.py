"""``/insight`` and ``/insights``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import insights, replies
from shared.commands import Invocation, handler
from shared.messages import Message

if TYPE_CHECKING:
    from shared.app import Roundtable


@handler("insight")
async def insight(core: Roundtable, inv: Invocation) -> Message:
    args = inv.args
    anonymous = (args.get("anonymous") or "").strip().lower() in ("yes", "true", "1")
    async with core.db.transaction() as conn:
        post = await insights.submit(
            conn,
            core.program,
            inv.identity,
            args.get("theme", ""),
            args.get("text", ""),
            args.get("city") or None,
            anonymous,
            core.limits,
            core.now(),
        )
    core.queued()
    theme = core.program.theme(post.theme_id)
    assert theme is not None
    return replies.insight_shared(theme, anonymous)


@handler("insights")
async def latest(core: Roundtable, inv: Invocation) -> Message:
    theme_id = (inv.args.get("theme") or "").strip()
    theme = None
    if theme_id:
        theme = core.program.theme(theme_id)
        if theme is None:
            raise insights.InsightError(core.program.unknown_theme(theme_id), "theme")
    async with core.db.transaction() as conn:
        posts = await insights.latest(conn, core.program, theme.id if theme else None)
    return replies.insight_list(theme, posts)
