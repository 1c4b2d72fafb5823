"""The raw ceiling for a Discord ack: a bare discord.py client that defers every interaction.

``python -m bench.raw_discord_bot`` with ``DISCORD_TOKEN``, ``DISCORD_API_BASE`` and
``DISCORD_GATEWAY_URL`` in the environment (the Discord stand-in's).
"""

from __future__ import annotations

import contextlib
import os

import discord
import yarl


class RawBot(discord.Client):
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        with contextlib.suppress(discord.HTTPException):
            await interaction.response.defer(ephemeral=True, thinking=True)


def main() -> None:
    discord.http.Route.BASE = os.environ["DISCORD_API_BASE"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
    RawBot(intents=discord.Intents.none()).run(os.environ["DISCORD_TOKEN"], log_handler=None)


if __name__ == "__main__":
    main()
