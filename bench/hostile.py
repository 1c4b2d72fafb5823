"""The hostile-traffic drill (``--drill``): signed random and unsigned junk at the Slack HTTP endpoint.

Counts the answers by status and the log records carrying a traceback; the figures to keep are
0 HTTP 500 and 0 tracebacks, and the refusal rate shows what the gate in front of bolt costs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.figures import Figure, Options


class _Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.count += 1


async def measure(options: Options) -> list[Figure]:
    if not options.drill:
        return []
    # the stand-ins and generators of the test suite: the drill is the same test, longer
    from bots.slack.adapter import SlackAdapter
    from bots.slack.settings import SlackSettings
    from shared.app import Roundtable
    from shared.settings import Settings
    from tests.slack.slack_standin import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, SlackStandIn
    from tests.slack.test_slack_hostile import _post, _random_request

    signed_n = 1_000 if options.quick else 10_000
    unsigned_n = signed_n // 5
    catcher = _Tracebacks()
    logging.getLogger().addHandler(catcher)
    statuses: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(_env_file=None, database_url=f"sqlite:///{Path(folder) / 'drill.db'}")
        core = await Roundtable.open(settings)
        standin = await SlackStandIn().start()
        standin.add_user("UALICE01", "alice")
        slack = SlackSettings(
            _env_file=None,
            bot_token=BOT_TOKEN,
            app_token=APP_TOKEN,
            signing_secret=SIGNING_SECRET,
            api_url=standin.api_url,
            mode="http",
        )
        bot = SlackAdapter(core, slack)
        port = await bot.start_http("127.0.0.1", 0)
        url = f"http://127.0.0.1:{port}/slack/events"
        rng = random.Random(11)
        started = time.perf_counter()
        try:
            async with aiohttp.ClientSession() as session:
                for index in range(signed_n + unsigned_n):
                    body, content_type = _random_request(rng, standin)
                    status = await _post(session, url, body, content_type, signed=index < signed_n)
                    statuses[status] = statuses.get(status, 0) + 1
            await asyncio.sleep(1)  # listeners run after the ack
        finally:
            elapsed = time.perf_counter() - started
            await bot.close()
            await standin.close()
            await core.close(0.1)
            logging.getLogger().removeHandler(catcher)
    total = signed_n + unsigned_n
    note = ", ".join(f"{n}×{s}" for s, n in sorted(statuses.items()))
    return [
        Figure(
            "drill_slack_http_rps",
            "Slack HTTP drill: requests per second",
            total / elapsed,
            "req/s",
            note=note,
        ),
        Figure(
            "drill_slack_http_500",
            "Slack HTTP drill: answers 500",
            statuses.get(500, 0),
            "answers",
            note=f"of {total}; want 0",
        ),
        Figure(
            "drill_slack_http_tracebacks",
            "Slack HTTP drill: tracebacks logged",
            catcher.count,
            "records",
            note="want 0",
        ),
    ]
