"""The Slack adapter: a slack-bolt ``AsyncApp`` in front of the shared core.

It turns slash commands, button clicks, the insight modal and the App Home tab into
calls on :class:`shared.app.Roundtable`, renders the core's neutral replies as Block
Kit, and implements the core's :class:`shared.port.DeliveryPort` (DMs and insight
posts). The rules live in the core; this module only translates.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import logging
import random
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bots.slack import render, verify, views
from bots.slack.settings import SlackSettings
from shared import i18n, replies
from shared.commands import COMMANDS, CommandLineError, parse_line
from shared.errors import AdapterDied, AdapterStartError
from shared.identity import Identity, Reach, Recipient
from shared.inbound import Admission
from shared.messages import InsightPost, Message
from shared.pacing import AdaptivePacer
from shared.port import (
    CANNOT_DELETE,
    CANNOT_DM_BOT,
    PLATFORM_ERROR,
    UNKNOWN_CHANNEL,
    UNKNOWN_USER,
    DeliveryError,
    Receipt,
)
from shared.replies import file_not_delivered, form_not_opened, insight_form_not_opened

if TYPE_CHECKING:
    from shared.app import Roundtable
from shared.zones import canonical

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
USER_CACHE_SECONDS = 300.0
USER_LOOKUP_TIMEOUT = 1.5  # the modal's answer must leave within Slack's 3 seconds
CONNECT_TIMEOUT = 30.0
RESPONSE_URL_TIMEOUT = 10.0
# connections waiting to be accepted: a launch burst opens hundreds at once, and a connection
# the kernel's accept queue has no room for is dropped and tried again by its sender only a
# second later (aiohttp's default is 128; the kernel caps it at net.core.somaxconn)
LISTEN_BACKLOG = 2048
# lines a minute of each kind of warning a request may cause (see _warn)
WARNINGS_PER_MINUTE = 5
# a request body answered already: Slack's retries (X-Slack-Retry-Num) of it are dropped
SEEN_REQUESTS = 4096
SEND_TIMEOUT = 10.0
# Socket Mode supervision: how often the connection is checked, and the reconnect backoff
WATCH_EVERY = 2.0
RECONNECT_BASE = 1.0
RECONNECT_CAP = 30.0
# the message metadata every delivery carries: the queued row's key
METADATA_EVENT = "roundtable_delivery"
# how many recent messages of a conversation are searched for a row's key
HISTORY_LOOKBACK = 100

# Slack errors that mean the person cannot be reached, and those that mean the channel is gone
_USER_GONE = {"user_not_found", "channel_not_found", "user_disabled", "account_inactive_user"}
_CHANNEL_GONE = {"channel_not_found", "is_archived", "not_in_channel"}
# errors a later attempt may cure (the dispatcher retries these a few times)
_TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


def _bolt_request(request: web.Request, admitted: verify.Admitted) -> AsyncBoltRequest:
    """Bolt's request over the fields the gate parsed already.

    bolt would parse the body again, and its form parser returns nothing at all for a form
    with "payload" anywhere in it (a slash command's text included). A parsed body is what
    bolt takes from Socket Mode; the request is then marked as the HTTP request it is (the
    mode only tells bolt's own signature check, which is off, what to skip)."""
    bolt = AsyncBoltRequest(
        body=admitted.body,
        query=request.query_string or None,
        headers=request.headers,  # type: ignore[arg-type]
        mode="socket_mode",
    )
    bolt.mode = "http"
    bolt.raw_body = admitted.text
    return bolt


def _aiohttp_response(response: BoltResponse) -> web.Response:
    """bolt's answer for aiohttp: its acks carry a body and a content type (no OAuth flow here,
    so never a cookie)."""
    body = response.body or ""
    kind = "application/json" if body.startswith("{") else "text/plain"
    return web.Response(status=response.status, text=body, content_type=kind)


def _secret(value: Any) -> str:
    if value is None:
        return ""
    getter = getattr(value, "get_secret_value", None)
    return (getter() if getter else str(value)).strip()


def _api_url(url: str) -> str:
    # slack_sdk joins method names onto base_url, which therefore needs its trailing slash
    url = (url or "https://slack.com/api/").strip()
    return url if url.endswith("/") else url + "/"


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        try:
            return str(exc.response.get("error") or f"http_{exc.response.status_code}")
        except Exception:  # a response without a JSON body
            return "unknown_error"
    return type(exc).__name__


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    return int(getattr(response, "status_code", 0) or 0)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, SlackApiError):
        return _error_code(exc) in _TRANSIENT or _status(exc) >= 500
    return True  # network errors and timeouts


NETWORK_ERRORS = (SlackClientError, aiohttp.ClientError, TimeoutError, OSError)


def _retry_after(exc: BaseException) -> float | None:
    """Seconds Slack asks to wait after a 429, or None when it is not a rate limit."""
    if not isinstance(exc, SlackApiError) or (_status(exc) != 429 and _error_code(exc) != "ratelimited"):
        return None
    try:
        return max(float(exc.response.headers.get("Retry-After", 1)), 0.0)
    except (TypeError, ValueError, AttributeError):
        return 1.0


def _delivery_error(exc: BaseException, *, to_channel: str | None, deleting: bool = False) -> DeliveryError:
    """Slack's answer to a DM (``to_channel`` None), a channel post or, ``deleting``, a
    post's removal, as the core's reason (a removal Slack refuses for good: CANNOT_DELETE)."""
    code = _error_code(exc)
    wait = _retry_after(exc)
    if wait is not None:
        return DeliveryError(PLATFORM_ERROR, f"{code}, retry after {wait:g}s", retry_after=wait)
    if not isinstance(exc, SlackApiError):
        return DeliveryError(PLATFORM_ERROR, code, retryable=True)
    if deleting and not _transient(exc):
        return DeliveryError(CANNOT_DELETE, f"{to_channel}: {code}")
    if to_channel is None:
        if code == "cannot_dm_bot":
            return DeliveryError(CANNOT_DM_BOT, code)
        if code in _USER_GONE:
            return DeliveryError(UNKNOWN_USER, code)
    elif code in _CHANNEL_GONE or code in {"method_not_supported_for_channel_type", "missing_scope"}:
        return DeliveryError(UNKNOWN_CHANNEL, f"{to_channel}: {code}")
    return DeliveryError(PLATFORM_ERROR, code, retryable=_transient(exc))


class SlackAdapter:
    """One Slack workspace, served over Socket Mode (:meth:`start`) or HTTP (:meth:`start_http`)."""

    platform = "slack"
    label = "Slack"

    def __init__(self, core: Roundtable, settings: SlackSettings) -> None:
        self.core = core
        self._bot_token = _secret(settings.bot_token)
        self._app_token = _secret(settings.app_token)
        self._signing_secret = _secret(settings.signing_secret)
        self.mode: str = settings.mode
        self.api_url = _api_url(settings.api_url)
        self.port: int = settings.port
        self._admins = {a.strip() for a in settings.admin_ids if a.strip()}
        self._closed = asyncio.Event()
        if not self._bot_token:
            raise AdapterStartError(
                "SLACK_BOT_TOKEN is not set. Copy the app's Bot User OAuth Token (xoxb-…) from "
                "OAuth & Permissions at https://api.slack.com/apps."
            )
        self.client = AsyncWebClient(
            token=self._bot_token,
            base_url=self.api_url,
            timeout=15,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=2),
                # 429: wait for Retry-After, then try again
                AsyncRateLimitErrorRetryHandler(max_retry_count=3),
                AsyncServerErrorRetryHandler(max_retry_count=2),
            ],
        )
        # sends have a client of their own: no retries that sleep inside a send (the
        # dispatcher reschedules the row) and a short timeout; 429s pace the lane
        self.delivery = AsyncWebClient(
            token=self._bot_token,
            base_url=self.api_url,
            timeout=SEND_TIMEOUT,
            retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=1)],
        )
        self.pacer = AdaptivePacer()

        async def authorize(team_id: str | None) -> AuthorizeResult | None:
            """Every request's authorization, from the auth.test made once at start."""
            return self._auth

        self.app = AsyncApp(
            # bolt's client carries no token: ``_authorize`` hands it the bot token per request
            # from the one auth.test made at start, where bolt's own would call auth.test for
            # every request of a burst that arrives before the first call returns
            client=AsyncWebClient(base_url=self.api_url, timeout=15),
            authorize=authorize,
            signing_secret=self._signing_secret,
            # HTTP requests are verified once, by the gate in _http_events (signature and
            # timestamp window, before any parsing); Socket Mode requests are not signed at all.
            # ssl_check and url_verification are answered there too. The other middleware is
            # for events we never take (the gate and the manifest let only app_home_opened in,
            # never the bot's own) and for workflow functions we do not have. Every middleware
            # is an await per request, and in a burst every request counts.
            request_verification_enabled=False,
            ssl_check_enabled=False,
            url_verification_enabled=False,
            ignoring_self_events_enabled=False,
            attaching_function_token_enabled=False,
            # the listeners only ack and queue (the core's work queue answers later), so bolt
            # may run them before answering: no background task and no polling per request
            process_before_response=True,
            logger=logging.getLogger("bots.slack.bolt"),
        )
        self._auth: AuthorizeResult | None = None
        self._session: aiohttp.ClientSession | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._warnings = verify.LogLimiter(per_minute=WARNINGS_PER_MINUTE)
        self._lookups: dict[str, asyncio.Task[dict[str, Any] | None]] = {}
        self.team_id: str | None = None
        self.bot_user_id: str | None = None
        self._connected = False
        self._attached = False
        self.state = "starting"
        self.reconnect_within = core.settings.reconnect_within
        self._failure: str | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._users: dict[str, tuple[dict[str, Any] | None, float]] = {}
        self._gate = verify.Gate(
            self._signing_secret,
            verify.Served(
                commands=frozenset(f"/{name}" for name in COMMANDS),
                action_id=render.ACTION_PATTERN,
                # the views whose submissions _register_listeners takes
                callbacks=frozenset({views.INSIGHT_CALLBACK, views.FORM_CALLBACK}),
            ),
        )
        self._register_listeners()

    # ---- lifecycle -------------------------------------------------------------

    async def _open_session(self) -> None:
        """One HTTP session for the Web API and every response URL (keeps connections alive)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        self.client.session = self._session
        self.app.client.session = self._session  # bolt copies it into each request's client

    async def _authenticate(self) -> None:
        """Check the bot token and learn which workspace it belongs to."""
        await self._open_session()
        try:
            auth = await self.client.auth_test()
        except SlackApiError as exc:
            raise AdapterStartError(
                f"Slack refused SLACK_BOT_TOKEN ({_error_code(exc)}). Use the Bot User OAuth Token "
                "(xoxb-…) of an app installed in your workspace."
            ) from exc
        except NETWORK_ERRORS as exc:
            raise AdapterStartError(
                f"Cannot reach the Slack API at {self.api_url}: {exc or type(exc).__name__}"
            ) from exc
        self._auth = AuthorizeResult.from_auth_test_response(
            auth_test_response=auth, bot_token=self._bot_token
        )
        self.team_id = str(auth["team_id"])
        self.bot_user_id = str(auth.get("user_id") or "") or None
        log.info(
            "Slack: signed in to workspace %s (%s) as %s", auth.get("team"), self.team_id, auth.get("user")
        )

    async def start(self) -> None:
        """Start in the configured mode (``SLACK_MODE``); returns once Slack can reach the bot."""
        if self.mode == "http":
            await self.start_http()
        else:
            await self.start_socket()

    async def wait(self) -> None:
        """Return when closed; raise ``AdapterDied`` if the Socket Mode connection was lost for good."""
        await self._closed.wait()
        if self._failure is not None:
            raise AdapterDied(self._failure)

    def health(self) -> str:
        """up | reconnecting | down | starting"""
        return self.state

    async def _watch_socket(self) -> None:
        """Socket Mode, supervised: a lost connection is logged at once and opened again with
        backoff; not back within ``reconnect_within`` seconds, the adapter ends (``wait`` raises)."""
        loop = asyncio.get_running_loop()
        down_since: float | None = None
        attempt = 0
        while self._socket is not None:
            await asyncio.sleep(WATCH_EVERY if down_since is None else 0)
            socket = self._socket
            if socket is None:
                return
            try:
                up = await socket.client.is_connected()
                cause = "the Socket Mode connection dropped"
            except Exception as exc:
                up, cause = False, f"{type(exc).__name__}: {exc}"
            if up:
                if down_since is not None:
                    log.warning("Slack: the Socket Mode connection is back")
                down_since, attempt, self.state = None, 0, "up"
                continue
            now = loop.time()
            if down_since is None:
                down_since = now
                self.state = "reconnecting"
                log.error("Slack: %s; reconnecting", cause)
            if now - down_since > self.reconnect_within:
                self.state = "down"
                self._failure = (
                    f"the Slack Socket Mode connection did not come back within {self.reconnect_within:g}s"
                )
                self._closed.set()
                return
            try:
                await asyncio.wait_for(socket.client.connect_to_new_endpoint(force=True), CONNECT_TIMEOUT)
            except Exception as exc:
                log.warning("Slack: reconnecting failed: %s", exc or type(exc).__name__)
            delay = min(RECONNECT_CAP, RECONNECT_BASE * 2**attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            await asyncio.sleep(delay)

    async def _drop_session(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def start_socket(self) -> None:
        """Connect over Socket Mode (no public URL needed) and start delivering."""
        try:
            await self._start_socket()
        except AdapterStartError:
            await self._drop_session()  # a failed start leaves no connection open
            raise

    async def _start_socket(self) -> None:
        if not self._app_token:
            raise AdapterStartError(
                "SLACK_APP_TOKEN is not set. Socket Mode needs an app-level token (xapp-…) with the "
                "connections:write scope (Basic Information → App-Level Tokens), or use HTTP mode "
                "with SLACK_MODE=http and SLACK_SIGNING_SECRET."
            )
        await self._authenticate()
        try:
            # asking for the websocket URL ourselves checks the app token with a clear error,
            # where the SDK would retry a bad token for ever
            opened = await self.client.apps_connections_open(app_token=self._app_token)
        except SlackApiError as exc:
            raise AdapterStartError(
                f"Slack refused SLACK_APP_TOKEN ({_error_code(exc)}). Use an app-level token (xapp-…) "
                "with connections:write, and turn Socket Mode on for the app."
            ) from exc
        except NETWORK_ERRORS as exc:
            raise AdapterStartError(
                f"Cannot open a Socket Mode connection: {exc or type(exc).__name__}"
            ) from exc
        handler = AsyncSocketModeHandler(self.app, self._app_token, web_client=self.client)
        handler.client.wss_uri = opened["url"]
        self._socket = handler
        try:
            await asyncio.wait_for(handler.connect_async(), CONNECT_TIMEOUT)
        except TimeoutError as exc:
            await self.close()
            raise AdapterStartError(
                f"The Socket Mode connection did not open within {CONNECT_TIMEOUT:.0f}s"
            ) from exc
        self._go_live()
        self._watcher = asyncio.create_task(self._watch_socket(), name="slack-socket-watch")

    async def start_http(self, host: str = "0.0.0.0", port: int | None = None) -> int:
        """Serve Slack's requests at ``/slack/events``; returns the port (``0`` picks a free one)."""
        if not self._signing_secret:
            raise AdapterStartError(
                "SLACK_SIGNING_SECRET is not set. HTTP mode verifies every request with the app's "
                "Signing Secret (Basic Information → App Credentials)."
            )
        try:
            await self._authenticate()
        except AdapterStartError:
            await self._drop_session()
            raise
        server = web.Application()
        server.router.add_post(EVENTS_PATH, self._http_events)
        server.router.add_get("/healthz", self._health)
        self._runner = web.AppRunner(server, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, self.port if port is None else port, backlog=LISTEN_BACKLOG)
        try:
            await site.start()
        except OSError as exc:
            await self.close()
            raise AdapterStartError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("Slack: HTTP mode on %s:%s%s", host, bound, EVENTS_PATH)
        self._go_live()
        return int(bound)

    def _go_live(self) -> None:
        self._connected = True
        self.state = "up"
        if not self._attached:
            self.core.attach(self)
            self._attached = True

    async def close(self, grace: float = 0.5) -> None:
        """Stop taking requests and delivering (the core keeps undelivered messages queued)."""
        self._connected = False
        self._closed.set()
        if self._watcher is not None:
            watcher, self._watcher = self._watcher, None
            if watcher is not asyncio.current_task():
                watcher.cancel()
        if self._attached:
            self.core.detach(self)
            self._attached = False
        if self._socket is not None:
            socket, self._socket = self._socket, None
            try:
                await socket.close_async()
            except Exception:  # closing a broken connection may fail; we are leaving anyway
                log.debug("Slack: closing the socket failed", exc_info=True)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        for lookup in list(self._lookups.values()):
            lookup.cancel()
        await self._drop_session()

    async def _http_events(self, request: web.Request) -> web.StreamResponse:
        # size, signature, age and shape first: nothing unsigned or malformed is parsed further
        admitted = await self._gate.admit(request)
        if isinstance(admitted, verify.Refused):
            return web.Response(status=admitted.status, text=admitted.reason)
        if admitted.kind == "ssl_check":  # Slack checking the certificate: nothing to do
            return web.Response(status=200, text="")
        if admitted.kind == "url_verification":  # Slack checking the events URL
            return web.json_response({"challenge": admitted.body["challenge"]})
        seen = hashlib.blake2b(admitted.raw, digest_size=16).hexdigest()
        if request.headers.get("X-Slack-Retry-Num") and seen in self._seen:
            # Slack retries what it thinks went unanswered; this one was answered already
            return web.Response(status=200, text="")
        try:
            response = await self.app.async_dispatch(_bolt_request(request, admitted))
        except Exception as exc:  # a signed body the SDK chokes on: a 400, not a 500 and a traceback
            return web.Response(status=400, text=self._gate.failed(request, exc).reason)
        if response.status == 200:  # verified and handled: remember it against retries
            self._seen[seen] = None
            if len(self._seen) > SEEN_REQUESTS:
                self._seen.popitem(last=False)
        return _aiohttp_response(response)

    async def _health(self, request: web.Request) -> web.Response:
        """Every adapter of the process with its real state; 200 only when all are up."""
        states = {}
        for adapter in self.core.adapters or [self]:
            probe = getattr(adapter, "health", None)
            states[adapter.platform] = probe() if probe else "up"
        if not self._connected:
            states[self.platform] = "starting" if self.state == "starting" else self.state
        healthy = all(state == "up" for state in states.values())
        text = ("ok" if healthy else "unhealthy") + "".join(
            f"\n{name}: {state}" for name, state in states.items()
        )
        return web.Response(text=text, status=200 if healthy else 503)

    # ---- DeliveryPort ----------------------------------------------------------

    def reach(self) -> list[Reach]:
        if not self._connected or self.team_id is None:
            return []
        return [Reach("slack", workspace=self.team_id)]

    async def send_direct(self, recipient: Recipient, message: Message, *, key: str | None = None) -> Receipt:
        """A DM through chat.postMessage to the user (Slack opens the DM itself).

        ``key`` (the queued row's stable id) rides along as message metadata, so that
        :meth:`find_sent` can tell later whether this row reached the conversation."""
        channel = recipient.dm_channel or recipient.user_id
        message = dataclasses.replace(
            message, zone=message.zone or recipient.zone, locale=message.locale or recipient.locale
        )
        try:
            response = await self._post(channel, render.fallback(message), render.blocks(message), key)
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            if recipient.dm_channel and _error_code(exc) == "channel_not_found":
                # the cached DM channel went stale; the user id always reaches the person
                fresh = dataclasses.replace(recipient, dm_channel=None)
                return await self.send_direct(fresh, message, key=key)
            raise _delivery_error(exc, to_channel=None) from exc
        dm_channel = str(response.get("channel") or "") or None
        if message.files:
            await self._hand_over(recipient.user_id, message, dm_channel)
        return Receipt(dm_channel=dm_channel)

    async def post_insight(self, channel: str, post: InsightPost, *, key: str | None = None) -> Receipt:
        """Post an insight into a theme channel; join it first if it is public and we are not in.

        The receipt's ``ref`` is the message's ``ts``, what ``chat.delete`` takes."""
        # a channel post is read by everyone: the frame's words in the program's language
        with i18n.using(self.core.program.event.locale):
            blocks, text = render.insight_blocks(post), render.insight_fallback(post)
        try:
            try:
                response = await self._post(channel, text, blocks, key)
            except SlackApiError as exc:
                if _error_code(exc) != "not_in_channel":
                    raise
                await self.delivery.conversations_join(channel=channel)
                response = await self._post(channel, text, blocks, key)
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            raise _delivery_error(exc, to_channel=channel) from exc
        return Receipt(ref=str(response.get("ts") or "") or None)

    async def delete_post(self, channel: str, ref: str) -> None:
        """Take a post down with ``chat.delete``; a message already gone counts as done."""
        try:
            await self.pacer.acquire()
            await self.delivery.chat_delete(channel=channel, ts=ref)
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            if _error_code(exc) == "message_not_found":
                return
            error = _delivery_error(exc, to_channel=channel, deleting=True)
            if error.retry_after is not None:
                self.pacer.throttled(error.retry_after)
            raise error from exc

    async def find_sent(self, key: str, *, recipient: Recipient | None, channel: str | None) -> bool:
        """Whether a message carrying ``key`` in its metadata is in the conversation already.

        Asked before re-sending a row whose fate is unknown (a crash or a timeout mid-send);
        Slack has no idempotency key, so the conversation's recent history is the record."""
        try:
            if channel is None:
                assert recipient is not None
                channel = recipient.dm_channel
                if channel is None:
                    await self.pacer.acquire()
                    opened = await self.delivery.conversations_open(users=recipient.user_id)
                    channel = str(opened["channel"]["id"])
            await self.pacer.acquire()
            history = await self.delivery.conversations_history(
                channel=channel, include_all_metadata=True, limit=HISTORY_LOOKBACK
            )
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            if _error_code(exc) in ("channel_not_found", "not_in_channel"):
                return False  # nothing was ever posted there
            error = _delivery_error(exc, to_channel=channel)
            if error.retry_after is not None:
                self.pacer.throttled(error.retry_after)
            raise DeliveryError(error.reason, error.detail, retryable=True) from exc
        for item in history.get("messages") or []:
            metadata = item.get("metadata") or {}
            if (
                metadata.get("event_type") == METADATA_EVENT
                and (metadata.get("event_payload") or {}).get("row") == key
            ):
                return True
        return False

    async def _post(
        self, channel: str, text: str, blocks: list[dict[str, Any]], key: str | None = None
    ) -> Any:
        await self.pacer.acquire()
        extra: dict[str, Any] = {}
        if key is not None:
            extra["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"row": key}}
        try:
            # never link_names / parse=full: those would turn typed "@here" into a real mention
            return await self.delivery.chat_postMessage(
                channel=channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False, **extra
            )
        except SlackApiError as exc:
            wait = _retry_after(exc)
            if wait is not None:
                self.pacer.throttled(wait)
            raise

    # ---- listeners -------------------------------------------------------------

    def _register_listeners(self) -> None:
        # one listener for every command: bolt tries its listeners in turn, building each
        # one's arguments, so a command listed late (or a click, after all of them) paid for
        # every listener before it
        self.app.command(re.compile("^(?:" + "|".join(re.escape(f"/{n}") for n in COMMANDS) + ")$"))(
            self._on_command
        )
        self.app.action(render.ACTION_PATTERN)(self._on_button)
        self.app.view_submission(views.INSIGHT_CALLBACK)(self._on_insight_submit)
        self.app.view_closed(views.INSIGHT_CALLBACK)(self._on_ack_only)
        self.app.view_submission(views.FORM_CALLBACK)(self._on_form_submit)
        self.app.view_closed(views.FORM_CALLBACK)(self._on_ack_only)
        self.app.event("app_home_opened")(self._on_home_opened)
        self.app.error(self._on_error)

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack: a listener failed: %s", error, exc_info=error)

    async def _on_ack_only(self, ack: Any) -> None:
        await ack()

    def _warn(self, kind: str, message: str, *args: Any) -> None:
        """A warning that every request may raise (Slack failing the same way for everyone): a
        few lines a minute of each kind. A log line costs the loop about half a millisecond,
        and a burst of a thousand of them would hold up the acks behind it."""
        verdict = self._warnings.allow(kind)
        if verdict is True:
            log.warning(message, *args)
        elif verdict is None:
            log.warning("Slack: more of %s; not logging them for a minute", kind)

    def _cached_user(self, user_id: str) -> dict[str, Any] | None:
        cached = self._users.get(user_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return None

    async def _user(self, user_id: str) -> dict[str, Any] | None:
        """users.info, cached for a few minutes; ``None`` when Slack cannot say.

        Runs in the queued work, never before an ack; concurrent lookups of one person share
        one call."""
        cached = self._users.get(user_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        lookup = self._lookups.get(user_id)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(user_id))
            self._lookups[user_id] = lookup
            lookup.add_done_callback(lambda _: self._lookups.pop(user_id, None))
        return await asyncio.shield(lookup)

    async def _look_up(self, user_id: str) -> dict[str, Any] | None:
        try:
            info = await asyncio.wait_for(
                self.client.users_info(user=user_id, include_locale=True), USER_LOOKUP_TIMEOUT
            )
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            code = _error_code(exc)
            self._warn(f"users.info {code}", "Slack: users.info for %r failed: %s", user_id[:40], code)
            return None  # not cached: the next command asks again
        user = info.get("user") or None
        if len(self._users) > 10_000:  # a big workspace: forget everyone, the lookups are cheap
            self._users.clear()
        self._users[user_id] = (user, time.monotonic() + USER_CACHE_SECONDS)
        return user

    async def _identity(
        self, team_id: str | None, user_id: str, name: str | None, *, wait: bool = True
    ) -> Identity:
        """The person, named as Slack shows them (display name, else real name, else handle).

        ``wait=False`` (before an ack) takes the cached profile or the request's handle."""
        user = (await self._user(user_id) if wait else self._cached_user(user_id)) or {}
        profile = user.get("profile") or {}
        shown = (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
        )
        return Identity(
            platform="slack",
            workspace=team_id or self.team_id or "",
            user_id=user_id,
            display_name=str(shown or name or user_id).strip()[:80],
            # Slack knows the person's zone and language: the core keeps them for their DMs
            zone=canonical(str(user.get("tz") or "")),
            locale=str(user.get("locale") or "") or None,
        )

    async def _acknowledge(
        self, ack: Any, key: tuple[str, ...], job: Callable[[], Awaitable[object]]
    ) -> None:
        """Ack at once and queue the work; a full queue gets the polite busy answer in the ack."""
        admission = self.core.work.submit(job, key=key)
        if admission is Admission.BUSY:
            busy = replies.busy()
            await ack(text=render.fallback(busy), blocks=render.blocks(busy), response_type="ephemeral")
        else:
            # a duplicate (double click, retry) is acked and dropped: the first one answers
            await ack()

    async def _on_command(self, ack: Any, command: dict[str, Any]) -> None:
        # Slack escapes &, < and > in the text it sends us; the core wants what was typed
        name, text, user_id = command.get("command"), command.get("text"), command.get("user_id")
        if not isinstance(name, str) or not isinstance(user_id, str) or not user_id:
            await ack()
            log.warning("Slack: a slash command without its command or user; ignored")
            return
        line = f"{name} {render.unescape(text if isinstance(text, str) else '')}"
        form = self._form_for(line)
        if form is not None:
            await ack()
            # beside the queue: the trigger id expires 3 seconds after the command
            self.core.work.urgent(lambda: self._open_insight_modal(command, form.get("theme")))
            return
        team = command.get("team_id")

        async def work() -> None:
            identity = await self._identity(
                team if isinstance(team, str) else None, user_id, command.get("user_name")
            )
            message = await self._respond(identity, line=line)
            trigger = command.get("trigger_id")
            if message.form is not None and isinstance(trigger, str) and trigger:
                await self._open_form(
                    trigger, message, command.get("channel_id"), command.get("response_url"), command
                )
                return
            await self._reply(command.get("response_url"), message, command)

        key = ("slack", team if isinstance(team, str) else "", user_id, line.strip())
        await self._acknowledge(ack, key, work)

    @staticmethod
    def _form_for(line: str) -> dict[str, str] | None:
        """The arguments so far, when the line asks for a form instead (``/insight`` without text)."""
        spec = COMMANDS.get(line.strip()[1:].partition(" ")[0].lower())
        if spec is None or not spec.form_when_empty:
            return None  # no form: the line is parsed in the queued work, not before the ack
        try:
            name, args = parse_line(line)
        except CommandLineError:
            return None  # the core's answer will say what is wrong
        spec = COMMANDS[name]
        if spec.form_when_empty and not args.get(spec.form_when_empty) and name == "insight":
            return args
        return None

    async def _on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        value = action.get("value")
        clicker = self._clicker(body) if value and isinstance(value, str) else None
        if clicker is None:  # a link button such as "Join" (Slack opens the URL), or no user
            await ack()
            return
        user = body["user"]

        async def work() -> None:
            identity = await clicker()
            message = await self._respond(identity, line=value)
            trigger = body.get("trigger_id")
            response_url = body.get("response_url")
            if message.form is not None and isinstance(trigger, str) and trigger:
                channel = body.get("channel")
                channel_id = channel.get("id") if isinstance(channel, dict) else None
                await self._open_form(trigger, message, channel_id, response_url, None)
                return
            container = body.get("container")
            if (isinstance(container, dict) and container.get("type") == "view") or not response_url:
                # a click on the Home tab: the answer goes on top of a refreshed Home
                await self.publish_home(identity, notice=message)
            else:
                await self._reply(response_url, message, None)

        team = body.get("team")
        team_id = team.get("id") if isinstance(team, dict) else user.get("team_id")
        # a click dropped as a duplicate or busy never starts its identity lookup (``clicker``
        # is a callable, awaited only in ``work``)
        await self._acknowledge(ack, ("slack", str(team_id or ""), user["id"], value), work)

    async def _on_insight_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        form = views.read_insight_form(view if isinstance(view, dict) else {})
        # no users.info before this ack: the cached name, else the handle Slack sent
        clicker = self._clicker(body, wait=False)
        if clicker is None:
            await ack()
            return
        identity = await clicker()
        # the core judges the form before the ack, so that refusals show under the field
        args = {
            "theme": form.theme,
            "text": form.text,
            "city": form.city or "",
            "anonymous": "yes" if form.anonymous else "",
        }
        message = await self._respond(identity, command="insight", args=args)
        if not message.ok:
            await ack(response_action="errors", errors=views.form_errors(message))
            return
        await ack()
        self.core.work.submit(lambda: self._confirm_after_modal(identity, form.metadata, message))

    async def _on_form_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        command, args, metadata = views.read_form(view if isinstance(view, dict) else {})
        clicker = self._clicker(body, wait=False)
        if clicker is None:
            await ack()
            return
        identity = await clicker()
        # judged before the ack, so that a refusal shows under its field
        message = await self._respond(identity, command=command, args=args)
        errors = views.field_errors(message, args) if not message.ok else None
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        self.core.work.submit(lambda: self._confirm_after_modal(identity, metadata, message))

    async def _open_form(
        self,
        trigger_id: str,
        message: Message,
        channel: str | None,
        response_url: str | None,
        command: dict[str, Any] | None,
    ) -> None:
        assert message.form is not None
        metadata = {"channel": channel or "", "response_url": response_url or ""}
        try:
            await self.client.views_open(trigger_id=trigger_id, view=views.form_modal(message.form, metadata))
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            # the trigger id lives 3 seconds; say so rather than leave the click unanswered
            log.warning("Slack: views.open failed: %s", _error_code(exc))
            await self._reply(response_url, form_not_opened(), command)

    async def _on_home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab", "home") != "home" or not isinstance(user, str):
            return
        team = body.get("team_id")
        team_id = team if isinstance(team, str) else self.team_id

        async def work() -> None:
            await self.publish_home(await self._identity(team_id, user, None))

        # an event's ack is bolt's 200 once this returns; a full queue skips one Home refresh
        self.core.work.submit(work, key=("slack", team_id or "", user, "home"))

    # ---- helpers ---------------------------------------------------------------

    def _clicker(
        self, body: dict[str, Any], *, wait: bool = True
    ) -> Callable[[], Awaitable[Identity]] | None:
        """How to get the identity of who clicked or submitted; None for a payload without a user.
        (A callable, not a coroutine: a click dropped as a duplicate never starts one.)

        ``wait=False`` (before an ack): no users.info call, see :meth:`_identity`."""
        user = body.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
            log.warning("Slack: an interaction without a user; ignored")
            return None
        team = body.get("team")
        team_id = (team.get("id") if isinstance(team, dict) else None) or user.get("team_id")
        name = user.get("username") or user.get("name")
        return functools.partial(
            self._identity,
            team_id if isinstance(team_id, str) else None,
            user["id"],
            name if isinstance(name, str) else None,
            wait=wait,
        )

    async def _respond(
        self,
        identity: Identity,
        *,
        command: str | None = None,
        args: dict[str, str] | None = None,
        line: str | None = None,
    ) -> Message:
        """The core's answer; organizer rights are looked up only for the commands that need them."""

        async def organizer() -> bool:
            return await self.is_organizer(identity)

        message = await self.core.respond(
            identity, command=command, args=args, line=line, organizer=organizer
        )
        # replies through a response_url carry no files: they go to the person's DM
        return await self._hand_over(identity.user_id, message)

    async def is_organizer(self, identity: Identity) -> bool:
        """Listed in SLACK_ADMIN_IDS, or an admin or owner of the workspace."""
        if identity.user_id in self._admins:
            return True
        # unknown means no: organizer powers are never granted on a failed lookup
        user = await self._user(identity.user_id) or {}
        return bool(user.get("is_admin") or user.get("is_owner")) and not user.get("deleted")

    async def _send_to_response_url(self, url: str, message: Message, **extra: Any) -> bool:
        """Post an answer to a response URL over the shared session; False when it failed."""
        try:
            webhook = AsyncWebhookClient(url, timeout=RESPONSE_URL_TIMEOUT, session=self._session)
            sent = await webhook.send(
                text=render.fallback(message),
                blocks=render.blocks(message),
                response_type="ephemeral" if message.ephemeral else "in_channel",
                **extra,
            )
        except NETWORK_ERRORS as exc:
            code = _error_code(exc)
            self._warn(f"response_url {code}", "Slack: the response URL failed: %s", code)
            return False
        if sent.status_code != 200:
            self._warn(
                f"response_url {sent.status_code}", "Slack: the response URL answered %s", sent.status_code
            )
            return False
        return True

    async def _reply(self, url: str | None, message: Message, command: dict[str, Any] | None) -> None:
        """An answer through the response URL: ephemeral unless the core made it public."""
        # a signed payload may still carry an odd response_url: only a string is a URL to try
        if (
            isinstance(url, str)
            and url
            and await self._send_to_response_url(url, message, replace_original=False)
        ):
            return
        # the response URL may have expired or Slack may be down
        if command is not None:
            await self._ephemeral(command.get("channel_id"), command.get("user_id"), message)

    async def _hand_over(self, user_id: str, message: Message, channel: str | None = None) -> Message:
        """Files go into the person's DM with the bot (Slack files cannot be ephemeral, and a DM
        keeps personal data out of shared channels); the reply then says where to find them.

        A failed upload of a calendar entry keeps the reply (it carries the calendar link too);
        any other file not handed over is said plainly."""
        if not message.files:
            return message
        try:
            if channel is None:
                opened = await self.client.conversations_open(users=user_id)
                channel = opened["channel"]["id"]
            for attachment in message.files:
                await self.client.files_upload_v2(
                    channel=channel,
                    content=attachment.data,
                    filename=attachment.filename,
                    title=attachment.filename,
                )
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            log.warning("Slack: uploading a file to %s failed: %s", user_id, _error_code(exc))
            if all(f.mime == "text/calendar" for f in message.files):
                return message
            return file_not_delivered()
        return message

    async def _ephemeral(self, channel: str | None, user: str | None, message: Message) -> None:
        if not channel or not user:
            return
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, text=render.fallback(message), blocks=render.blocks(message)
            )
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            code = _error_code(exc)
            self._warn(f"chat.postEphemeral {code}", "Slack: chat.postEphemeral to %s failed: %s", user, code)

    async def _open_insight_modal(self, command: dict[str, Any], theme: str | None) -> None:
        themes = [(t.id, t.name) for t in self.core.program.themes]
        metadata = {"channel": command.get("channel_id", ""), "response_url": command.get("response_url", "")}
        # the form speaks the person's language (their choice, else what Slack last told us)
        who = await self._identity(command.get("team_id"), command["user_id"], None, wait=False)
        with i18n.using(await self.core.language_of(who)):
            view = views.insight_modal(themes, theme=(theme or "").strip().lower() or None, metadata=metadata)
        try:
            trigger = command.get("trigger_id")
            if not isinstance(trigger, str) or not trigger:
                raise SlackClientError("the command came without a trigger id")
            await self.client.views_open(trigger_id=trigger, view=view)
            # the form's answer is judged before its ack: have the person's name cached by then
            await self._user(command["user_id"])
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            # trigger ids live 3 seconds; a slow network loses the form, the typed command still works
            log.warning("Slack: views.open failed: %s", _error_code(exc))
            with i18n.using(await self.core.language_of(who)):
                sorry = insight_form_not_opened()
            await self._reply(command.get("response_url"), sorry, command)

    async def _confirm_after_modal(
        self, identity: Identity, metadata: dict[str, str], message: Message
    ) -> None:
        url = metadata.get("response_url")
        if url and await self._send_to_response_url(url, message):
            return
        await self._ephemeral(metadata.get("channel"), identity.user_id, message)

    async def publish_home(self, identity: Identity, notice: Message | None = None) -> None:
        """Render the Home tab: the reader's sessions, then the schedule with its buttons."""
        sections = [
            await self._respond(identity, command="mysessions"),
            await self._respond(identity, command="schedule"),
        ]
        title = self.core.program.event.name
        with i18n.using(sections[0].locale):
            view = views.home_view(sections, title=title, notice=notice)
        try:
            await self.client.views_publish(user_id=identity.user_id, view=view)
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            log.warning("Slack: views.publish for %s failed: %s", identity.user_id, _error_code(exc))
