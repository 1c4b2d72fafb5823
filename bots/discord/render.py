"""Turning the core's neutral messages and commands into Discord payloads.

Pure functions (no network): rendering of ``Message`` and ``InsightPost``, escaping of
people's text, and the slash-command definitions built from ``shared.commands.COMMANDS``.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any

import discord

from shared import i18n
from shared.commands import COMMANDS, CommandSpec, Option
from shared.i18n import _, ngettext
from shared.messages import TIME_MARKER, Button, InsightPost, Message

if TYPE_CHECKING:
    from shared.program import Program

# Discord's limits (https://discord.com/developers/docs/resources/message)
CONTENT_MAX = 2000
EMBED_DESCRIPTION_MAX = 4096
EMBED_TITLE_MAX = 256
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_PER_EMBED = 25
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
CHOICES_MAX = 25
BUTTONS_PER_ROW = 5
BUTTON_LABEL_MAX = 80
CUSTOM_ID_MAX = 100

ACTION_PREFIX = "rt:"
ACTION_TEMPLATE = r"rt:(?P<action>/.+)"
MANAGE_GUILD = discord.Permissions(manage_guild=True).value

OK_COLOUR = discord.Colour.blurple()
ERROR_COLOUR = discord.Colour.red()
INSIGHT_COLOUR = discord.Colour.teal()

_ZERO_WIDTH = "\u200b"
_EMPTY = _ZERO_WIDTH  # Discord rejects empty field names and values
_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "danger": discord.ButtonStyle.danger,
}


def plain(text: str) -> str:
    """People's text shown as typed: no markdown, no mentions, no ``<…>`` markup.

    A zero-width space after ``<`` defuses user, role, channel, emoji, slash-command and
    timestamp markup alike; ``allowed_mentions`` is the second line of defence.
    """
    text = discord.utils.escape_markdown(text)
    text = discord.utils.escape_mentions(text)
    return text.replace("<", "<" + _ZERO_WIDTH)


def quoted(text: str) -> str:
    """Escaped people's text as a block quote: no line of it can pass for the bot's own."""
    return "\n".join("> " + line for line in text.split("\n"))


# the core's time styles as Discord timestamp styles: every reader sees their own local time
_TIME_STYLES = {"full": "F", "relative": "R", "time": "t", "date": "D"}


def timestamps(text: str) -> str:
    """Core text with its time markers as Discord timestamps (``<t:UNIX:STYLE>``)."""
    return TIME_MARKER.sub(lambda m: f"<t:{m.group(1)}:{_TIME_STYLES[m.group(2)]}>", text)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ActionButton(discord.ui.DynamicItem[discord.ui.Button], template=ACTION_TEMPLATE):
    """A button that runs a neutral command line; it lives in its custom id, so it survives restarts."""

    def __init__(
        self, action: str, label: str = "Go", style: discord.ButtonStyle = discord.ButtonStyle.primary
    ):
        self.action = action
        super().__init__(
            discord.ui.Button(
                label=clip(label, BUTTON_LABEL_MAX), style=style, custom_id=ACTION_PREFIX + action
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ActionButton:
        return cls(match["action"])

    async def callback(self, interaction: discord.Interaction) -> None:
        # the client is the adapter's, which knows how to run an action line
        handler = getattr(interaction.client, "run_action", None)
        if handler is not None:
            await handler(interaction, self.action)


def button_view(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    """A view of link buttons and action buttons, or None.

    Action buttons whose custom id would be too long are dropped; Discord allows 25.
    """
    items: list[discord.ui.Item[Any]] = []
    for button in buttons:
        label = clip(button.label, BUTTON_LABEL_MAX)
        if button.url:
            items.append(discord.ui.Button(label=label, url=button.url, style=discord.ButtonStyle.link))
        elif button.action and len(ACTION_PREFIX + button.action) <= CUSTOM_ID_MAX:
            style = _STYLES.get(button.style, discord.ButtonStyle.primary)
            items.append(ActionButton(button.action, label, style))
    if not items:
        return None
    view = discord.ui.View(timeout=None)
    for index, item in enumerate(items[: BUTTONS_PER_ROW * 5]):
        item.row = index // BUTTONS_PER_ROW
        view.add_item(item)
    return view


def render(message: Message) -> dict[str, Any]:
    """Keyword arguments for ``send``/``send_message``/``followup.send`` (without ``ephemeral``).

    Plain replies go in ``content``; replies with fields (or long text) become embeds.
    Time markers in core text become Discord timestamps, which every reader sees in
    their local time.
    """
    kwargs: dict[str, Any] = {"allowed_mentions": discord.AllowedMentions.none()}
    if message.files:
        # a fresh File per send: discord.py reads (and closes) it while sending
        kwargs["files"] = [discord.File(io.BytesIO(f.data), filename=f.filename) for f in message.files]
    view = button_view(message.buttons)
    if view is not None:
        kwargs["view"] = view
    text = timestamps(message.text)
    if not message.fields and len(text) <= CONTENT_MAX:
        kwargs["content"] = text or _EMPTY
        return kwargs
    colour = OK_COLOUR if message.ok else ERROR_COLOUR
    embeds = [discord.Embed(description=clip(text, EMBED_DESCRIPTION_MAX) or None, colour=colour)]
    budget = EMBED_TOTAL_MAX - len(text[:EMBED_DESCRIPTION_MAX])
    shown = 0
    for field in message.fields:
        name = clip(plain(field.name), FIELD_NAME_MAX) or _EMPTY
        value = (
            clip(quoted(plain(field.value)) if field.verbatim else timestamps(field.value), FIELD_VALUE_MAX)
            or _EMPTY
        )
        budget -= len(name) + len(value)
        if budget < 100:  # room for the "more" note
            break
        if len(embeds[-1].fields) >= FIELDS_PER_EMBED:
            if len(embeds) >= EMBEDS_MAX:
                break
            embeds.append(discord.Embed(colour=colour))
        embeds[-1].add_field(name=name, value=value, inline=field.inline)
        shown += 1
    if shown < len(message.fields):
        hidden = len(message.fields) - shown
        with i18n.using(message.locale):
            more = ngettext(
                "… and {n} more not shown here", "… and {n} more not shown here", hidden, n=hidden
            )
        embeds[-1].set_footer(text=more)
    kwargs["embeds"] = embeds
    return kwargs


def insight_embed(post: InsightPost) -> discord.Embed:
    """An insight as posted into its theme channel; every value from people is escaped."""
    embed = discord.Embed(
        title=clip(plain(post.theme_name), EMBED_TITLE_MAX),
        description=clip(quoted(plain(post.text)), EMBED_DESCRIPTION_MAX),
        colour=INSIGHT_COLOUR,
        timestamp=post.created_at,
    )
    embed.add_field(
        name=_("Shared by"),
        value=clip(plain(post.author), FIELD_VALUE_MAX) if post.author else _("anonymous"),
    )
    if post.city:
        embed.add_field(name=_("City"), value=clip(plain(post.city), FIELD_VALUE_MAX))
    embed.add_field(name=_("Platform"), value=post.origin)
    embed.set_footer(text=_("Insight #{number} · {theme}", number=post.insight_id, theme=post.theme_id))
    return embed


# ----- slash commands ---------------------------------------------------------------


# the core's languages as Discord's locale codes
_DISCORD_LOCALES = {"fr": ("fr",), "es": ("es-ES", "es-419")}


def _localized(text: str) -> dict[str, str]:
    return {
        code: clip(translated, 100)
        for language, translated in i18n.in_each(text).items()
        for code in _DISCORD_LOCALES.get(language, ())
        if translated != text
    }


def _choices(option: Option, program: Program) -> list[dict[str, str]]:
    if option.choices_from == "sessions":
        return [{"name": clip(s.title, 100), "value": s.id} for s in program.sessions]
    if option.choices_from == "themes":
        return [{"name": clip(t.name, 100), "value": t.id} for t in program.themes]
    return []


def _option_payload(spec: CommandSpec, option: Option, program: Program) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "type": discord.AppCommandOptionType.string.value,
        "name": option.name,
        "description": clip(option.description, 100),
        "description_localizations": _localized(option.description),
        # a command that opens a form when this option is empty (/insight) must not require it
        "required": option.required and option.name != spec.form_when_empty,
    }
    if option.choices_from == "zones":
        payload["autocomplete"] = True  # hundreds of zones: the adapter suggests as people type
    elif option.choices_from:
        choices = _choices(option, program)
        if len(choices) <= CHOICES_MAX:
            payload["choices"] = choices
        else:  # Discord caps choices; long programs are searched as the user types
            payload["autocomplete"] = True
    return payload


def command_payloads(program: Program, *, global_scope: bool = False) -> list[dict[str, Any]]:
    """Every core command as a Discord CHAT_INPUT command, ready for a bulk overwrite.

    ``contexts`` and ``integration_types`` only apply to global commands, so guild
    syncs leave them out.
    """
    payloads = []
    for spec in COMMANDS.values():
        options = [_option_payload(spec, o, program) for o in spec.options if not o.hidden]
        # Discord wants required options before optional ones
        options.sort(key=lambda o: not o["required"])
        payload: dict[str, Any] = {
            "type": 1,
            "name": spec.name,
            "description": clip(spec.description, 100),
            # the core's catalogs, in Discord's locale codes: each client shows its language
            "description_localizations": _localized(spec.description),
            "options": options,
            # hidden from members without Manage Server; the adapter checks again at run time
            "default_member_permissions": str(MANAGE_GUILD) if spec.organizer_only else None,
        }
        if global_scope:
            # 0 = in a server, 1 = in a DM with the bot; organizer commands need a server
            payload["contexts"] = [0] if spec.organizer_only else [0, 1]
            payload["integration_types"] = [0]  # installed to a server
        payloads.append(payload)
    return payloads


def search_choices(choices: list[dict[str, str]], typed: str) -> list[discord.app_commands.Choice[str]]:
    """Autocomplete: the choices whose name or id contains what the user typed."""
    typed = typed.casefold().strip()
    hits = [c for c in choices if typed in c["name"].casefold() or typed in c["value"].casefold()]
    return [discord.app_commands.Choice(name=c["name"], value=c["value"]) for c in hits[:CHOICES_MAX]]


def invite_url(app_id: int | str) -> str:
    """The URL that adds the bot to a server with the scopes and permissions it needs."""
    # create_events: the program is mirrored into the server's Events tab
    permissions = discord.Permissions(
        view_channel=True, send_messages=True, embed_links=True, attach_files=True, create_events=True
    )
    return discord.utils.oauth_url(
        int(app_id), permissions=permissions, scopes=("bot", "applications.commands")
    )
