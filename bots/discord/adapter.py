"""The Discord adapter: slash commands, buttons and modals in; DMs and insight posts out.

It is thin on purpose: it turns Discord interactions into ``Invocation``s for the core,
renders the core's ``Message``s natively, and implements the core's ``DeliveryPort``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl

from bots.discord.events import mirror_program
from bots.discord.interest import Interest
from bots.discord.render import (
    ActionButton,
    _choices,
    command_payloads,
    insight_embed,
    invite_url,
    render,
    search_choices,
)
from bots.discord.settings import DEFAULT_API_BASE, DiscordSettings
from shared import i18n, zones
from shared.commands import COMMANDS
from shared.errors import AdapterDied, AdapterStartError
from shared.i18n import _
from shared.identity import Identity, Reach, Recipient
from shared.inbound import Admission
from shared.insights import MAX_CITY, MAX_TEXT
from shared.messages import Form, InsightPost, Message, refusal
from shared.pacing import RateLimiter
from shared.port import (
    CANNOT_DELETE,
    DMS_CLOSED,
    PLATFORM_ERROR,
    UNKNOWN_CHANNEL,
    UNKNOWN_USER,
    DeliveryError,
    Receipt,
)
from shared.replies import already_working, apology, busy, command_gone, form_not_opened

if TYPE_CHECKING:
    from shared.app import Roundtable

log = logging.getLogger(__name__)

WORKSPACE = "discord"

READY_TIMEOUT = 30.0
# a command that answers with a form runs before the ack, for at most this long (Discord: 3 s)
FORM_SECONDS = 2.0
MODAL_TIMEOUT = 15 * 60.0

# Discord JSON error codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes)
UNKNOWN_CHANNEL_CODE = 10003
UNKNOWN_MESSAGE_CODE = 10008
# the adapter's own reason: a post to take down is gone already (taken as done)
UNKNOWN_MESSAGE = "unknown_message"
UNKNOWN_USER_CODE = 10013
CANNOT_SEND_TO_USER_CODE = 50007
# Discord's documented global limit: 50 requests per second per bot
GLOBAL_RATE = 50.0
# pace a little under the limit: discord.py's own retries and the replies to commands
# share it, and a 429 counts towards Discord's invalid-request limit
RATE_HEADROOM = 0.95
MAX_RATELIMIT_TIMEOUT = 5.0
# reconnecting a lost gateway: the first wait, doubling up to the cap, with jitter
RECONNECT_BASE = 1.0
RECONNECT_CAP = 30.0


class _Client(discord.Client):
    """discord.Client that hands interactions and set-up to the adapter."""

    def __init__(self, adapter: DiscordAdapter, **options: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # guild metadata only: no privileged intents, no message content
        # "Interested" marks on the sessions' events (GUILD_SCHEDULED_EVENT_USER_ADD/REMOVE)
        intents.guild_scheduled_events = True
        # a rate limit longer than this raises (the row is rescheduled) instead of holding a slot
        options.setdefault("max_ratelimit_timeout", MAX_RATELIMIT_TIMEOUT)
        super().__init__(
            intents=intents,
            # no message from this bot may ever ping anyone
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.adapter = adapter

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ActionButton)
        await self.adapter._after_login()

    async def on_ready(self) -> None:
        if self.adapter.state == "reconnecting":
            # a new gateway session, not a resumed one: marks made meanwhile were never sent
            self.adapter.interest.resync_soon()
        self.adapter._came_up()

    async def on_resumed(self) -> None:
        self.adapter._came_up()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.adapter._on_interaction(interaction)

    async def run_action(self, interaction: discord.Interaction, action: str) -> None:
        await self.adapter._on_action(interaction, action)


class InsightModal(discord.ui.Modal):
    """The form behind ``/insight theme`` without text."""

    def __init__(self, adapter: DiscordAdapter, theme_id: str, theme_name: str) -> None:
        super().__init__(title=_("Insight: {theme}", theme=theme_name)[:45], timeout=MODAL_TIMEOUT)
        self.adapter = adapter
        self.theme_id = theme_id
        self.text: discord.ui.TextInput[InsightModal] = discord.ui.TextInput(
            label=_("Your insight"),
            style=discord.TextStyle.paragraph,
            custom_id="text",
            placeholder=_("What did your city learn after a crisis?"),
            max_length=MAX_TEXT,
        )
        self.city: discord.ui.TextInput[InsightModal] = discord.ui.TextInput(
            label=_("City (optional)"), custom_id="city", required=False, max_length=MAX_CITY
        )
        self.anonymous: discord.ui.Select[InsightModal] = discord.ui.Select(
            custom_id="anonymous",
            options=[
                discord.SelectOption(label=_("Show my name"), value="no", default=True),
                discord.SelectOption(label=_("Post anonymously"), value="yes"),
            ],
            min_values=1,
            max_values=1,
        )
        self.add_item(self.text)
        self.add_item(self.city)
        self.add_item(discord.ui.Label(text=_("Author"), component=self.anonymous))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        args = {
            "theme": self.theme_id,
            "text": self.text.value,
            "city": self.city.value.strip(),
            "anonymous": "yes" if "yes" in self.anonymous.values else "",
        }
        await self.adapter._run(interaction, command="insight", args=args)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        log.exception("insight modal failed", exc_info=error)
        await self.adapter._reply(interaction, apology())


class FormModal(discord.ui.Modal):
    """A form the core describes (such as a session's registration questions), as a modal."""

    def __init__(self, adapter: DiscordAdapter, form: Form) -> None:
        super().__init__(title=form.title[:45], timeout=MODAL_TIMEOUT)
        self.adapter = adapter
        self.form = form
        self.inputs: dict[str, discord.ui.TextInput[FormModal] | discord.ui.Select[FormModal]] = {}
        for field in form.fields[:5]:  # a modal holds five components
            if field.choices:
                select: discord.ui.Select[FormModal] = discord.ui.Select(
                    custom_id=field.id,
                    options=[
                        discord.SelectOption(label=c[:100], value=c[:100], default=c == field.value)
                        for c in field.choices[:25]
                    ],
                    min_values=1 if field.required else 0,
                    max_values=1,
                    required=field.required,
                )
                self.inputs[field.id] = select
                self.add_item(discord.ui.Label(text=field.label[:45], component=select))
            else:
                text: discord.ui.TextInput[FormModal] = discord.ui.TextInput(
                    label=field.label[:45],
                    custom_id=field.id,
                    required=field.required,
                    max_length=min(field.max_length, 4000),
                    default=field.value or None,
                )
                self.inputs[field.id] = text
                self.add_item(text)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        args = dict(self.form.args)
        for field_id, item in self.inputs.items():
            if isinstance(item, discord.ui.Select):
                args[field_id] = item.values[0] if item.values else ""
            else:
                args[field_id] = item.value
        # the core judges every field; a refusal comes back as an ephemeral answer
        await self.adapter._run(interaction, command=self.form.command, args=args)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        log.exception("form modal failed", exc_info=error)
        await self.adapter._reply(interaction, apology())


class DiscordAdapter:
    """Runs the Roundtable core on Discord; also the core's delivery port for Discord."""

    platform = "discord"
    label = "Discord"

    def __init__(self, core: Roundtable, settings: DiscordSettings, **client_options: Any) -> None:
        self.core = core
        if settings.token is None:
            raise AdapterStartError("DISCORD_TOKEN is not set.")
        self._token = settings.token.get_secret_value()
        self.guild_id: int | None = settings.guild_id
        self.api_base = settings.api_base.rstrip("/")
        self.gateway_url = settings.gateway_url
        self.client = _Client(self, **client_options)
        self.interest = Interest(self)
        self.interest.install(self.client)
        # every delivery request waits its turn: a DM is 2 requests, 1 with the cached channel
        self.limiter = RateLimiter(settings.global_rate * RATE_HEADROOM)
        self._ready = asyncio.Event()
        self._connection: asyncio.Task[None] | None = None
        self._closing = False
        self._up_at = 0.0
        self.state = "starting"
        self.reconnect_within = core.settings.reconnect_within
        self._attached = False
        self.invite: str | None = None

    # ----- life cycle -----------------------------------------------------------------

    def _point_at_endpoints(self) -> None:
        """Route discord.py to the configured REST base and gateway (a proxy or a stand-in).

        discord.py keeps both as class attributes, so this is process-wide; it only
        changes them when the settings differ from Discord's own endpoints.
        """
        if self.api_base != DEFAULT_API_BASE:
            discord.http.Route.BASE = self.api_base
        gateway = yarl.URL(self.gateway_url)
        if gateway != discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway

    async def start(self) -> None:
        """Log in, sync commands, connect to the gateway and start delivering.

        Returns once the bot is ready (or after ``READY_TIMEOUT``, with discord.py still
        trying to connect). Raises ``AdapterStartError`` on a bad token or an unreachable API.
        """
        self._point_at_endpoints()
        try:
            await self.client.login(self._token)
        except discord.LoginFailure as exc:
            await self.client.close()
            raise AdapterStartError(
                "Discord refused DISCORD_TOKEN (401 Unauthorized). Copy the bot token from the "
                "Developer Portal (Bot → Reset Token) into DISCORD_TOKEN."
            ) from exc
        except (TimeoutError, discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            await self.client.close()
            raise AdapterStartError(f"Could not reach Discord at {self.api_base}: {exc}") from exc

        self._connection = asyncio.create_task(self._connect(), name="discord-gateway")
        ready = asyncio.create_task(self._ready.wait())
        done, _pending = await asyncio.wait(
            {ready, self._connection}, timeout=READY_TIMEOUT, return_when="FIRST_COMPLETED"
        )
        ready.cancel()
        if self._connection in done:
            await self.close()
            exc = self._connection.exception()
            if isinstance(exc, AdapterStartError):
                raise exc
            raise AdapterStartError(f"Discord gateway connection failed: {exc}") from exc
        if not done:
            log.warning("Discord gateway not ready after %.0f s; still trying", READY_TIMEOUT)

    async def _connect(self) -> None:
        """The gateway connection, supervised: if discord.py's own loop ends or raises (say, on
        an event it failed to parse), log the cause at once and connect again with backoff;
        not back within ``reconnect_within`` seconds, raise ``AdapterDied``."""
        loop = asyncio.get_running_loop()
        down_since: float | None = None
        attempt = 0
        while True:
            began = loop.time()
            try:
                await self.client.connect(reconnect=True)
                cause = "the gateway connection ended"
            except discord.ConnectionClosed as exc:
                if exc.code == 4004:
                    raise AdapterStartError(
                        "Discord gateway refused DISCORD_TOKEN (close code 4004)."
                    ) from exc
                if self.state == "starting":
                    raise  # start() reports it
                cause = f"the gateway closed the connection ({exc.code})"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.state == "starting":
                    raise
                cause = f"{type(exc).__name__}: {exc}"
            if self._closing or self.client.is_closed() or self.state == "starting":
                return
            self.state = "reconnecting"
            if self._ready.is_set() and self._up_at >= began:
                down_since, attempt = None, 0  # it was up since the last attempt
            self._ready.clear()
            now = loop.time()
            down_since = down_since if down_since is not None else now
            if now - down_since > self.reconnect_within:
                self.state = "down"
                raise AdapterDied(
                    f"the Discord gateway did not come back within {self.reconnect_within:g}s: {cause}"
                )
            delay = min(RECONNECT_CAP, RECONNECT_BASE * 2**attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            log.error("Discord: gateway connection lost (%s); reconnecting in %.1fs", cause, delay)
            await asyncio.sleep(delay)

    def _came_up(self) -> None:
        self._up_at = asyncio.get_running_loop().time()
        if self.state == "reconnecting":
            log.warning("Discord: gateway connection is back")
        self.state = "up"
        self._ready.set()

    def health(self) -> str:
        """up | reconnecting | down | starting"""
        return self.state

    async def _after_login(self) -> None:
        """After login, before the gateway: sync commands, log the invite URL, start delivering."""
        app_id = self.client.application_id
        assert app_id is not None  # set by login()
        self.invite = invite_url(app_id)
        log.info("Discord: logged in as %s; invite the bot with %s", self.client.user, self.invite)
        if self.guild_id is None:
            log.warning(
                "Discord: DISCORD_GUILD_ID is not set, so nobody on Discord can use /roster or /announce"
            )
        await self.sync_commands()
        await mirror_program(self)
        # marks made while the bot was away (before the gateway: none can race it)
        await self.interest.resync()
        self.core.attach(self)
        self._attached = True

    async def sync_commands(self) -> None:
        """Overwrite the slash commands with the core's (one server at once if DISCORD_GUILD_ID is set)."""
        payload = command_payloads(self.core.program, global_scope=self.guild_id is None)
        app_id = self.client.application_id
        try:
            if self.guild_id is not None:
                await self.client.http.bulk_upsert_guild_commands(app_id, self.guild_id, payload)
            else:
                await self.client.http.bulk_upsert_global_commands(app_id, payload)
        except (TimeoutError, discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            # the bot still delivers reminders; the commands from the last sync stay in place
            log.error("Discord: syncing slash commands failed: %s", exc)
            return
        where = (
            f"server {self.guild_id}"
            if self.guild_id is not None
            else "all servers (may take a while to show)"
        )
        log.info("Discord: %d slash commands synced to %s", len(payload), where)

    async def wait(self) -> None:
        """Return when the gateway connection ends; raise ``AdapterDied`` if it was lost for good."""
        if self._connection is not None:
            try:
                await asyncio.shield(self._connection)
            except AdapterDied:
                raise
            except Exception as exc:
                raise AdapterDied(f"the Discord gateway task failed: {exc!r}") from exc

    async def close(self, grace: float = 0.5) -> None:
        """Stop delivering, then disconnect."""
        self._closing = True
        if self._attached:
            self.core.detach(self)
            self._attached = False
        await self.client.close()
        await self.interest.close()
        if self._connection is not None and not self._connection.done():
            self._connection.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connection

    # ----- interactions in ------------------------------------------------------------

    workspace = WORKSPACE

    def identity(self, interaction: discord.Interaction) -> Identity:
        user = interaction.user
        # the client's language on every interaction (Discord gives no time zone)
        locale = str(getattr(interaction.locale, "value", interaction.locale) or "") or None
        return self.identity_of(str(user.id), user.display_name, locale)

    @staticmethod
    def identity_of(user_id: str, name: str, locale: str | None = None) -> Identity:
        """A Discord user as the core knows them; ``name`` may be "" when only the id is known."""
        # Discord user ids are global: one person in every server and in DMs
        return Identity(
            platform="discord", workspace=WORKSPACE, user_id=user_id, display_name=name, locale=locale
        )

    def is_organizer(self, interaction: discord.Interaction) -> bool:
        """Manage Server in the event's own server (DISCORD_GUILD_ID), checked at run time since
        default permissions can be overridden; anyone may add a public bot to a server of their own."""
        return (
            self.guild_id is not None
            and interaction.guild_id == self.guild_id
            and interaction.permissions.manage_guild
        )

    async def _on_interaction(self, interaction: discord.Interaction) -> None:
        # components (buttons) and modals are dispatched by discord.py's view store
        try:
            if interaction.type is discord.InteractionType.application_command:
                await self._on_command(interaction)
            elif interaction.type is discord.InteractionType.autocomplete:
                await self._on_autocomplete(interaction)
        except Exception:
            log.exception("Discord: interaction %s failed", interaction.id)
            await self._reply(interaction, apology())

    async def _on_command(self, interaction: discord.Interaction) -> None:
        data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
        name = str(data.get("name", ""))
        spec = COMMANDS.get(name)
        if spec is None:  # a stale command from an older sync
            with i18n.using(await self.core.language_of(self.identity(interaction))):
                gone = command_gone(name)
            await self._reply(interaction, gone)
            return
        args = {o["name"]: str(o["value"]) for o in data.get("options", []) if o.get("value") is not None}
        if spec.form_when_empty and not args.get(spec.form_when_empty, "").strip():
            await self._open_form(interaction, spec.name, args)
            return
        await self._run(interaction, command=name, args=args)

    async def _open_form(self, interaction: discord.Interaction, command: str, args: dict[str, str]) -> None:
        if command != "insight":
            await self._run(interaction, command=command, args=args)
            return
        theme = self.core.program.theme(args.get("theme", ""))
        with i18n.using(await self.core.language_of(self.identity(interaction))):
            if theme is None:
                await self._reply(interaction, refusal(_("Please pick one of the listed themes.")))
                return
            modal = InsightModal(self, theme.id, theme.name)
        try:
            await interaction.response.send_modal(modal)
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            log.warning("Discord: could not open the insight form: %s", exc)

    async def _on_action(self, interaction: discord.Interaction, action: str) -> None:
        """A button click: its action is a neutral command line."""
        await self._run(interaction, line=action)

    async def _run(
        self,
        interaction: discord.Interaction,
        *,
        command: str | None = None,
        args: dict[str, str] | None = None,
        line: str | None = None,
    ) -> None:
        """Through the core's one inbound path, behind a deferral and the core's work queue."""

        async def work() -> Message:
            return await self.core.respond(
                self.identity(interaction),
                command=command,
                args=args,
                line=line,
                organizer=self.is_organizer(interaction),
            )

        if interaction.type is not discord.InteractionType.modal_submit and self.core.asks_first(
            command=command, args=args, line=line
        ):
            await self._answer_with_form(interaction, work)
            return
        what = line if line is not None else f"{command} {sorted((args or {}).items())}"
        await self._answer(interaction, work, key=("discord", str(interaction.user.id), what))

    async def _answer_with_form(
        self, interaction: discord.Interaction, work: Callable[[], Awaitable[Message]]
    ) -> None:
        """A modal must be an interaction's first answer: run the command before acknowledging,
        within FORM_SECONDS (it only reads the answers given before); past that, defer."""
        task = asyncio.ensure_future(work())
        await asyncio.wait({task}, timeout=FORM_SECONDS)
        if not task.done():
            try:
                await interaction.response.defer(ephemeral=True, thinking=True)
            except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
                log.warning("Discord: could not defer interaction %s: %s", interaction.id, exc)
        try:
            message = await task
        except Exception:
            log.exception("Discord: the core failed on interaction %s", interaction.id)
            message = apology()
        await self._reply(interaction, message)

    async def _on_autocomplete(self, interaction: discord.Interaction) -> None:
        data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
        spec = COMMANDS.get(str(data.get("name", "")))
        focused = next((o for o in data.get("options", []) if o.get("focused")), None)
        choices: list[discord.app_commands.Choice[str]] = []
        if spec is not None and focused is not None:
            option = next((o for o in spec.options if o.name == focused["name"]), None)
            typed = str(focused.get("value", ""))
            if option is not None and option.choices_from == "zones":
                # zones match as typed, misspellings too, the event's cities first
                found = zones.suggestions(typed, self.core.program.event.zones)
                choices = [discord.app_commands.Choice(name=z, value=z) for z in found]
            elif option is not None and option.choices_from:
                choices = search_choices(_choices(option, self.core.program), typed)
        with contextlib.suppress(discord.HTTPException, aiohttp.ClientError, OSError):
            await interaction.response.autocomplete(choices)

    async def _answer(
        self,
        interaction: discord.Interaction,
        work: Callable[[], Awaitable[Message]],
        *,
        key: tuple[str, ...],
    ) -> None:
        """Defer at once, queue the work, and answer with a follow-up when it is done.

        The deferral never waits on the core: under a burst the event loop is busy and any
        wait before it risks Discord's 3 seconds. A full queue answers "busy" at once instead.
        """
        acked = asyncio.Event()

        async def job() -> None:
            try:
                message = await work()
            except Exception:
                log.exception("Discord: the core failed on interaction %s", interaction.id)
                message = apology()
            await acked.wait()  # a follow-up needs the deferral to have landed
            await self._reply(interaction, message)

        admission = self.core.work.submit(job, key=key)
        if admission is Admission.BUSY:
            await self._reply(interaction, busy())
            return
        if admission is Admission.DUPLICATE:
            await self._duplicate(interaction)
            return
        try:
            # an ephemeral "thinking…": the follow-up inherits it, which suits personal replies
            await interaction.response.defer(ephemeral=True, thinking=True)
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            log.warning("Discord: could not defer interaction %s: %s", interaction.id, exc)
        finally:
            acked.set()

    async def _duplicate(self, interaction: discord.Interaction) -> None:
        """The same command again while the first is being worked on: one answer is enough."""
        if interaction.type is discord.InteractionType.component:
            # a double click: acknowledge without showing anything
            with contextlib.suppress(discord.HTTPException, aiohttp.ClientError, OSError):
                await interaction.response.defer()
            return
        await self._reply(interaction, already_working())

    async def _reply(self, interaction: discord.Interaction, message: Message) -> None:
        """Show a message as the interaction's answer (direct reply, or follow-up after a defer)."""
        if message.form is not None:
            # a modal must be the interaction's first answer, and cannot answer a modal
            if (
                not interaction.response.is_done()
                and interaction.type != discord.InteractionType.modal_submit
            ):
                try:
                    await interaction.response.send_modal(FormModal(self, message.form))
                    return
                except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
                    log.warning("Discord: could not open a form: %s", exc)
            message = form_not_opened()
        kwargs = render(message)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(ephemeral=message.ephemeral, wait=False, **kwargs)
            else:
                await interaction.response.send_message(ephemeral=message.ephemeral, **kwargs)
        except discord.NotFound as exc:
            # 10062: the 3 s window passed; nothing more can be shown for this interaction
            log.warning("Discord: interaction %s expired before the reply: %s", interaction.id, exc)
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            log.warning("Discord: replying to interaction %s failed: %s", interaction.id, exc)

    # ----- the delivery port ----------------------------------------------------------

    def reach(self) -> list[Reach]:
        """Everyone on Discord, while logged in: DMs and channel posts go over REST."""
        if self.client.is_closed() or self.client.user is None:
            return []
        return [Reach("discord")]

    async def send_direct(self, recipient: Recipient, message: Message, *, key: str | None = None) -> Receipt:
        """DM a user; reuses the cached DM channel, so a repeat DM is one request.

        ``key`` (the queued row's stable id) goes out as the message ``nonce`` with
        ``enforce_nonce``: if this row reached Discord before (a crash, a timeout), Discord
        returns that message instead of creating a second one."""
        kwargs = render(message)
        channel_id = recipient.dm_channel
        if channel_id is not None:
            try:
                await self._guard(self._post(channel_id, kwargs, key))
                return Receipt(dm_channel=channel_id)
            except DeliveryError as exc:
                if exc.reason != UNKNOWN_CHANNEL:
                    raise
                # a stale cached channel: open the DM again below
        if not recipient.user_id.isdigit():
            raise DeliveryError(UNKNOWN_USER, f"not a Discord user id: {recipient.user_id!r}")
        await self.limiter.acquire()
        data = await self._guard(self.client.http.start_private_message(int(recipient.user_id)))
        channel_id = str(data["id"])
        # rendered again: a first try may have used (and closed) the files
        await self._guard(self._post(channel_id, render(message), key))
        return Receipt(dm_channel=channel_id)

    async def post_insight(self, channel: str, post: InsightPost, *, key: str | None = None) -> Receipt:
        """Post an insight embed into a theme channel; mentions are disabled.

        The receipt's ``ref`` is the message id, what deleting it takes."""
        if not channel.isdigit():
            raise DeliveryError(UNKNOWN_CHANNEL, f"not a Discord channel id: {channel!r}")
        # a channel post is read by everyone: the frame's words in the program's language
        with i18n.using(self.core.program.event.locale):
            embed = insight_embed(post)
        kwargs = {"embed": embed, "allowed_mentions": discord.AllowedMentions.none()}
        message = await self._guard(self._post(channel, kwargs, key))
        return Receipt(ref=str(message.id) if getattr(message, "id", None) else None)

    async def delete_post(self, channel: str, ref: str) -> None:
        """DELETE /channels/{channel}/messages/{ref}; a message already gone counts as done."""
        if not channel.isdigit() or not ref.isdigit():
            raise DeliveryError(CANNOT_DELETE, f"not a Discord message: {channel!r}/{ref!r}")
        await self.limiter.acquire()
        partial = self.client.get_partial_messageable(int(channel)).get_partial_message(int(ref))
        try:
            await self._guard(partial.delete(), deleting=True)
        except DeliveryError as exc:
            if exc.reason != UNKNOWN_MESSAGE:
                raise

    async def _post(self, channel_id: str, kwargs: dict[str, Any], key: str | None = None) -> discord.Message:
        await self.limiter.acquire()
        channel = self.client.get_partial_messageable(int(channel_id))
        if key is not None:
            # discord.py sends enforce_nonce: true with every nonce
            return await channel.send(**kwargs, nonce=key)
        return await channel.send(**kwargs)

    @staticmethod
    async def _guard(call: Awaitable[Any], *, deleting: bool = False) -> Any:
        """Await a Discord call, turning its failures into ``DeliveryError``s.

        ``deleting``: taking a post down, where 404 Unknown Message means it is gone already
        (``UNKNOWN_MESSAGE``) and a refusal for good is ``CANNOT_DELETE``."""
        try:
            return await call
        except discord.NotFound as exc:
            if deleting and exc.code == UNKNOWN_MESSAGE_CODE:
                raise DeliveryError(UNKNOWN_MESSAGE, exc.text) from exc
            if deleting:
                raise DeliveryError(CANNOT_DELETE, f"not found ({exc.code}): {exc.text}") from exc
            if exc.code == UNKNOWN_USER_CODE:
                raise DeliveryError(UNKNOWN_USER, exc.text) from exc
            if exc.code == UNKNOWN_CHANNEL_CODE:
                raise DeliveryError(UNKNOWN_CHANNEL, exc.text) from exc
            raise DeliveryError(PLATFORM_ERROR, f"not found ({exc.code}): {exc.text}") from exc
        except discord.Forbidden as exc:
            if deleting:
                raise DeliveryError(CANNOT_DELETE, f"forbidden ({exc.code}): {exc.text}") from exc
            if exc.code == CANNOT_SEND_TO_USER_CODE:
                raise DeliveryError(DMS_CLOSED, exc.text) from exc
            raise DeliveryError(PLATFORM_ERROR, f"forbidden ({exc.code}): {exc.text}") from exc
        except discord.DiscordServerError as exc:
            raise DeliveryError(PLATFORM_ERROR, f"Discord {exc.status}", retryable=True) from exc
        except discord.RateLimited as exc:
            # longer than max_ratelimit_timeout: the row goes back to the queue until then
            raise DeliveryError(
                PLATFORM_ERROR, f"rate limited for {exc.retry_after:.0f} s", retry_after=exc.retry_after
            ) from exc
        except discord.HTTPException as exc:
            if exc.code == CANNOT_SEND_TO_USER_CODE:  # sometimes a 400 rather than a 403
                raise DeliveryError(DMS_CLOSED, exc.text) from exc
            raise DeliveryError(PLATFORM_ERROR, f"HTTP {exc.status} ({exc.code}): {exc.text}") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(PLATFORM_ERROR, f"network: {exc!r}", retryable=True) from exc
