"""The Discord adapter (discord.py)."""

from bots.discord.adapter import DiscordAdapter, DiscordStartError, serve
from bots.discord.render import invite_url

__all__ = ["DiscordAdapter", "DiscordStartError", "invite_url", "serve"]
