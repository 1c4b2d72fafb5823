"""A local stand-in for Discord's REST API and gateway, enough for the real discord.py client.

It runs an aiohttp server on 127.0.0.1 (port 0), speaks the gateway handshake over a
websocket, records every REST request (method, path, query, JSON body, answer status) and
lets a test inject interactions and failures.  Only what Roundtable needs is modelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
MANAGE_GUILD = 1 << 5
# what a plain member may do: view channels, send messages, embed links, use app commands
PLAIN_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 31)
# Discord checks a nonce "in the past few minutes"; the stand-in keeps the shortest reading
NONCE_WINDOW = 120.0
_MENTION = re.compile(r"@(everyone|here)|<@!?(\d+)>|<@&(\d+)>")


@dataclass
class Recorded:
    """One REST request as the stand-in saw it."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    json: Any
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # multipart uploads: filename -> bytes
    # a message with a nonce seen within the window: Discord returned the first, made none
    duplicate: bool = False


@dataclass
class StandinUser:
    id: str
    name: str
    permissions: int = PLAIN_PERMISSIONS
    dms_closed: bool = False
    bot: bool = False
    locale: str = "en-US"  # the client's language, sent with each interaction

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.name,
            "global_name": self.name.title(),
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
        }


@dataclass
class Failure:
    """A canned error answer for the next matching requests."""

    method: str
    path: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


@dataclass
class SentInteraction:
    """An interaction the stand-in delivered to the bot."""

    id: str
    token: str
    payload: dict[str, Any]
    sent_at: float = field(default_factory=time.monotonic)
    # when the first callback (reply, deferral, modal) was accepted, and when one came too late
    acked_at: float | None = None
    late: bool = False


def would_ping(body: dict[str, Any]) -> set[str]:
    """Model Discord's mention rules: what a message body would notify.

    Only ``content`` can ping (embeds never do), filtered by ``allowed_mentions``;
    without ``allowed_mentions`` everything parsed in the content pings.
    """
    content = body.get("content") or ""
    allowed = body.get("allowed_mentions")
    parse = {"everyone", "users", "roles"} if allowed is None else set(allowed.get("parse", []))
    users = set() if allowed is None else set(allowed.get("users", []))
    roles = set() if allowed is None else set(allowed.get("roles", []))
    pinged: set[str] = set()
    for match in _MENTION.finditer(content):
        everyone, user, role = match.groups()
        if everyone and "everyone" in parse:
            pinged.add("@" + everyone)
        elif user and ("users" in parse or user in users):
            pinged.add("user:" + user)
        elif role and ("roles" in parse or role in roles):
            pinged.add("role:" + role)
    return pinged


