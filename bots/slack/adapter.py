"""The Slack adapter: a slack-bolt ``AsyncApp`` in front of the shared core.

It turns slash commands, button clicks, the insight modal and the App Home tab into
calls on :class:`shared.app.Roundtable`, renders the core's neutral replies as Block
Kit, and implements the core's :class:`shared.port.DeliveryPort` (DMs and insight
posts). The rules live in the core; this module only translates.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bots.slack import render, views
from bots.slack.settings import SlackSettings
from shared.commands import COMMANDS, CommandLineError, parse_line
from shared.errors import AdapterStartError
from shared.identity import Identity, Reach, Recipient
from shared.messages import InsightPost, Message, refusal
from shared.port import (
    CANNOT_DM_BOT,
    PLATFORM_ERROR,
    UNKNOWN_CHANNEL,
    UNKNOWN_USER,
    DeliveryError,
    Receipt,
)

if TYPE_CHECKING:
    from shared.app import Roundtable
from shared.zones import canonical

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
USER_CACHE_SECONDS = 300.0
USER_LOOKUP_TIMEOUT = 1.5  # the modal's answer must leave within Slack's 3 seconds
CONNECT_TIMEOUT = 30.0

# Slack errors that mean the person cannot be reached, and those that mean the channel is gone
_USER_GONE = {"user_not_found", "channel_not_found", "user_disabled", "account_inactive_user"}
_CHANNEL_GONE = {"channel_not_found", "is_archived", "not_in_channel"}
# errors a later attempt may cure (the dispatcher retries these a few times)
_TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


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


def _delivery_error(exc: BaseException, *, to_channel: str | None) -> DeliveryError:
    """Slack's answer to a DM (``to_channel`` None) or a channel post, as the core's reason."""
    code = _error_code(exc)
    if not isinstance(exc, SlackApiError):
        return DeliveryError(PLATFORM_ERROR, code, retryable=True)
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
        self.app = AsyncApp(
            client=self.client,
            # Socket Mode requests are not signed; HTTP mode refuses to start without a secret
            signing_secret=self._signing_secret,
            request_verification_enabled=True,
            # ack at once, then do the work: Slack wants an answer within 3 seconds
            process_before_response=False,
            logger=logging.getLogger("bots.slack.bolt"),
        )
        self.team_id: str | None = None
        self.bot_user_id: str | None = None
        self._connected = False
        self._attached = False
        self._socket: AsyncSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self._users: dict[str, tuple[dict[str, Any] | None, float]] = {}
        self._register_listeners()

    # ---- lifecycle -------------------------------------------------------------

    async def _authenticate(self) -> None:
        """Check the bot token and learn which workspace it belongs to."""
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
        await self._closed.wait()

    async def start_socket(self) -> None:
        """Connect over Socket Mode (no public URL needed) and start delivering."""
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

    async def start_http(self, host: str = "0.0.0.0", port: int | None = None) -> int:
        """Serve Slack's requests at ``/slack/events``; returns the port (``0`` picks a free one)."""
        if not self._signing_secret:
            raise AdapterStartError(
                "SLACK_SIGNING_SECRET is not set. HTTP mode verifies every request with the app's "
                "Signing Secret (Basic Information → App Credentials)."
            )
        await self._authenticate()
        server = web.Application()
        server.router.add_post(EVENTS_PATH, self._http_events)
        server.router.add_get("/healthz", self._health)
        self._runner = web.AppRunner(server, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, self.port if port is None else port)
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
        if not self._attached:
            self.core.attach(self)
            self._attached = True

    async def close(self, grace: float = 0.5) -> None:
        """Stop taking requests and delivering (the core keeps undelivered messages queued)."""
        self._connected = False
        self._closed.set()
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

    async def _http_events(self, request: web.Request) -> web.StreamResponse:
        # bolt verifies the signature and its age (5 minutes) and answers 401 before any listener
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(
            text="ok" if self._connected else "starting", status=200 if self._connected else 503
        )

    # ---- DeliveryPort ----------------------------------------------------------

    def reach(self) -> list[Reach]:
        if not self._connected or self.team_id is None:
            return []
        return [Reach("slack", workspace=self.team_id)]

    async def send_direct(self, recipient: Recipient, message: Message) -> Receipt:
        """A DM through chat.postMessage to the user (Slack opens the DM itself)."""
        channel = recipient.dm_channel or recipient.user_id
        message = dataclasses.replace(
            message, zone=message.zone or recipient.zone, locale=message.locale or recipient.locale
        )
        try:
            response = await self._post(channel, render.fallback(message), render.blocks(message))
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            if recipient.dm_channel and _error_code(exc) == "channel_not_found":
                # the cached DM channel went stale; the user id always reaches the person
                fresh = dataclasses.replace(recipient, dm_channel=None)
                return await self.send_direct(fresh, message)
            raise _delivery_error(exc, to_channel=None) from exc
        dm_channel = str(response.get("channel") or "") or None
        if message.attachments:
            await self.send_files(recipient.user_id, dm_channel, message)
        return Receipt(dm_channel=dm_channel)

    async def post_insight(self, channel: str, post: InsightPost) -> None:
        """Post an insight into a theme channel; join it first if it is public and we are not in."""
        blocks, text = render.insight_blocks(post), render.insight_fallback(post)
        try:
            try:
                await self._post(channel, text, blocks)
            except SlackApiError as exc:
                if _error_code(exc) != "not_in_channel":
                    raise
                await self.client.conversations_join(channel=channel)
                await self._post(channel, text, blocks)
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            raise _delivery_error(exc, to_channel=channel) from exc

    async def _post(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> Any:
        # never link_names / parse=full: those would turn typed "@here" into a real mention
        return await self.client.chat_postMessage(
            channel=channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )

    # ---- listeners -------------------------------------------------------------

    def _register_listeners(self) -> None:
        for name in COMMANDS:
            self.app.command(f"/{name}")(self._on_command)
        self.app.action(render.ACTION_PATTERN)(self._on_button)
        self.app.view_submission(views.INSIGHT_CALLBACK)(self._on_insight_submit)
        self.app.view_closed(views.INSIGHT_CALLBACK)(self._on_ack_only)
        self.app.event("app_home_opened")(self._on_home_opened)
        self.app.error(self._on_error)

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack: a listener failed: %s", error, exc_info=error)

    async def _on_ack_only(self, ack: Any) -> None:
        await ack()

    async def _user(self, user_id: str) -> dict[str, Any] | None:
        """users.info, cached for a few minutes; ``None`` when Slack cannot say."""
        cached = self._users.get(user_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            info = await asyncio.wait_for(
                self.client.users_info(user=user_id, include_locale=True), USER_LOOKUP_TIMEOUT
            )
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            log.warning("Slack: users.info for %s failed: %s", user_id, _error_code(exc))
            return None  # not cached: the next command asks again
        user = info.get("user") or None
        if len(self._users) > 10_000:  # a big workspace: forget everyone, the lookups are cheap
            self._users.clear()
        self._users[user_id] = (user, time.monotonic() + USER_CACHE_SECONDS)
        return user

    async def _identity(self, team_id: str | None, user_id: str, name: str | None) -> Identity:
        """The person, named as Slack shows them (display name, else real name, else handle)."""
        user = await self._user(user_id) or {}
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

    async def _on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()  # first: everything below may take longer than Slack's 3 seconds
        # Slack escapes &, < and > in the text it sends us; the core wants what was typed
        line = f"{command['command']} {render.unescape(command.get('text') or '')}"
        form = self._form_for(line)
        if form is not None:
            # before any other call: the trigger id expires 3 seconds after the command
            await self._open_insight_modal(command, form.get("theme"), respond)
            return
        identity = await self._identity(command.get("team_id"), command["user_id"], command.get("user_name"))
        message = await self._respond(identity, line=line)
        await self._reply(respond, message, command)

    @staticmethod
    def _form_for(line: str) -> dict[str, str] | None:
        """The arguments so far, when the line asks for a form instead (``/insight`` without text)."""
        try:
            name, args = parse_line(line)
        except CommandLineError:
            return None  # the core's answer will say what is wrong
        spec = COMMANDS[name]
        if spec.form_when_empty and not args.get(spec.form_when_empty) and name == "insight":
            return args
        return None

    async def _on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        value = action.get("value")
        if not value:  # a link button such as "Join": Slack opens the URL, nothing to do
            return
        user = body.get("user") or {}
        team = (body.get("team") or {}).get("id") or user.get("team_id")
        identity = await self._identity(team, user["id"], user.get("username") or user.get("name"))
        message = await self._respond(identity, line=value)
        if (body.get("container") or {}).get("type") == "view" or not body.get("response_url"):
            # a click on the Home tab: the answer goes on top of a refreshed Home
            await self.publish_home(identity, notice=message)
        else:
            await self._reply(respond, message, None)

    async def _on_insight_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        form = views.read_insight_form(view)
        user = body.get("user") or {}
        team = (body.get("team") or {}).get("id") or user.get("team_id")
        identity = await self._identity(team, user["id"], user.get("username") or user.get("name"))
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
        await self._confirm_after_modal(identity, form.metadata, message)

    async def _on_home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        team = body.get("team_id") or self.team_id
        await self.publish_home(await self._identity(team, event["user"], None))

    # ---- helpers ---------------------------------------------------------------

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
        if message.attachments:
            # replies through a response_url carry no files: they go to the person's DM
            await self.send_files(identity.user_id, None, message)
        return message

    async def send_files(self, user_id: str, channel: str | None, message: Message) -> None:
        """Share a message's files (files_upload_v2) in the person's DM; a failure only costs the
        files, since the message itself carries the calendar link."""
        try:
            if channel is None:
                opened = await self.client.conversations_open(users=user_id)
                channel = str((opened.get("channel") or {}).get("id") or "")
            for attachment in message.attachments:
                await self.client.files_upload_v2(
                    channel=channel,
                    file=attachment.content,
                    filename=attachment.filename,
                    title=attachment.filename,
                )
        except (SlackClientError, *NETWORK_ERRORS) as exc:
            log.warning("Slack: files for %s could not be shared: %s", user_id, _error_code(exc))

    async def is_organizer(self, identity: Identity) -> bool:
        """Listed in SLACK_ADMIN_IDS, or an admin or owner of the workspace."""
        if identity.user_id in self._admins:
            return True
        # unknown means no: organizer powers are never granted on a failed lookup
        user = await self._user(identity.user_id) or {}
        return bool(user.get("is_admin") or user.get("is_owner")) and not user.get("deleted")

    async def _reply(self, respond: Any, message: Message, command: dict[str, Any] | None) -> None:
        """An answer through the response URL: ephemeral unless the core made it public."""
        try:
            await respond(
                text=render.fallback(message),
                blocks=render.blocks(message),
                response_type="ephemeral" if message.ephemeral else "in_channel",
                replace_original=False,
            )
        except Exception as exc:  # the response URL may have expired or Slack may be down
            log.warning("Slack: replying through the response URL failed: %s", _error_code(exc))
            if command is not None:
                await self._ephemeral(command.get("channel_id"), command.get("user_id"), message)

    async def _ephemeral(self, channel: str | None, user: str | None, message: Message) -> None:
        if not channel or not user:
            return
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, text=render.fallback(message), blocks=render.blocks(message)
            )
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            log.warning("Slack: chat.postEphemeral to %s failed: %s", user, _error_code(exc))

    async def _open_insight_modal(self, command: dict[str, Any], theme: str | None, respond: Any) -> None:
        themes = [(t.id, t.name) for t in self.core.program.themes]
        metadata = {"channel": command.get("channel_id", ""), "response_url": command.get("response_url", "")}
        view = views.insight_modal(themes, theme=(theme or "").strip().lower() or None, metadata=metadata)
        try:
            await self.client.views_open(trigger_id=command["trigger_id"], view=view)
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            # trigger ids live 3 seconds; a slow network loses the form, the typed command still works
            log.warning("Slack: views.open failed: %s", _error_code(exc))
            await self._reply(
                respond,
                refusal("I could not open the form. Type `/insight <theme> <your insight>` instead."),
                command,
            )

    async def _confirm_after_modal(
        self, identity: Identity, metadata: dict[str, str], message: Message
    ) -> None:
        url = metadata.get("response_url")
        if url:
            try:
                webhook = AsyncWebhookClient(url, timeout=10)
                sent = await webhook.send(
                    text=render.fallback(message), blocks=render.blocks(message), response_type="ephemeral"
                )
                if sent.status_code == 200:
                    return
                log.warning("Slack: the response URL answered %s", sent.status_code)
            except NETWORK_ERRORS as exc:
                log.warning("Slack: the response URL failed: %s", _error_code(exc))
        await self._ephemeral(metadata.get("channel"), identity.user_id, message)

    async def publish_home(self, identity: Identity, notice: Message | None = None) -> None:
        """Render the Home tab: the reader's sessions, then the schedule with its buttons."""
        sections = [
            await self._respond(identity, command="mysessions"),
            await self._respond(identity, command="schedule"),
        ]
        title = self.core.program.event.name
        view = views.home_view(sections, title=title, notice=notice)
        try:
            await self.client.views_publish(user_id=identity.user_id, view=view)
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            log.warning("Slack: views.publish for %s failed: %s", identity.user_id, _error_code(exc))
