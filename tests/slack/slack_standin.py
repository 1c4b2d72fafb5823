"""A local stand-in for the Slack Web API, Socket Mode and the people who click in Slack.

The real slack_sdk / slack-bolt talk to it over HTTP and a websocket on 127.0.0.1.
It records every request (method, merged query + form + JSON arguments), so tests
assert on what the bot actually sent. It also plays Slack's side towards the bot:
signed slash commands, ``block_actions`` and ``view_submission`` payloads, and
Socket Mode envelopes that wait for the bot's acknowledgement.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

BOT_TOKEN = "xoxb-standin-bot-token"
APP_TOKEN = "xapp-standin-app-token"
SIGNING_SECRET = "standin-signing-secret"
TEAM_ID = "T0STANDIN"
BOT_USER_ID = "UBOTSTANDIN"


@dataclass
class Recorded:
    """One request the bot made."""

    method: str  # a Web API method such as "chat.postMessage", or "response_url"
    path: str
    args: dict[str, Any]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival
    status: int = 200


@dataclass
class _Failure:
    error: str
    times: int | None  # None: for ever
    where: dict[str, str]
    status: int = 200
    retry_after: int | None = None


@dataclass
class User:
    id: str
    name: str
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    display: str = ""  # the profile's display name; empty like many real profiles
    tz: str = "Europe/Paris"  # Slack always gives a zone
    locale: str = "en-US"  # only with include_locale=true


@dataclass
class SlackStandIn:
    """The fake Slack. ``await start()``, point ``api_url`` at it, ``await close()``."""

    team_id: str = TEAM_ID
    bot_token: str = BOT_TOKEN
    app_token: str = APP_TOKEN
    requests: list[Recorded] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)
    channels: set[str] = field(default_factory=set)  # public channels the bot may post in
    # files.getUploadURLExternal ids -> filename, the bytes uploaded, the channel shared into
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    # seconds before answering a chat.postMessage to a person (recorded on arrival): sends in flight
    dm_delay: float = 0.0
    # every Web API call takes this long (seconds)
    latency: float = 0.0
    # chat.postMessage calls per second the workspace takes before answering 429 (None: no limit)
    post_rate: float | None = None
    # what each conversation holds, oldest first, as conversations.history returns it
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _post_window: list[float] = field(default_factory=list)
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _port: int = 0
    _changed: asyncio.Condition | None = None
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _socket_open: asyncio.Event | None = None
    _ts: Any = field(default_factory=lambda: itertools.count(1))

    # ---- lifecycle -------------------------------------------------------------

    async def start(self) -> SlackStandIn:
        self._changed = asyncio.Condition()
        self._socket_open = asyncio.Event()
        self.users.setdefault(BOT_USER_ID, User(BOT_USER_ID, "roundtable", is_bot=True))
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, key: str = "") -> str:
        return f"{self.url}/respond/{key or uuid.uuid4().hex[:8]}"

    # ---- configuration ---------------------------------------------------------

    def add_user(self, user_id: str, name: str, **flags: Any) -> User:
        user = User(user_id, name, **flags)
        self.users[user_id] = user
        return user

    def fail(
        self, method: str, error: str, *, times: int | None = 1, status: int = 200, **where: str
    ) -> None:
        """Answer ``method`` with ``{"ok": false, "error": error}``; ``where`` matches arguments."""
        self._failures.setdefault(method, []).append(_Failure(error, times, where, status))

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 0, **where: str) -> None:
        """Answer ``method`` with HTTP 429 and ``Retry-After`` ``times`` times."""
        self._failures.setdefault(method, []).append(
            _Failure("ratelimited", times, where, status=429, retry_after=retry_after)
        )

    # ---- what was recorded -----------------------------------------------------

    def calls(self, method: str, **where: Any) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if r.method == method and all(r.args.get(k) == v for k, v in where.items())
        ]

    def dms_to(self, user_id: str) -> list[Recorded]:
        """chat.postMessage calls addressed to a person (by user id or their DM channel)."""
        return [
            r for r in self.calls("chat.postMessage") if r.args.get("channel") in (user_id, "D" + user_id[1:])
        ]

    def responses(self, key: str | None = None) -> list[dict[str, Any]]:
        """Bodies posted to response URLs (ephemeral replies to commands and clicks)."""
        return [r.args for r in self.calls("response_url") if key is None or r.path.endswith(f"/{key}")]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        *,
        within: float = 5.0,
        match: Callable[[Recorded], bool] | None = None,
        **where: Any,
    ) -> list[Recorded]:
        """Wait until ``count`` matching requests arrived; return them all."""
        assert self._changed is not None

        def found() -> list[Recorded]:
            return [r for r in self.calls(method, **where) if match is None or match(r)]

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(found()) >= count), within)
            except TimeoutError:
                seen = [(r.method, r.args) for r in self.requests]
                raise AssertionError(f"no {count}x {method} {where} within {within}s; saw {seen}") from None
        return found()

    async def quiet(self, seconds: float = 0.2) -> None:
        """Let in-flight background work land before asserting that nothing happened."""
        await asyncio.sleep(seconds)

    # ---- the Web API -----------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _merged_args(request)
        token = args.pop("token", None) or request.headers.get("Authorization", "").removeprefix("Bearer ")
        record = Recorded(method, request.path, args, dict(request.headers), time.monotonic())
        await self._record(record)

        if self.latency:
            await asyncio.sleep(self.latency)
        failure = self._take_failure(method, args)
        if failure is None and method == "chat.postMessage" and self.post_rate:
            now = time.monotonic()
            self._post_window = [t for t in self._post_window if now - t < 1.0]
            if len(self._post_window) >= self.post_rate:
                failure = _Failure("ratelimited", 1, {}, status=429, retry_after=1)
            else:
                self._post_window.append(now)
        if failure is not None:
            record.status = failure.status
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            return web.json_response(
                {"ok": False, "error": failure.error}, status=failure.status, headers=headers
            )

        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != wanted:
            other = self.bot_token if wanted == self.app_token else self.app_token
            error = (
                "not_allowed_token_type"
                if token == other
                else ("not_authed" if not token else "invalid_auth")
            )
            return web.json_response({"ok": False, "error": error})

        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        body = handler(args) if handler else {"ok": True}
        if (
            self.dm_delay
            and method == "chat.postMessage"
            and str(args.get("channel", "")).startswith(("U", "D"))
        ):
            await asyncio.sleep(self.dm_delay)
        return web.json_response(body)

    def _take_failure(self, method: str, args: dict[str, Any]) -> _Failure | None:
        for failure in self._failures.get(method, []):
            if failure.times == 0:
                continue
            if all(str(args.get(k)) == v for k, v in failure.where.items()):
                if failure.times is not None:
                    failure.times -= 1
                return failure
        return None

    async def _record(self, record: Recorded) -> None:
        assert self._changed is not None
        async with self._changed:
            self.requests.append(record)
            self._changed.notify_all()

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://standin.slack.com/",
            "team": "Stand-in",
            "team_id": self.team_id,
            "user": "roundtable",
            "user_id": BOT_USER_ID,
            "bot_id": "BSTANDIN",
        }

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self._port}/socket"}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {
            "ok": True,
            "user": {
                "id": user.id,
                "team_id": self.team_id,
                "name": user.name,
                "deleted": user.deleted,
                "is_admin": user.is_admin,
                "is_owner": user.is_owner,
                "is_bot": user.is_bot,
                "profile": {"display_name": user.display, "real_name": user.name.title()},
                "tz": user.tz,
                "tz_label": user.tz,
                **(
                    {"locale": user.locale}
                    if str(args.get("include_locale")).lower() in ("true", "1")
                    else {}
                ),
            },
        }

    def _dm_channel(self, user_id: str) -> tuple[str | None, str | None]:
        user = self.users.get(user_id)
        if user is None or user.deleted:
            return None, "user_not_found"
        if user.is_bot:
            return None, "cannot_dm_bot"
        return "D" + user_id[1:], None

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, error = self._dm_channel(str(args.get("users", "")).split(",")[0])
        if error:
            return {"ok": False, "error": error}
        return {"ok": True, "channel": {"id": channel}}

    def _m_conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel"))
        if not channel.startswith("C"):
            return {"ok": False, "error": "channel_not_found"}
        self.channels.add(channel)
        return {"ok": True, "channel": {"id": channel}}

    def _target(self, channel: str) -> tuple[str | None, str | None]:
        if channel.startswith("U"):
            return self._dm_channel(channel)
        if channel.startswith("D"):
            return (channel, None) if "U" + channel[1:] in self.users else (None, "channel_not_found")
        if channel in self.channels:
            return channel, None
        return None, "not_in_channel" if channel.startswith("C") else "channel_not_found"

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, error = self._target(str(args.get("channel", "")))
        if error:
            return {"ok": False, "error": error}
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        message: dict[str, Any] = {"type": "message", "text": args.get("text"), "ts": ts, "user": BOT_USER_ID}
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata:
            message["metadata"] = metadata
        self.history.setdefault(str(channel), []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """Take a message the bot posted out of its conversation (``message_not_found`` if none)."""
        channel, ts = str(args.get("channel", "")), str(args.get("ts", ""))
        if channel not in self.history and channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        held = self.history.get(channel, [])
        for message in held:
            if message.get("ts") == ts:
                if message.get("user") != BOT_USER_ID:
                    return {"ok": False, "error": "cant_delete_message"}
                held.remove(message)
                return {"ok": True, "channel": channel, "ts": ts}
        return {"ok": False, "error": "message_not_found"}

    def posts_in(self, channel: str) -> list[dict[str, Any]]:
        """The messages a channel holds, oldest first."""
        return self.history.get(channel, [])

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Newest first; message metadata only with include_all_metadata, as Slack does."""
        channel = str(args.get("channel", ""))
        if not channel.startswith(("C", "D")):
            return {"ok": False, "error": "channel_not_found"}
        limit = int(args.get("limit") or 100)
        full = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        messages = list(reversed(self.history.get(channel, [])))[:limit]
        if not full:
            messages = [{k: v for k, v in m.items() if k != "metadata"} for m in messages]
        return {"ok": True, "messages": messages, "has_more": False}

    def delivered(self, user_id: str) -> list[dict[str, Any]]:
        """The messages a person's DM conversation holds."""
        return self.history.get("D" + user_id[1:], [])

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": f"{int(time.time())}.{next(self._ts):06d}"}

    def _view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        return {"ok": True, "view": {**(view or {}), "id": "V" + uuid.uuid4().hex[:8].upper()}}

    _m_views_open = _view
    _m_views_publish = _view
    _m_views_update = _view
    _m_views_push = _view

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        self.uploads[file_id] = {"filename": args["filename"], "data": None, "channel": None}
        return {
            "ok": True,
            "file_id": file_id,
            "upload_url": f"http://127.0.0.1:{self._port}/upload/{file_id}",
        }

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        files = json.loads(files) if isinstance(files, str) else files or []
        shared = []
        for item in files:
            upload = self.uploads.get(item.get("id"))
            if upload is None or upload["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            upload["channel"] = args.get("channel_id")
            shared.append({"id": item["id"], "title": item.get("title"), "name": upload["filename"]})
        return {"ok": True, "files": shared}

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="unknown upload")
        upload["data"] = await request.read()
        return web.Response(text="OK - " + str(len(upload["data"])))

    # ---- response_url ----------------------------------------------------------

    async def _respond(self, request: web.Request) -> web.Response:
        args = await _merged_args(request)
        await self._record(
            Recorded("response_url", request.path, args, dict(request.headers), time.monotonic())
        )
        return web.Response(text="ok")

    # ---- Socket Mode -----------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "ASTANDIN"}})
        assert self._socket_open is not None
        self._socket_open.set()
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                waiter = self._acks.pop(data.get("envelope_id", ""), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(data)
        finally:
            self._sockets.remove(ws)
        return ws

    async def wait_socket(self, within: float = 5.0) -> None:
        assert self._socket_open is not None
        await asyncio.wait_for(self._socket_open.wait(), within)

    async def send_envelope(self, kind: str, payload: dict[str, Any], within: float = 3.0) -> dict[str, Any]:
        """Push a Socket Mode envelope; return the bot's ack (Slack wants it within 3 s)."""
        await self.wait_socket()
        envelope_id = uuid.uuid4().hex
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = waiter
        message = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        await self._sockets[-1].send_json(message)
        return await asyncio.wait_for(waiter, within)

    # ---- Slack's side: payloads that people's actions produce --------------------

    def slash(
        self,
        command: str,
        text: str = "",
        *,
        user: str,
        name: str = "",
        channel: str = "C0GENERAL",
        key: str = "",
    ) -> dict[str, str]:
        """The form fields of a slash command, as Slack posts them."""
        return {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "team_domain": "standin",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": name or self.users.get(user, User(user, user.lower())).name,
            "command": command,
            "text": text,
            "api_app_id": "ASTANDIN",
            "response_url": self.response_url(key),
            "trigger_id": "trigger." + uuid.uuid4().hex[:8],
        }

    def _user(self, user: str, name: str) -> dict[str, str]:
        return {
            "id": user,
            "username": name or self.users.get(user, User(user, user.lower())).name,
            "name": name or self.users.get(user, User(user, user.lower())).name,
            "team_id": self.team_id,
        }

    def click(
        self,
        value: str,
        *,
        user: str,
        name: str = "",
        action_id: str = "rt_cmd_0",
        key: str = "",
        home: bool = False,
    ) -> dict[str, Any]:
        """A ``block_actions`` payload: ``user`` clicked a button whose value is ``value``."""
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": self.team_id, "domain": "standin"},
            "user": self._user(user, name),
            "api_app_id": "ASTANDIN",
            "trigger_id": "trigger." + uuid.uuid4().hex[:8],
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "actions",
                    "value": value,
                    "action_ts": str(time.time()),
                }
            ],
        }
        if home:
            payload["container"] = {"type": "view", "view_id": "VHOME"}
            payload["view"] = {"id": "VHOME", "type": "home", "blocks": []}
        else:
            payload["container"] = {"type": "message", "is_ephemeral": True, "channel_id": "C0GENERAL"}
            payload["channel"] = {"id": "C0GENERAL", "name": "general"}
            payload["response_url"] = self.response_url(key)
        return payload

    def submit(
        self, view: dict[str, Any], values: dict[str, dict[str, Any]], *, user: str, name: str = ""
    ) -> dict[str, Any]:
        """A ``view_submission`` payload for ``view`` (as the bot opened it) with ``values``.

        ``values`` maps block_id to the element state, e.g. ``{"text": {"type":
        "plain_text_input", "value": "..."}}``; the action_id is taken from the view.
        """
        state: dict[str, dict[str, Any]] = {}
        for block in view.get("blocks", []):
            block_id = block.get("block_id")
            if block_id in values:
                action_id = block.get("element", {}).get("action_id", block_id)
                state[block_id] = {action_id: values[block_id]}
        return {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": "standin"},
            "user": self._user(user, name),
            "api_app_id": "ASTANDIN",
            "trigger_id": "trigger." + uuid.uuid4().hex[:8],
            "view": {**view, "id": "VMODAL", "state": {"values": state}},
        }

    def home_opened(self, *, user: str) -> dict[str, Any]:
        """An Events API body for ``app_home_opened`` on the Home tab."""
        return {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "api_app_id": "ASTANDIN",
            "type": "event_callback",
            "event_id": "Ev" + uuid.uuid4().hex[:8].upper(),
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": BOT_USER_ID, "is_bot": True}],
            "event": {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": "home"},
        }


# ---- signing (Slack's side of HTTP mode) ------------------------------------------


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds to a request it sends to an app."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def encode(kind: str, payload: dict[str, Any]) -> tuple[str, str]:
    """The body and content type Slack uses for a payload of this kind."""
    if kind == "slash_commands":
        return urlencode(payload), "application/x-www-form-urlencoded"
    if kind == "interactive":
        return urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
    return json.dumps(payload), "application/json"


async def post_signed(
    url: str,
    kind: str,
    payload: dict[str, Any],
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    tamper: bool = False,
    retry: int | None = None,
) -> tuple[int, str]:
    """POST a payload to the bot as Slack would; return (status, body).

    ``retry`` sends it as Slack's n-th retry of an unanswered request (``X-Slack-Retry-Num``)."""
    body, content_type = encode(kind, payload)
    headers = {"Content-Type": content_type, **sign(secret, body, timestamp)}
    if retry is not None:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    if tamper:
        body = body.replace("text=", "text=x", 1) if "text=" in body else body + " "
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as resp:
        return resp.status, await resp.text()


async def _merged_args(request: web.Request) -> dict[str, Any]:
    """Query, form and JSON arguments in one dict (slack_sdk spreads them across all three)."""
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        content_type = request.content_type
        if content_type == "application/json":
            data = await request.json()
            if isinstance(data, dict):
                args.update(data)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    # structured arguments arrive as JSON strings in forms; decode the usual ones
    for key in ("blocks", "view", "attachments"):
        if isinstance(args.get(key), str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(args[key])
    return args