class DiscordStandin:
    """Discord for one bot in one guild."""

    def __init__(
        self, *, token: str = "standin-token", guild_name: str = "Resilient Cities", dm_delay: float = 0.0
    ) -> None:
        self.token = token
        # seconds the stand-in takes to answer a message posted into a DM channel (sends in flight)
        self.dm_delay = dm_delay
        # False: the gateway takes the IDENTIFY but never says READY (a stalled connection)
        self.send_ready = True
        # Discord refuses an interaction callback after 3 seconds (10062 Unknown interaction)
        self.ack_deadline = 3.0
        self._ids = itertools.count(1_300_000_000_000_000_000)
        self.app_id = self.snowflake()
        self.guild_id = self.snowflake()
        self.guild_name = guild_name
        self.bot = StandinUser(self.app_id, "roundtable", bot=True)
        self.users: dict[str, StandinUser] = {}
        self.channels: dict[str, dict[str, Any]] = {}  # guild text channels
        self.dm_channels: dict[str, str] = {}  # channel id -> user id
        self.held: dict[str, list[dict[str, Any]]] = {}  # channel id -> the messages it holds
        self.scheduled_events: dict[str, dict[str, Any]] = {}  # guild scheduled events by id
        self.interested: dict[str, set[str]] = {}  # event id -> ids of the users marked "Interested"
        self.requests: list[Recorded] = []
        self.identifies: list[dict[str, Any]] = []
        self.heartbeats = 0
        self.commands: dict[str | None, list[dict[str, Any]]] = {}  # guild id (None: global)
        self.interactions: dict[str, SentInteraction] = {}
        self._failures: list[Failure] = []
        # enforce_nonce: a nonce the bot used within the window returns that message again
        self.nonce_window = NONCE_WINDOW
        self._nonces: dict[str, tuple[float, dict[str, Any]]] = {}
        # every REST call takes this long (seconds); and an optional global rate limit
        self.latency = 0.0
        self.rate_limit: float | None = None  # requests per second, Discord's global 50
        self._window_start = 0.0
        self._window_count = 0
        self.over_limit = 0  # requests answered 429 by the global limit
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.general = self.add_channel("general")

    # ----- set-up -----------------------------------------------------------------

    def snowflake(self) -> str:
        return str(next(self._ids))

    def add_user(self, name: str, *, organizer: bool = False, dms_closed: bool = False) -> StandinUser:
        permissions = PLAIN_PERMISSIONS | (MANAGE_GUILD if organizer else 0)
        user = StandinUser(self.snowflake(), name, permissions=permissions, dms_closed=dms_closed)
        self.users[user.id] = user
        return user

    def add_channel(self, name: str, channel_id: str | None = None) -> str:
        channel_id = channel_id or self.snowflake()
        self.channels[channel_id] = {
            "id": channel_id,
            "type": 0,
            "name": name,
            "position": len(self.channels),
            "guild_id": self.guild_id,
            "permission_overwrites": [],
        }
        return channel_id

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        body: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests matching ``path`` (a regex) with an error."""
        self._failures.append(
            Failure(
                method,
                re.compile(path),
                status,
                body or {"message": "error", "code": 0},
                headers or {},
                times,
            )
        )

    def rate_limit_next(self, method: str, path: str, retry_after: float = 0.2) -> None:
        """A Discord 429; the ``Via`` header tells discord.py it is not a Cloudflare ban."""
        self.fail_next(
            method,
            path,
            429,
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            headers={"Via": "1.1 google", "Retry-After": str(retry_after), "X-RateLimit-Scope": "user"},
        )

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ----- what happened ----------------------------------------------------------

    def find(self, method: str, path: str) -> list[Recorded]:
        """Recorded requests whose path fully matches the regex ``path``."""
        pattern = re.compile(path)
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    async def wait_for(self, predicate: Callable[[], Any], within: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy and return its value."""

        async def waiter() -> Any:
            async with self._changed:
                while not (value := predicate()):
                    await self._changed.wait()
                return value

        return await asyncio.wait_for(waiter(), within)

    async def wait_request(self, method: str, path: str, *, count: int = 1, within: float = 5.0) -> Recorded:
        """Wait for the ``count``-th successful request matching and return it."""

        def done() -> Recorded | None:
            hits = [r for r in self.find(method, path) if 200 <= r.status < 300]
            return hits[count - 1] if len(hits) >= count else None

        return await self.wait_for(done, within)

    def callback(self, interaction: SentInteraction) -> Recorded | None:
        hits = [
            r for r in self.find("POST", rf"/interactions/{interaction.id}/[^/]+/callback") if r.status == 200
        ]
        return hits[0] if hits else None

    def answers(self, interaction: SentInteraction) -> list[dict[str, Any]]:
        """Message bodies the bot showed for an interaction: a direct reply, follow-ups, edits."""
        bodies: list[dict[str, Any]] = []
        cb = self.callback(interaction)
        if cb is not None and cb.json.get("type") in (4, 7):
            bodies.append(cb.json.get("data") or {})
        hook = rf"/webhooks/{self.app_id}/{re.escape(interaction.token)}(/messages/@original)?"
        for r in self.requests:
            if r.method in ("POST", "PATCH") and re.fullmatch(hook, r.path) and r.status == 200:
                bodies.append(r.json)
        return bodies

    async def wait_answer(self, interaction: SentInteraction, within: float = 5.0) -> dict[str, Any]:
        """The first message body shown for an interaction (not a bare defer)."""
        return (await self.wait_for(lambda: self.answers(interaction), within))[0]

    def dm_bodies(self, user: StandinUser) -> list[dict[str, Any]]:
        """Bodies of messages successfully posted into a user's DM channel."""
        channels = {cid for cid, uid in self.dm_channels.items() if uid == user.id}
        return [
            r.json
            for r in self.requests
            if r.method == "POST"
            and r.status == 200
            and not r.duplicate
            and (m := re.fullmatch(r"/channels/(\d+)/messages", r.path))
            and m.group(1) in channels
        ]

    def dm_arrivals(self, user: StandinUser) -> list[Recorded]:
        """Messages posted into a user's DM channel, answered or not (yet)."""
        return [
            r
            for r in self.requests
            if self._is_dm_post(r.method, r.path, user.id)
            and (r.status == 0 or 200 <= r.status < 300)
            and not r.duplicate
        ]

    def _is_dm_post(self, method: str, path: str, user_id: str | None = None) -> bool:
        m = re.fullmatch(r"/channels/(\d+)/messages", path)
        if method != "POST" or m is None or m.group(1) not in self.dm_channels:
            return False
        return user_id is None or self.dm_channels[m.group(1)] == user_id

    def messages_in(self, channel_id: str) -> list[dict[str, Any]]:
        """The messages a channel holds now, oldest first (deleted ones are gone)."""
        return self.held.get(channel_id, [])

    def channel_bodies(self, channel_id: str) -> list[dict[str, Any]]:
        return [
            r.json
            for r in self.find("POST", rf"/channels/{channel_id}/messages")
            if r.status == 200 and not r.duplicate
        ]

    # ----- driving the bot ----------------------------------------------------------

    async def slash(self, user: StandinUser, name: str, **options: str) -> SentInteraction:
        """The user runs a guild slash command."""
        data: dict[str, Any] = {
            "id": self._command_id(name),
            "name": name,
            "type": 1,
            "guild_id": self.guild_id,
            "options": [{"name": k, "type": 3, "value": v} for k, v in options.items()],
        }
        return await self._interact(user, 2, data)

    async def autocomplete(self, user: StandinUser, name: str, option: str, typed: str) -> SentInteraction:
        data = {
            "id": self._command_id(name),
            "name": name,
            "type": 1,
            "guild_id": self.guild_id,
            "options": [{"name": option, "type": 3, "value": typed, "focused": True}],
        }
        return await self._interact(user, 4, data)

    async def click(
        self,
        user: StandinUser,
        custom_id: str,
        *,
        shown: dict[str, Any] | None = None,
        in_dm: bool = False,
    ) -> SentInteraction:
        """The user clicks a button on a bot message.

        ``shown`` is the message body the bot sent; without it, a message holding just
        that button (Discord always sends the clicked message along).
        """
        data = {"custom_id": custom_id, "component_type": 2}
        button = {"type": 2, "style": 1, "label": "Go", "custom_id": custom_id}
        body = shown or {"content": "", "components": [{"type": 1, "components": [button]}]}
        message = self._message(self.general, body)
        return await self._interact(user, 3, data, message=message, in_dm=in_dm)

    async def submit_modal(
        self, user: StandinUser, custom_id: str, values: dict[str, Any]
    ) -> SentInteraction:
        """The user submits a modal; text values are strings, select values lists."""
        components = []
        for key, value in values.items():
            if isinstance(value, list):
                inner = {"type": 3, "custom_id": key, "values": value}
            else:
                inner = {"type": 4, "custom_id": key, "value": value}
            components.append({"type": 18, "id": len(components) + 1, "component": inner})
        return await self._interact(user, 5, {"custom_id": custom_id, "components": components})

    def _command_id(self, name: str) -> str:
        for cmd in self.commands.get(self.guild_id, []) + self.commands.get(None, []):
            if cmd["name"] == name:
                return cmd["id"]
        return self.snowflake()  # an unknown command; the bot must still answer politely

    async def _interact(
        self,
        user: StandinUser,
        kind: int,
        data: dict[str, Any],
        *,
        message: dict[str, Any] | None = None,
        in_dm: bool = False,
    ) -> SentInteraction:
        interaction_id = self.snowflake()
        token = f"itoken-{interaction_id}"
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": self.app_id,
            "type": kind,
            "token": token,
            "version": 1,
            "data": data,
            "locale": user.locale,
            "attachment_size_limit": 10 * 1024 * 1024,
            "app_permissions": str(PLAIN_PERMISSIONS),
            "entitlements": [],
        }
        if in_dm:
            payload["channel"] = {"id": self.snowflake(), "type": 1}
            payload["user"] = user.payload()
            payload["context"] = 1
        else:
            payload["guild_id"] = self.guild_id
            payload["guild_locale"] = "en-US"
            payload["channel_id"] = self.general
            payload["channel"] = self.channels[self.general]
            payload["member"] = self._member(user)
            payload["context"] = 0
        if message is not None:
            payload["message"] = message
        sent = SentInteraction(interaction_id, token, payload)
        self.interactions[interaction_id] = sent
        await self.dispatch("INTERACTION_CREATE", payload)
        return sent

    def add_scheduled_event(self, name: str) -> str:
        """An event someone made by hand in the server (not one of the bot's)."""
        event_id = self.snowflake()
        self.scheduled_events[event_id] = {
            "id": event_id,
            "guild_id": self.guild_id,
            "name": name,
            "description": None,
            "scheduled_start_time": datetime.now(UTC).isoformat(),
            "scheduled_end_time": None,
            "privacy_level": 2,
            "entity_type": 3,
            "entity_metadata": {"location": "somewhere"},
            "status": 1,
            "creator_id": self.snowflake(),
            "channel_id": None,
            "entity_id": None,
            "user_count": 0,
        }
        return event_id

    async def mark_interested(self, user: StandinUser, event_id: str, *, notify: bool = True) -> None:
        """The user marks an event "Interested"; Discord tells the bot over the gateway (with
        only the ids), unless ``notify`` is False (the bot was away: only the list shows it)."""
        await self._mark(user, event_id, True, notify)

    async def unmark_interested(self, user: StandinUser, event_id: str, *, notify: bool = True) -> None:
        await self._mark(user, event_id, False, notify)

    async def _mark(self, user: StandinUser, event_id: str, added: bool, notify: bool) -> None:
        event = self.scheduled_events[event_id]  # one can only mark an event that exists
        marked = self.interested.setdefault(event_id, set())
        if (user.id in marked) == added:
            return  # Discord sends nothing when nothing changed
        (marked.add if added else marked.discard)(user.id)
        event["user_count"] = len(marked)
        if notify:
            data = {"guild_scheduled_event_id": event_id, "user_id": user.id, "guild_id": self.guild_id}
            await self.dispatch(
                "GUILD_SCHEDULED_EVENT_USER_ADD" if added else "GUILD_SCHEDULED_EVENT_USER_REMOVE", data
            )

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a DISPATCH event to every connected bot."""
        if not self._sockets:
            raise RuntimeError("no bot is connected to the stand-in gateway")
        for ws in list(self._sockets):
            self._seq += 1
            await ws.send_str(json.dumps({"op": 0, "t": event, "s": self._seq, "d": data}))

    # ----- payloads -----------------------------------------------------------------

    def _member(self, user: StandinUser) -> dict[str, Any]:
        return {
            "user": user.payload(),
            "roles": [],
            "flags": 0,
            "joined_at": "2025-01-01T00:00:00+00:00",
            "nick": None,
            "deaf": False,
            "mute": False,
            "permissions": str(user.permissions),
        }

    def _guild(self) -> dict[str, Any]:
        return {
            "id": self.guild_id,
            "name": self.guild_name,
            "owner_id": self.snowflake(),
            "unavailable": False,
            "large": False,
            "member_count": len(self.users) + 1,
            "roles": [
                {
                    "id": self.guild_id,
                    "name": "@everyone",
                    "permissions": str(PLAIN_PERMISSIONS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                }
            ],
            "channels": list(self.channels.values()),
            "members": [self._member(self.bot)],
            "emojis": [],
            "stickers": [],
            "features": [],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": list(self.scheduled_events.values()),
            "voice_states": [],
            "presences": [],
        }

    def _message(self, channel_id: str, body: dict[str, Any], *, flags: int = 0) -> dict[str, Any]:
        return {
            "id": self.snowflake(),
            "channel_id": channel_id,
            "type": 0,
            "content": body.get("content") or "",
            "author": self.bot.payload(),
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "flags": body.get("flags", flags) or 0,
        }

    # ----- HTTP ---------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: dict[str, bytes] = {}
        if request.can_read_body and request.content_type.startswith("multipart/"):
            # messages with attachments: the JSON in payload_json, each file as files[n]
            form = await request.post()
            for value in form.values():
                if isinstance(value, web.FileField):
                    files[value.filename] = value.file.read()
            body = json.loads(str(form.get("payload_json") or "null"))
        elif request.can_read_body:
            text = await request.text()
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = text
        record = Recorded(
            request.method, path, dict(request.query), body, headers=dict(request.headers), files=files
        )
        self.requests.append(record)
        if self.latency:
            await asyncio.sleep(self.latency)
        limited = self._over_global_limit()
        if limited is not None:
            status, payload, headers = limited
        else:
            status, payload, headers = self._answer(request, path, body, dict(request.query))
            if status == 200 and isinstance(payload, dict) and payload.pop("_duplicate", False):
                record.duplicate = True
        if self.dm_delay and 200 <= status < 300 and self._is_dm_post(request.method, path):
            # arrived (status 0 until answered), then a slow answer
            async with self._changed:
                self._changed.notify_all()
            await asyncio.sleep(self.dm_delay)
        record.status = status
        async with self._changed:
            self._changed.notify_all()
        if status == 204:
            return web.Response(status=204)
        # discord.py only parses JSON when the content type is exactly application/json
        headers = {"Content-Type": "application/json", **headers}
        return web.Response(status=status, body=json.dumps(payload).encode(), headers=headers)

    def _over_global_limit(self) -> tuple[int, Any, dict[str, str]] | None:
        """Discord's global rate limit, as a one-second window."""
        if not self.rate_limit:
            return None
        now = time.monotonic()
        if now - self._window_start >= 1.0:
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        if self._window_count <= self.rate_limit:
            return None
        self.over_limit += 1
        wait = max(1.0 - (now - self._window_start), 0.01)
        headers = {"Retry-After": f"{wait:.3f}", "X-RateLimit-Global": "true", "Via": "1.1 google"}
        body = {"message": "You are being rate limited.", "retry_after": wait, "global": True}
        return 429, body, headers

    def _answer(
        self, request: web.Request, path: str, body: Any, query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        for failure in self._failures:
            if failure.times > 0 and failure.method == request.method and failure.path.fullmatch(path):
                failure.times -= 1
                return failure.status, failure.body, failure.headers
        is_webhook = path.startswith(("/webhooks/", "/interactions/"))
        if not is_webhook and request.headers.get("Authorization") != f"Bot {self.token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        return self._route(request.method, path, body or {}, query)

    def _route(
        self, method: str, path: str, body: Any, query: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        query = query or {}
        ok: dict[str, str] = {}
        if method == "GET" and path == "/users/@me":
            return 200, self.bot.payload(), ok
        if method == "GET" and path == "/oauth2/applications/@me":
            return 200, self._application(), ok
        if method == "GET" and path in ("/gateway", "/gateway/bot"):
            return 200, {"url": self.gateway_url, "shards": 1}, ok
        if m := re.fullmatch(rf"/applications/{self.app_id}(?:/guilds/(\d+))?/commands", path):
            guild = m.group(1)
            if method == "PUT":
                self.commands[guild] = [self._command(c, guild) for c in body]
            return 200, self.commands.get(guild, []), ok
        if m := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", path):
            return self._interaction_callback(m.group(1), m.group(2), body)
        if m := re.fullmatch(rf"/webhooks/{self.app_id}/([^/]+)(/messages/@original)?", path):
            if m.group(1) not in {i.token for i in self.interactions.values()}:
                return 404, {"message": "Unknown Webhook", "code": 10015}, ok
            return 200, self._message(self.general, body), ok
        if method == "GET" and (
            m := re.fullmatch(rf"/guilds/{self.guild_id}/scheduled-events/(\d+)/users", path)
        ):
            return self._event_users(m.group(1), query)
        if m := re.fullmatch(rf"/guilds/{self.guild_id}/scheduled-events(?:/(\d+))?", path):
            return self._scheduled_event(method, m.group(1), body)
        if method == "GET" and (m := re.fullmatch(r"/users/(\d+)", path)):
            if m.group(1) not in self.users:
                return 404, {"message": "Unknown User", "code": 10013}, ok
            return 200, self.users[m.group(1)].payload(), ok
        if method == "POST" and path == "/users/@me/channels":
            user_id = str(body.get("recipient_id"))
            if user_id not in self.users:
                return 404, {"message": "Unknown User", "code": 10013}, ok
            channel_id = next((c for c, u in self.dm_channels.items() if u == user_id), None)
            if channel_id is None:
                channel_id = self.snowflake()
                self.dm_channels[channel_id] = user_id
            recipient = self.users[user_id].payload()
            return 200, {"id": channel_id, "type": 1, "recipients": [recipient], "last_message_id": None}, ok
        if method == "POST" and (m := re.fullmatch(r"/channels/(\d+)/messages", path)):
            channel_id = m.group(1)
            if channel_id in self.dm_channels:
                if self.users[self.dm_channels[channel_id]].dms_closed:
                    return 403, {"message": "Cannot send messages to this user", "code": 50007}, ok
            elif channel_id not in self.channels:
                return 404, {"message": "Unknown Channel", "code": 10003}, ok
            nonce = body.get("nonce") if body.get("enforce_nonce") else None
            if nonce is not None:
                seen = self._nonces.get(str(nonce))
                if seen is not None and time.monotonic() - seen[0] < self.nonce_window:
                    return 200, {**seen[1], "_duplicate": True}, ok
            message = self._message(channel_id, body)
            if nonce is not None:
                message["nonce"] = str(nonce)
                self._nonces[str(nonce)] = (time.monotonic(), message)
            self.held.setdefault(channel_id, []).append(message)
            return 200, message, ok
        if method == "DELETE" and (m := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", path)):
            channel_id, message_id = m.group(1), m.group(2)
            if channel_id not in self.channels and channel_id not in self.dm_channels:
                return 404, {"message": "Unknown Channel", "code": 10003}, ok
            held = self.held.get(channel_id, [])
            for message in held:
                if message["id"] == message_id:
                    held.remove(message)
                    return 204, None, ok
            return 404, {"message": "Unknown Message", "code": 10008}, ok
        return 404, {"message": "404: Not Found", "code": 0}, ok

    def _event_users(self, event_id: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """GET …/scheduled-events/{id}/users: the users marked "Interested", by user id, at most
        ``limit`` (1-100, default 100) after ``after`` (or the last ones before ``before``)."""
        if event_id not in self.scheduled_events:
            return 404, {"message": "Unknown Guild Scheduled Event", "code": 10070}, {}
        try:
            limit = int(query.get("limit", 100))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return 400, {"message": "Invalid Form Body", "code": 50035}, {}
        ids = sorted(self.interested.get(event_id, set()), key=int)
        if "before" in query:
            ids = [i for i in ids if int(i) < int(query["before"])][-limit:]
        else:
            ids = [i for i in ids if int(i) > int(query.get("after", 0))][:limit]
        with_member = query.get("with_member") in ("1", "true", "True")
        page = []
        for user_id in ids:
            entry: dict[str, Any] = {
                "guild_scheduled_event_id": event_id,
                "user": self.users[user_id].payload(),
            }
            if with_member:
                entry["member"] = {k: v for k, v in self._member(self.users[user_id]).items() if k != "user"}
            page.append(entry)
        return 200, page, {}

    def _scheduled_event(
        self, method: str, event_id: str | None, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        """Guild scheduled events: create, edit, delete, list."""
        if method == "GET" and event_id is None:
            return 200, list(self.scheduled_events.values()), {}
        if method == "POST" and event_id is None:
            event = {
                **body,
                "id": self.snowflake(),
                "guild_id": self.guild_id,
                "status": 1,
                "creator_id": self.app_id,
                "channel_id": None,
                "entity_id": None,
                "user_count": 0,
            }
            self.scheduled_events[event["id"]] = event
            return 200, event, {}
        if event_id not in self.scheduled_events:
            return 404, {"message": "Unknown Guild Scheduled Event", "code": 10070}, {}
        if method == "PATCH":
            self.scheduled_events[event_id].update(body)
            return 200, self.scheduled_events[event_id], {}
        if method == "DELETE":
            del self.scheduled_events[event_id]
            self.interested.pop(event_id, None)
            return 204, None, {}
        return 405, {"message": "405: Method Not Allowed", "code": 0}, {}

    def _interaction_callback(
        self, interaction_id: str, token: str, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        sent = self.interactions.get(interaction_id)
        if sent is None or sent.token != token:
            return 404, {"message": "Unknown interaction", "code": 10062}, {}
        if sent.acked_at is not None:
            return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}, {}
        now = time.monotonic()
        if now - sent.sent_at > self.ack_deadline:
            sent.late = True
            return 404, {"message": "Unknown interaction", "code": 10062}, {}
        sent.acked_at = now
        kind = body.get("type")
        data = body.get("data") or {}
        info: dict[str, Any] = {"id": interaction_id, "type": sent.payload["type"]}
        result: dict[str, Any] = {"interaction": info}
        if kind in (4, 7):
            info["response_message_id"] = self.snowflake()
            info["response_message_ephemeral"] = bool(data.get("flags", 0) & 64)
            message = self._message(self.general, data)
            message["id"] = info["response_message_id"]
            result["resource"] = {"type": kind, "message": message}
        elif kind in (5, 6):
            info["response_message_loading"] = kind == 5
            info["response_message_ephemeral"] = bool(data.get("flags", 0) & 64)
        # the real API answers 200 with a body when with_response is set (never 204)
        return 200, result, {}

    def _command(self, spec: dict[str, Any], guild: str | None) -> dict[str, Any]:
        existing = {c["name"]: c["id"] for c in self.commands.get(guild, [])}
        command = dict(spec)
        command.update(
            id=existing.get(spec["name"]) or self.snowflake(),
            application_id=self.app_id,
            version=self.snowflake(),
            type=spec.get("type", 1),
        )
        if guild is not None:
            command["guild_id"] = guild
        return command

    def _application(self) -> dict[str, Any]:
        return {
            "id": self.app_id,
            "name": "Roundtable",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": {"id": self.snowflake(), "username": "owner", "discriminator": "0", "avatar": None},
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
        }

    # ----- gateway ------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op = frame.get("op")
                if op == 1:
                    self.heartbeats += 1
                    await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
                elif op == 2:
                    await self._identify(ws, frame["d"])
                elif op == 6:
                    # a resume after a dropped connection: pick up where it left off
                    self._sockets.append(ws)
                    self._seq += 1
                    await ws.send_str(json.dumps({"op": 0, "t": "RESUMED", "s": self._seq, "d": {}}))
        finally:
            if ws in self._sockets:
                self._sockets.remove(ws)
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        async with self._changed:
            self._changed.notify_all()
        if not self.send_ready:
            return
        self._sockets.append(ws)
        self._seq += 1
        ready = {
            "v": 10,
            "user": self.bot.payload(),
            "guilds": [{"id": self.guild_id, "unavailable": True}],
            "session_id": "standin-session",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": self.app_id, "flags": 0},
            "shard": [0, 1],
        }
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": self._seq, "d": ready}))
        self._seq += 1
        await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": self._seq, "d": self._guild()}))
