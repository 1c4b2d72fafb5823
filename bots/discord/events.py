"""The program in the server's Events tab: one EXTERNAL scheduled event per upcoming session.

Created once, updated when the session changes, deleted when it leaves the program; the
event ids are stored (``shared.mirrors``), so a restart creates no duplicates.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bots.discord.render import clip
from shared import i18n, mirrors
from shared.i18n import _
from shared.program import Session
from shared.store.database import FAILURES

if TYPE_CHECKING:
    from bots.discord.adapter import DiscordAdapter

log = logging.getLogger(__name__)

EXTERNAL = 3  # entity_type: somewhere outside Discord (the session's video call)
GUILD_ONLY = 2  # privacy_level
MISSING_PERMISSIONS = 50013
UNKNOWN_EVENT = 10070


def payload(session: Session, event_name: str, locale: str = i18n.DEFAULT) -> dict[str, Any]:
    """The scheduled event that stands for a session, in ``locale``: everyone in the server sees
    the same event, so its words are in the program's language (``[event] locale``)."""
    with i18n.using(locale):
        location = session.join if not session.capped else _("Register with /register")
    description = "\n\n".join(x for x in (session.description, event_name) if x)
    return {
        "name": clip(session.title, 100),
        "description": clip(description, 1000),
        "scheduled_start_time": session.starts_at.isoformat(),
        "scheduled_end_time": session.ends_at.isoformat(),
        "privacy_level": GUILD_ONLY,
        "entity_type": EXTERNAL,
        "entity_metadata": {"location": clip(location, 100)},
    }


async def mirror_program(adapter: DiscordAdapter) -> int:
    """Bring the server's events in line with the program; returns how many calls changed something.

    Failures are logged, never raised: the bot serves commands without its Events tab.
    """
    if adapter.guild_id is None:
        return 0
    core, http, guild = adapter.core, adapter.client.http, adapter.guild_id
    workspace = str(guild)
    now = core.now()
    changed = 0
    try:
        async with core.db.transaction() as conn:
            known = await mirrors.known(conn, "discord", workspace)
        for session in core.program.sessions:
            if session.cancelled or session.ends_at <= now:
                continue  # a cancelled session stays in `known`: its event is deleted below
            body = payload(session, core.program.event.name, core.program.event.locale)
            stamp = mirrors.fingerprint(body)
            have = known.pop(session.id, None)
            if have is not None and have.fingerprint == stamp:
                continue
            data = None
            if have is not None:
                try:
                    data = await http.edit_scheduled_event(guild, int(have.external_id), **body)
                except discord.NotFound:
                    data = None  # deleted by hand in Discord: create it again
            if data is None:
                data = await http.create_guild_scheduled_event(guild, **body)
            changed += 1
            async with core.db.transaction() as conn:
                await mirrors.remember(
                    conn, "discord", workspace, mirrors.Mirror(session.id, str(data["id"]), stamp), now
                )
        for gone in known.values():
            # the session left the program (cancelled, removed): its event goes too
            with contextlib.suppress(discord.NotFound):  # already deleted by hand
                await http.delete_scheduled_event(guild, int(gone.external_id))
            changed += 1
            async with core.db.transaction() as conn:
                await mirrors.forget(conn, "discord", workspace, gone.session_id)
    except discord.Forbidden as exc:
        if exc.code == MISSING_PERMISSIONS:
            log.error(
                "Discord: the bot lacks the Create Events permission in server %s, so the sessions are not "
                "in its Events tab. Re-invite it with %s",
                guild,
                adapter.invite or "the invite URL logged at start-up",
            )
        else:
            log.warning("Discord: mirroring the program as events was refused: %s", exc)
    except (discord.HTTPException, aiohttp.ClientError, *FAILURES) as exc:
        log.warning("Discord: mirroring the program as events failed: %s", exc)
    return changed
