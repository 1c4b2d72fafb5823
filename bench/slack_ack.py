"""Slack ack latency under a launch burst: the real ``roundtable run --slack-http`` process,
a local Slack stand-in for the Web API and the response URLs, and N simultaneous signed
``/register workshop`` requests; beside it the raw ceiling, a bare aiohttp process that only
checks the signature (bench/raw_ack_server.py), hit the same way in the same run.

Also: a sustained 200 requests/s, the number of people answered within 30 s, and the
confirmed seats (exactly the workshop's capacity).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from bench.figures import Figure, Options
from tests.slack.slack_standin import BOT_TOKEN, SIGNING_SECRET, SlackStandIn, encode, sign

DEADLINE_S = 3.0
ANSWER_WITHIN_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


async def start_process(args: list[str], env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    """Start a server process and wait until its /healthz answers 200."""
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            if proc.returncode is not None:
                break
            await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{args} did not start")


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def post_all(url: str, bodies: list[str]) -> list[float]:
    """POST every body at once (freshly signed); the seconds each took to be acked
    (``inf`` for an error status or a failed request)."""
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        signed = [(body, sign(SIGNING_SECRET, body)) for body in bodies]
        return await asyncio.gather(*(_post(session, url, body, headers) for body, headers in signed))


async def _post(session: aiohttp.ClientSession, url: str, body: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    try:
        async with session.post(
            url, data=body, headers={**headers, "Content-Type": "application/x-www-form-urlencoded"}
        ) as resp:
            await resp.read()
            ok = resp.status == 200
    except (aiohttp.ClientError, TimeoutError, OSError):
        ok = False
    return time.perf_counter() - started if ok else float("inf")


async def post_steady(url: str, make_body: Callable[[int], str], rate: int, seconds: float) -> list[float]:
    """``rate`` requests a second for ``seconds``, each on its own schedule; their ack times."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = make_body(i)
            tasks.append(asyncio.ensure_future(_post(session, url, body, sign(SIGNING_SECRET, body))))
        return list(await asyncio.gather(*tasks))


def slash_body(standin: SlackStandIn, user: str, key: str) -> str:
    return encode("slash_commands", standin.slash("/register", "workshop", user=user, key=key))[0]


async def wait_answers(standin: SlackStandIn, count: int, within: float) -> tuple[int, float]:
    started = time.perf_counter()
    answered = 0
    while time.perf_counter() - started < within:
        answered = len(standin.calls("response_url"))
        if answered >= count:
            break
        await asyncio.sleep(0.2)
    return answered, time.perf_counter() - started


def confirmed(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(
            conn.execute(
                "SELECT count(*) FROM registrations WHERE session_id = 'workshop' AND status = 'confirmed'"
            ).fetchone()[0]
        )


def summary(latencies: list[float]) -> dict[str, float]:
    finite = [x for x in latencies if x != float("inf")]
    return {
        "p50_ms": percentile(finite, 0.50) * 1000,
        "p99_ms": percentile(finite, 0.99) * 1000,
        "max_ms": (max(finite) if finite else float("nan")) * 1000,
        "over_3s": sum(1 for x in latencies if x > DEADLINE_S),
    }


async def measure(options: Options) -> list[Figure]:
    burst = 1000
    steady_s = 5.0 if options.quick else 10.0
    figures: list[Figure] = []
    standin = await SlackStandIn().start()
    try:
        # the raw ceiling first, then the bot, with the same requests
        raw_port = free_port()
        raw = await start_process(
            [sys.executable, "-m", "bench.raw_ack_server", str(raw_port), SIGNING_SECRET],
            dict(os.environ),
            raw_port,
        )
        try:
            raw_url = f"http://127.0.0.1:{raw_port}/slack/events"
            raw_burst = summary(
                await post_all(
                    raw_url, [slash_body(standin, f"URAW{i:05d}", f"raw{i}") for i in range(burst)]
                )
            )
            raw_steady = summary(
                await post_steady(
                    raw_url, lambda i: slash_body(standin, f"URS{i:05d}", f"rs{i}"), 200, steady_s
                )
            )
        finally:
            await stop_process(raw)

        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            port = free_port()
            env = {
                **os.environ,
                "DATABASE_URL": f"sqlite:///{db}",
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": standin.api_url,
                "SLACK_APP_TOKEN": "",
                "DISCORD_TOKEN": "",
                "PORT": str(port),
                "LOG_LEVEL": "WARNING",
            }
            roundtable = str(Path(sys.executable).parent / "roundtable")
            bot = await start_process([roundtable, "run", "--slack-http"], env, port)
            try:
                url = f"http://127.0.0.1:{port}/slack/events"
                for i in range(burst):
                    standin.add_user(f"U{i:06d}", f"person{i}")
                bodies = [slash_body(standin, f"U{i:06d}", f"b{i}") for i in range(burst)]
                burst_acks = summary(await post_all(url, bodies))
                answered, took = await wait_answers(standin, burst, ANSWER_WITHIN_S)
                seats = confirmed(db)
                before = len(standin.calls("response_url"))
                for i in range(int(200 * steady_s)):  # known to Slack, as real people are
                    standin.add_user(f"US{i:05d}", f"steady{i}")
                steady = summary(
                    await post_steady(
                        url, lambda i: slash_body(standin, f"US{i:05d}", f"s{i}"), 200, steady_s
                    )
                )
                steady_answered, _ = await wait_answers(
                    standin, before + int(200 * steady_s), ANSWER_WITHIN_S
                )
            finally:
                await stop_process(bot)
    finally:
        await standin.close()

    figures.append(
        Figure(
            "slack_ack_p99_ms",
            f"Slack HTTP ack p99, {burst} simultaneous /register",
            burst_acks["p99_ms"],
            "ms",
            baseline=raw_burst["p99_ms"],
            baseline_key="slack_raw_ack_p99_ms",
            note=f"p50 {burst_acks['p50_ms']:.0f} ms, max {burst_acks['max_ms']:.0f} ms; raw: bare aiohttp + signature check",
            extra={"slack_confirmed": seats},
        )
    )
    figures.append(
        Figure(
            "slack_ack_over_3s",
            "Slack HTTP acks after 3 s (of the burst)",
            burst_acks["over_3s"],
            "",
            baseline=raw_burst["over_3s"],
            baseline_key="slack_raw_ack_over_3s",
        )
    )
    figures.append(
        Figure(
            "slack_answered_within_30s",
            f"answered within {ANSWER_WITHIN_S:.0f} s (of {burst})",
            answered,
            "",
            note=f"waited {took:.1f} s; confirmed seats {seats} (capacity 30)",
        )
    )
    figures.append(
        Figure(
            "slack_steady_ack_p99_ms",
            f"Slack HTTP ack p99, 200 requests/s for {steady_s:.0f} s",
            steady["p99_ms"],
            "ms",
            baseline=raw_steady["p99_ms"],
            baseline_key="slack_raw_steady_ack_p99_ms",
            note=f"over 3 s: {steady['over_3s']}; answered {steady_answered - before}",
        )
    )
    return figures
