"""The lanes against the platforms' stand-ins, through the real adapters (in process).

- ``latency_2000_s``: 2,000 due Slack reminders, a stand-in adding 100 ms to every call and
  no rate limit: seconds until all are delivered (to reach: under 20).
- ``discord_ceiling_ratio``: Discord DMs against a stand-in enforcing the global 50
  requests/s: the request rate reached over the fan-out, as a share of 50 (to reach: ≥ 0.9),
  and how many requests the stand-in answered 429 (to reach: 0).
- ``slack_during_discord_outage_per_s``: Slack reminders per second while every Discord call
  answers 500, beside the same Slack fan-out alone.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import discord
import yarl

from bench.delivery import _due_clock, _open, fill
from bench.figures import Figure, Options


async def _slack_and_discord(
    tmp: Path,
    slack_people: int,
    discord_people: int,
    *,
    latency: float,
    discord_rate: float | None,
    discord_down: bool,
    window: int = 32,
):
    from bots.discord.adapter import DiscordAdapter
    from bots.slack.adapter import SlackAdapter
    from tests.discord.discord_standin import DiscordStandin
    from tests.slack.slack_standin import SlackStandIn
    from tests.support import discord_settings, slack_settings

    dstandin = DiscordStandin()
    await dstandin.start()
    sstandin = await SlackStandIn().start()
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = dstandin.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(dstandin.gateway_url)
    clock, due = _due_clock()
    core = await _open(f"sqlite:///{tmp / 'lanes.db'}", clock, dispatch_concurrency=window)
    adapters = []
    try:
        slack_ids = [sstandin.add_user(f"U{i:07d}", f"s{i}").id for i in range(slack_people)]
        members = [dstandin.add_user(f"m{i}").id for i in range(discord_people)]
        await fill(
            core,
            slack_people,
            due,
            platform="slack",
            workspace=sstandin.team_id,
            user=lambda i: slack_ids[i - 1],
            dm=lambda i: None,
        )
        await fill(
            core,
            discord_people,
            due,
            start=slack_people,
            platform="discord",
            workspace=dstandin.guild_id,
            user=lambda i: members[i - 1 - slack_people],
            dm=lambda i: None,
        )
        if slack_people:
            slack = SlackAdapter(core, slack_settings(sstandin))
            await slack.start_socket()
            adapters.append(slack)
        if discord_people:
            bot = DiscordAdapter(core, discord_settings(dstandin))
            await bot.start()
            adapters.append(bot)
        sstandin.latency = dstandin.latency = latency
        dstandin.rate_limit = discord_rate
        if discord_down:
            dstandin.fail_next("POST", r"/.*", status=500, times=10**9)
        for adapter in adapters:
            core.detach(adapter)
        for adapter in adapters:
            core.attach(adapter)
        first = len(dstandin.requests)
        started = time.perf_counter()
        slack_done = None
        if discord_down:
            # Discord never delivers: time the Slack lane alone, then stop
            await core.start()
            while sum(len(sstandin.delivered(u)) for u in slack_ids) < slack_people:
                await _tick()
            slack_done = time.perf_counter() - started
            return {"slack_s": slack_done}
        await core.dispatch_due()
        took = time.perf_counter() - started
        requests = len(dstandin.requests) - first
        return {"took": took, "discord_requests": requests, "over_limit": dstandin.over_limit}
    finally:
        await core.close(grace=0.5)
        for adapter in adapters:
            await adapter.close()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway
        await dstandin.close()
        await sstandin.close()


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.02)


async def measure(options: Options) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        result = await _slack_and_discord(
            Path(tmp), 2000, 0, latency=0.1, discord_rate=None, discord_down=False
        )
        figures.append(
            Figure(
                "latency_2000_s", "2,000 Slack reminders, 100 ms a call, no rate limit", result["took"], "s"
            )
        )
    people = 400 if options.quick else 1500
    with tempfile.TemporaryDirectory() as tmp:
        result = await _slack_and_discord(
            Path(tmp), 0, people, latency=0.0, discord_rate=50, discord_down=False
        )
        rate = result["discord_requests"] / result["took"]
        figures.append(
            Figure(
                "discord_ceiling_ratio",
                f"{people:,} Discord DMs (2 requests each) against 50 requests/s",
                rate / 50,
                "× of 50/s",
                note=f"{rate:.1f} requests/s; {result['over_limit']} answered 429",
                extra={"discord_429s": result["over_limit"]},
            )
        )
    with tempfile.TemporaryDirectory() as tmp:
        alone = await _slack_and_discord(
            Path(tmp), 500, 0, latency=0.1, discord_rate=None, discord_down=False
        )
    with tempfile.TemporaryDirectory() as tmp:
        outage = await _slack_and_discord(
            Path(tmp), 500, 200, latency=0.1, discord_rate=None, discord_down=True
        )
    figures.append(
        Figure(
            "slack_during_discord_outage_per_s",
            "500 Slack reminders while every Discord call answers 500",
            500 / outage["slack_s"],
            "/s",
            baseline=500 / alone["took"],
            baseline_key="slack_alone_per_s",
            note="baseline: the same Slack fan-out with Discord absent",
        )
    )
    return figures
