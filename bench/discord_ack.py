"""Discord ack latency under a launch burst: the real ``roundtable run`` process against the
Discord stand-in, N ``/register workshop`` interactions sent at once over the gateway; the
stand-in times each first callback (a deferral or a reply) and refuses those after 3 s, as
Discord does. Beside it the raw ceiling: a bare discord.py client that only defers
(bench/raw_discord_bot.py), hit the same way in the same run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import Figure, Options
from bench.slack_ack import percentile, stop_process
from tests.discord.discord_standin import DiscordStandin, SentInteraction

ANSWER_WITHIN_S = 30.0


async def connected(standin: DiscordStandin, proc: asyncio.subprocess.Process, within: float = 30) -> None:
    started = time.monotonic()
    while not (standin._sockets and standin.identifies):
        if proc.returncode is not None or time.monotonic() - started > within:
            raise RuntimeError("the bot did not connect to the Discord stand-in")
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # READY and the guild, then it takes interactions


async def burst(
    standin: DiscordStandin, args: list[str], env: dict[str, str], n: int, *, answers: bool
) -> dict[str, float]:
    """Start a bot, send it ``n`` interactions at once; ack times, and answers if asked."""
    standin.identifies.clear()
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await connected(standin, proc)
        people = [standin.add_user(f"person{len(standin.users)}") for _ in range(n)]
        sent: list[SentInteraction] = [
            await standin.slash(person, "register", session="workshop") for person in people
        ]
        started = time.monotonic()
        got = 0
        # every first callback is in or its 3 s are over; then (the bot) every follow-up
        while time.monotonic() - started < ANSWER_WITHIN_S:
            await asyncio.sleep(0.5)
            acked = all(s.acked_at is not None or s.late for s in sent)
            if time.monotonic() - started > standin.ack_deadline + 0.5 or acked:
                if not answers:
                    break
                got = answered(standin, [s.token for s in sent])
                if got >= n:
                    break
        acks = [s.acked_at - s.sent_at for s in sent if s.acked_at is not None]
        return {
            "p50_ms": percentile(acks, 0.5) * 1000,
            "p99_ms": percentile(acks, 0.99) * 1000,
            "over_3s": sum(1 for s in sent if s.acked_at is None),
            "answered": got,
        }
    finally:
        await stop_process(proc)
        await asyncio.sleep(0.2)  # its gateway socket closes


def answered(standin: DiscordStandin, tokens: list[str]) -> int:
    wanted = {f"/webhooks/{standin.app_id}/{t}" for t in tokens}
    return len(
        {r.path for r in standin.requests if r.method == "POST" and r.status == 200 and r.path in wanted}
    )


async def measure(options: Options) -> list[Figure]:
    n = 1000
    standin = DiscordStandin()
    await standin.start()
    try:
        base_env = {
            **os.environ,
            "DISCORD_TOKEN": standin.token,
            "DISCORD_GUILD_ID": standin.guild_id,
            "DISCORD_API_BASE": standin.api_base,
            "DISCORD_GATEWAY_URL": standin.gateway_url,
            "SLACK_BOT_TOKEN": "",
            "LOG_LEVEL": "WARNING",
        }
        raw_bot = [sys.executable, "-m", "bench.raw_discord_bot"]
        raw = await burst(standin, raw_bot, base_env, n, answers=False)
        with tempfile.TemporaryDirectory() as tmp:
            env = {**base_env, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}"}
            roundtable = str(Path(sys.executable).parent / "roundtable")
            bot = await burst(standin, [roundtable, "run"], env, n, answers=True)
    finally:
        await standin.close()
    return [
        Figure(
            "discord_ack_p99_ms",
            f"Discord ack p99, {n} simultaneous /register",
            bot["p99_ms"],
            "ms",
            baseline=raw["p99_ms"],
            baseline_key="discord_raw_ack_p99_ms",
            note=f"p50 {bot['p50_ms']:.0f} ms; raw: bare discord.py that only defers",
        ),
        Figure(
            "discord_ack_over_3s",
            f"Discord acks after 3 s (of {n})",
            bot["over_3s"],
            "",
            baseline=raw["over_3s"],
            baseline_key="discord_raw_ack_over_3s",
        ),
        Figure(
            "discord_answered_within_30s",
            f"Discord follow-ups within {ANSWER_WITHIN_S:.0f} s (of {n})",
            bot["answered"],
            "",
        ),
    ]
