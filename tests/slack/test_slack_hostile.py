"""Hostile HTTP traffic (issue 11): refused before parsing, 400 not 500, one log line, no traceback."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any

import aiohttp
import pytest

from bots.slack import verify
from bots.slack.adapter import SlackAdapter
from tests.slack.slack_standin import SIGNING_SECRET, SlackStandIn, sign

ALICE = "UALICE01"


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


async def _post(
    session: aiohttp.ClientSession, url: str, body: str | bytes, content_type: str, *, signed: bool = True
) -> int:
    raw = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": content_type}
    if signed:
        headers.update(sign(SIGNING_SECRET, raw.decode("utf-8", "surrogateescape")))
    async with session.post(url, data=raw, headers=headers) as resp:
        await resp.read()
        return resp.status


async def _settle() -> None:
    # listeners run after the ack: give them time to fail, if they would
    for _ in range(50):
        await asyncio.sleep(0.02)
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if len(pending) < 8:
            break
    await asyncio.sleep(0.2)


async def test_unsigned_malformed_bodies_are_refused_before_parsing(
    http_bot: SlackAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bodies = ["payload=%7Bnot-json", "payload=", "command=/register&user_id=", "{", "\x00\xff", "a" * 5000]
    async with aiohttp.ClientSession() as session:
        statuses = [
            await _post(session, http_bot.events_url, body, "application/x-www-form-urlencoded", signed=False)
            for body in bodies * 20
        ]
    assert set(statuses) == {401}
    assert not _tracebacks(caplog)
    # one client can cause a few lines a minute, not one per request
    refusals = [r for r in caplog.records if r.name == "bots.slack.verify"]
    assert 1 <= len(refusals) <= verify.LOG_LINES_PER_MINUTE + 1


async def test_oversized_and_stale_requests_are_refused(http_bot: SlackAdapter) -> None:
    async with aiohttp.ClientSession() as session:
        big = "text=" + "x" * (verify.MAX_BODY + 10)
        assert await _post(session, http_bot.events_url, big, "application/x-www-form-urlencoded") == 413
        body = "command=%2Fschedule&user_id=UALICE01"
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SIGNING_SECRET, body, 1_000)}
        async with session.post(http_bot.events_url, data=body, headers=headers) as resp:
            assert resp.status == 401


@pytest.mark.parametrize(
    "body",
    [
        "payload=%7Bnot-json",
        "payload=%5B1%2C2%5D",  # a list, not an object
        'payload={"type":"block_actions"}',
        'payload={"type":"block_actions","user":{"id":"U1"},"actions":[{}]}',
        'payload={"type":"block_actions","user":{"id":"U1"},"actions":"x"}',
        # only the first action is dispatched (bolt): a known one after an unknown one is no 404
        'payload={"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"nope"},'
        '{"action_id":"rt_cmd_0","value":"/schedule"}]}',
        'payload={"type":"view_submission","user":{"id":"U1"}}',
        'payload={"type":"view_submission","user":{"id":"U1"},"view":[]}',
        'payload={"type":"shortcut","user":{"id":"U1"}}',
        "command=%2Fregister&text=workshop",  # no user_id
        "user_id=U1&text=x",
    ],
)
async def test_signed_malformed_payloads_get_400(
    http_bot: SlackAdapter, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession() as session:
        status = await _post(session, http_bot.events_url, body, "application/x-www-form-urlencoded")
    await _settle()
    assert status == 400
    assert not _tracebacks(caplog)


# ---- 1,000 signed random payloads ------------------------------------------------------------


def _junk(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 2 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.randint(-(2**40), 2**40)
    if kind == 2:
        return rng.choice(["", "U1", "/register", "workshop", "\u202e\x00", "🧑‍💻", "<!here>", "a" * 300])
    if kind == 3:
        return rng.random() < 0.5
    if kind == 4:
        return rng.random()
    if kind == 5:
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["id", "type", "value", "user", "x"]): _junk(rng, depth + 1) for _ in range(3)}


def _mutate(rng: random.Random, node: Any, depth: int = 0) -> Any:
    """The payload with keys dropped, values swapped for junk, types changed, at every depth."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            roll = rng.random()
            if roll < 0.12:
                continue
            out[key] = _junk(rng) if roll < 0.24 else _mutate(rng, value, depth + 1)
        return out
    if isinstance(node, list):
        return [_mutate(rng, v, depth + 1) for v in node if rng.random() > 0.1]
    return _junk(rng) if rng.random() < 0.1 else node


def _random_request(rng: random.Random, standin: SlackStandIn) -> tuple[str, str]:
    choice = rng.randrange(5)
    if choice == 0:
        fields = _mutate(
            rng, standin.slash(rng.choice(["/schedule", "/register", "/insight"]), "x", user=ALICE)
        )
        pairs = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        from urllib.parse import urlencode

        return urlencode(pairs), "application/x-www-form-urlencoded"
    if choice == 1:
        payload = _mutate(rng, standin.click(rng.choice(["/schedule", "/register workshop"]), user=ALICE))
    elif choice == 2:
        view = {"callback_id": "rt_insight", "type": "modal", "private_metadata": "{}", "blocks": []}
        payload = _mutate(rng, standin.submit(view, {}, user=ALICE))
    elif choice == 3:
        return json.dumps(_mutate(rng, standin.home_opened(user=ALICE))), "application/json"
    else:
        payload = _junk(rng)
    from urllib.parse import urlencode

    return urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"


@pytest.mark.slow
async def test_a_thousand_signed_random_payloads_never_get_500_nor_a_traceback(
    http_bot: SlackAdapter, standin: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rng = random.Random(11)
    statuses: dict[int, int] = {}
    odd: list[str] = []
    async with aiohttp.ClientSession() as session:
        for _ in range(1000):
            body, content_type = _random_request(rng, standin)
            status = await _post(session, http_bot.events_url, body, content_type)
            statuses[status] = statuses.get(status, 0) + 1
            if status not in (200, 400):
                odd.append(body[:300])
    await _settle()
    assert 500 not in statuses, statuses
    assert set(statuses) <= {200, 400}, (statuses, odd[:3])
    assert statuses.get(400, 0) > 100 and statuses.get(200, 0) > 50, statuses
    assert not _tracebacks(caplog), [r.getMessage() for r in _tracebacks(caplog)][:3]


@pytest.mark.parametrize(
    "view",
    [
        {"state": {"values": {"session": 5}}},
        {"state": {"values": {"session": {"value": "x"}, "q1": {"value": 7}}}},
        {"state": {"values": {"q1": {"value": {"selected_option": "x"}}}}},
        {"private_metadata": 5},
        {"private_metadata": '{"args": [1, 2], "command": "register"}'},
        {"private_metadata": '{"command": "register", "channel": 5, "response_url": ["x"]}'},
    ],
)
async def test_a_signed_form_submission_with_odd_pieces_gets_no_500_nor_a_traceback(
    http_bot: SlackAdapter, caplog: pytest.LogCaptureFixture, view: dict[str, Any]
) -> None:
    caplog.set_level(logging.DEBUG)
    payload = {
        "type": "view_submission",
        "user": {"id": ALICE},
        "view": {"callback_id": "rt_form", "type": "modal", **view},
    }
    from urllib.parse import urlencode

    async with aiohttp.ClientSession() as session:
        status = await _post(
            session,
            http_bot.events_url,
            urlencode({"payload": json.dumps(payload)}),
            "application/x-www-form-urlencoded",
        )
    await _settle()
    assert status in (200, 400)
    assert not _tracebacks(caplog), [r.getMessage() for r in _tracebacks(caplog)][:3]
