"""The raw ceiling for an ack: a bare aiohttp server that checks Slack's signature and says 200.

``python -m bench.raw_ack_server PORT SECRET``; the Slack ack benchmark runs it as a separate
process, as it runs the bot, so that both are measured the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import sys

from aiohttp import web


def app(secret: str) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        body = await request.text()
        base = f"v0:{request.headers.get('X-Slack-Request-Timestamp', '')}:{body}".encode()
        expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Slack-Signature", "")):
            return web.Response(status=401)
        return web.Response(text="")

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    server = web.Application()
    server.router.add_post("/slack/events", events)
    server.router.add_get("/healthz", health)
    return server


if __name__ == "__main__":
    # the bot's backlog (bots/slack/adapter.py LISTEN_BACKLOG): a burst's connections are
    # not dropped by the kernel here either, so the two differ only in the work they do
    web.run_app(
        app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None, backlog=2048
    )
