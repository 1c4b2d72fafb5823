"""The one inbound path every adapter uses: parse, invoke, handle, apologise."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from shared import replies
from shared.commands import COMMANDS, Invocation, parse_line
from shared.errors import Refusal
from shared.identity import Identity
from shared.messages import Message, refusal
from shared.store.database import StorageUnavailable

if TYPE_CHECKING:
    from shared.app import Roundtable

log = logging.getLogger(__name__)

# an adapter may know at once whether someone organizes, or only after a lookup it would
# rather not make for every command
Organizer = bool | Callable[[], Awaitable[bool]]


async def respond(
    core: Roundtable,
    identity: Identity,
    *,
    command: str | None = None,
    args: dict[str, str] | None = None,
    line: str | None = None,
    organizer: Organizer = False,
) -> Message:
    """The reply to a command given by name and arguments, or typed as a line.

    Bad input comes back as a polite refusal, a failure of ours as the one apology;
    nothing raises.
    """
    if core.db.lost is not None:
        return replies.storage_unavailable()
    try:
        if line is not None:
            command, args = parse_line(line)
        spec = COMMANDS.get(command or "")
        if spec is None:
            return replies.unknown_command(command or "")
        allowed = False
        if spec.organizer_only or spec.name == "help":
            allowed = organizer if isinstance(organizer, bool) else await organizer()
        return await core.handle(Invocation(identity, spec.name, dict(args or {}), organizer=allowed))
    except Refusal as exc:
        return refusal(str(exc), error_field=exc.field)
    except StorageUnavailable as exc:
        core.storage_lost(exc)
        return replies.storage_unavailable()
    except Exception:
        log.exception("/%s from %s failed", command or "?", identity.platform)
        return replies.apology()
