""" "Interested" on a session's scheduled event: a follow of an open session, with its reminders.

discord.py drops GUILD_SCHEDULED_EVENT_USER_ADD/REMOVE unless the guild, the event and the
user are all in its cache (it has no raw variant), and a bot without the members intent rarely
has the user. So the adapter wraps discord.py's own parsers for those two events (it looks
them up by event name in ``ConnectionState.parsers`` on every dispatch): discord.py still
runs, and the marks go into a queue worked in order, one at a time, so that a quick
mark-unmark ends as the person left it.

At start, after the events are mirrored, the follows made this way are brought in line with
the events' "Interested" lists (``GET /guilds/{g}/scheduled-events/{e}/users``): marks made
while the bot was away count too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from shared import mirrors
from shared.errors import Refusal
from shared.identity import Identity, Recipient
from shared.port import DeliveryError
from shared.store.database import FAILURES, StorageUnavailable

if TYPE_CHECKING:
    from bots.discord.adapter import DiscordAdapter

log = logging.getLogger(__name__)

# how the core knows these follows: made by a mark, undone by taking it off
VIA = "interested"
ADD, REMOVE = "GUILD_SCHEDULED_EVENT_USER_ADD", "GUILD_SCHEDULED_EVENT_USER_REMOVE"
PAGE = 100  # Discord's most users per page of an event's list
# marks waiting to be worked; past it they are dropped with a warning (the next start re-syncs)
QUEUE_BOUND = 1000


@dataclass(frozen=True, slots=True)
class Mark:
    added: bool
    guild_id: str
    event_id: str
    user_id: str


class Interest:
    """The adapter's handling of "Interested" marks: the gateway's events and the re-sync."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        self.adapter = adapter
        # marks, and re-syncs after a gateway session was lost, worked in arrival order
        self._queue: asyncio.Queue[Mark | None] = asyncio.Queue(QUEUE_BOUND)
        self._worker: asyncio.Task[None] | None = None
        self._current: asyncio.Future[None] | None = None  # the mark or re-sync being worked
        self.seen = 0  # marks the gateway brought (queued or not): what tests wait on
        self._arrived = asyncio.Event()

    def install(self, client: discord.Client) -> None:
        """Wrap discord.py's parsers of the two events (done before the gateway connects)."""
        parsers: dict[str, Any] = client._connection.parsers
        for event, added in ((ADD, True), (REMOVE, False)):
            parsers[event] = self._parser(parsers.get(event), added)

    def _parser(self, original: Any, added: bool) -> Any:
        def parse(data: dict[str, Any]) -> None:
            if original is not None:
                try:
                    original(data)  # discord.py keeps its own cache (and events) as before
                except Exception:
                    log.exception("Discord: discord.py failed on a scheduled event mark")
            self.take(data, added)

        return parse

    def take(self, data: dict[str, Any], added: bool) -> None:
        """Queue one mark from the gateway; never raises into discord.py's gateway loop."""
        self.seen += 1
        self._arrived.set()
        try:
            mark = Mark(
                added, str(data["guild_id"]), str(data["guild_scheduled_event_id"]), str(data["user_id"])
            )
        except (KeyError, TypeError):
            log.warning("Discord: a scheduled event mark without its ids was ignored: %r", data)
            return
        if self.adapter.client.user is not None and mark.user_id == str(self.adapter.client.user.id):
            return
        self._put(mark)

    def resync_soon(self) -> None:
        """Re-sync after the marks queued so far (a new gateway session missed some)."""
        self._put(None)

    def _put(self, item: Mark | None) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            log.warning("Discord: too many event marks at once; one was dropped (the next start re-syncs)")
            return
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="discord-interest")

    async def _work(self) -> None:
        while True:
            mark = await self._queue.get()
            try:
                # shielded: closing the adapter stops the queue, not a transaction half-way
                self._current = asyncio.ensure_future(self.resync() if mark is None else self.handle(mark))
                await asyncio.shield(self._current)
            except asyncio.CancelledError:
                raise
            except StorageUnavailable as exc:
                # the file went from under the bot: the core says so once and stops it
                self.adapter.core.storage_lost(exc)
            except Exception:
                log.exception("Discord: a scheduled event mark could not be handled")
            finally:
                self._queue.task_done()

    async def idle(self, seen: int = 0) -> None:
        """Wait until the gateway brought ``seen`` marks and every queued one is handled."""
        while self.seen < seen:
            self._arrived.clear()
            await self._arrived.wait()
        await self._queue.join()

    async def close(self, grace: float = 2.0) -> None:
        """Stop taking marks; the one being stored gets ``grace`` seconds to finish (marks
        still queued are left to the next start's re-sync)."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        current, self._current = self._current, None
        if current is not None and not current.done():
            try:
                await asyncio.wait_for(current, grace)
            except (asyncio.CancelledError, TimeoutError):
                log.warning(
                    "Discord: an Interested mark was still being stored at shutdown; the next start re-syncs it"
                )
            except Exception:
                log.exception("Discord: a scheduled event mark could not be handled")

    async def _session_of(self, guild_id: str, event_id: str) -> str | None:
        async with self.adapter.core.db.transaction() as conn:
            return await mirrors.session_of(conn, "discord", guild_id, event_id)

    async def handle(self, mark: Mark) -> None:
        """One mark: a follow (and a DM) or its end; an event that is not a session's is ignored."""
        core = self.adapter.core
        try:
            session_id = await self._session_of(mark.guild_id, mark.event_id)
            if session_id is None:
                log.debug("Discord: a mark on event %s, which stands for no session", mark.event_id)
                return
            if not mark.added:
                identity = self.adapter.identity_of(mark.user_id, "")
                if await core.unfollow_via(identity, session_id, VIA):
                    log.info("Discord: a follow of %s ended with its Interested mark", session_id)
                return
            identity = self.adapter.identity_of(mark.user_id, await self._name(mark.user_id))
            message = await core.follow_via(identity, session_id, VIA)
        except FAILURES as exc:
            log.warning("Discord: an Interested mark on %s could not be stored: %s", mark.event_id, exc)
            return
        except Refusal as exc:  # nobody asked, so nobody is told: a line for the operator
            log.info("Discord: an Interested mark on %s was not acted on: %s", mark.event_id, exc)
            return
        if message is None:
            return
        try:
            # the follow is stored: a DM that fails costs only the DM
            await self.adapter.send_direct(
                Recipient("discord", identity.workspace, identity.user_id, identity.display_name), message
            )
        except DeliveryError as exc:
            log.warning("Discord: the DM after an Interested mark was not delivered: %s", exc)

    async def _name(self, user_id: str) -> str:
        """The user's name: from discord.py's cache, else one REST call; "" when unknown (a
        known account keeps its stored name, a newcomer is named later by their first command)."""
        user = self.adapter.client.get_user(int(user_id))
        if user is None:
            try:
                await self.adapter.limiter.acquire()
                user = await self.adapter.client.fetch_user(int(user_id))
            except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.info("Discord: the name of user %s could not be read: %s", user_id, exc)
                return ""
        return user.display_name

    async def resync(self) -> None:
        """For each mirrored session that takes follows, the follows made by marks brought in
        line with the event's list. Failures are logged, never raised; a list read only in
        part changes nothing for that session."""
        adapter = self.adapter
        if adapter.guild_id is None:
            return
        core, guild = adapter.core, str(adapter.guild_id)
        try:
            async with core.db.transaction() as conn:
                known = await mirrors.known(conn, "discord", guild)
        except FAILURES as exc:
            log.warning("Discord: the Interested marks were not re-synced: %s", exc)
            return
        for session_id, mirror in known.items():
            if not core.follows_by_mark(session_id):  # its list is not worth a request
                continue
            try:
                marked = await self._marked(guild, mirror.external_id)
                done = await core.resync_via(session_id, "discord", adapter.workspace, marked, VIA)
            except (
                discord.HTTPException,
                aiohttp.ClientError,
                OSError,
                TimeoutError,
                ValueError,
                *FAILURES,
            ) as exc:
                log.warning("Discord: re-syncing the Interested marks of %s failed: %s", session_id, exc)
                continue
            if done.added or done.removed:
                log.info(
                    "Discord: %s: %d follows added and %d ended from the event's Interested list",
                    session_id,
                    done.added,
                    done.removed,
                )

    async def _marked(self, guild: str, event_id: str) -> list[Identity]:
        """Everyone with the mark on one event, page by page (ordered by user id, ``after``)."""
        http = self.adapter.client.http
        marked: list[Identity] = []
        after: str | None = None
        while True:
            await self.adapter.limiter.acquire()
            page = await http.get_scheduled_event_users(
                int(guild), int(event_id), limit=PAGE, with_member=True, after=after
            )
            last = None
            for entry in page:
                user = _object(_object(entry).get("user"))
                if not str(user.get("id") or "").isdigit():  # an entry without a user id: skipped
                    continue
                last = max(last or 0, int(user["id"]))
                if user.get("bot"):
                    continue
                member = _object(_object(entry).get("member"))
                name = member.get("nick") or user.get("global_name") or user.get("username") or ""
                marked.append(self.adapter.identity_of(str(user["id"]), name))
            if len(page) < PAGE:
                return marked
            if last is None:  # no way to the next page: the list is not read (a ValueError, logged)
                raise ValueError(f"a page of the Interested list of event {event_id} has no user ids")
            after = str(last)


def _object(value: Any) -> dict[str, Any]:
    """A JSON object from Discord's list, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}
