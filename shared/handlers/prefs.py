"""``/timezone`` and ``/language``: how a person reads the bot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import i18n, people, replies, zones
from shared.commands import Invocation, handler
from shared.messages import Message

if TYPE_CHECKING:
    from shared.app import Roundtable


@handler("timezone")
async def timezone(core: Roundtable, inv: Invocation) -> Message:
    typed = (inv.args.get("zone") or "").strip()
    now = core.now()
    if not typed:
        async with core.db.transaction() as conn:
            mine = await people.prefs(conn, inv.identity)
        return replies.zone_now(core.program, mine.chosen_zone, mine.reported_zone, now)
    zone = zones.canonical(typed)
    if zone is None:
        return replies.zone_unknown(typed, core.program)
    async with core.db.transaction() as conn:
        await people.choose(conn, inv.identity, now, zone=zone)
    return replies.zone_set(zone, now)


@handler("language")
async def language(core: Roundtable, inv: Invocation) -> Message:
    typed = (inv.args.get("language") or "").strip()
    if not typed:
        async with core.db.transaction() as conn:
            mine = await people.prefs(conn, inv.identity)
        return replies.language_now(mine.chosen_locale, i18n.negotiate(mine.locale))
    chosen = i18n.known(typed)
    if chosen is None:
        return replies.language_unknown(typed)
    async with core.db.transaction() as conn:
        await people.choose(conn, inv.identity, core.now(), locale=chosen)
    with i18n.using(chosen):
        done = replies.language_set(chosen)
    return Message(text=done.text, locale=chosen)
