"""The gate in front of Slack's HTTP requests: size, signature, age, then shape — before any parsing.

Slack signs every request with the app's Signing Secret
(https://api.slack.com/authentication/verifying-requests-from-slack). Nothing of an
unsigned, stale or oversized request is parsed, and a signed request whose body is not one
of the few shapes the bot serves is refused with 400 too, so that the listeners only ever
see what they can handle. Each refusal is one log line, never a traceback, and one client
can cause only a few such lines a minute.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

log = logging.getLogger("bots.slack.verify")

MAX_BODY = 256 * 1024  # Slack's largest payloads (a view submission) are far below this
MAX_AGE = 300  # seconds either side of now, as Slack advises
LOG_LINES_PER_MINUTE = 5
_CLIENTS_REMEMBERED = 1024

# the interactive payload types the bot listens to
_INTERACTIVE = {"block_actions", "view_submission", "view_closed"}


@dataclass(frozen=True, slots=True)
class Refused:
    status: int
    reason: str  # short and safe to log: never any of the request's own text


class LogLimiter:
    """At most ``per_minute`` lines per client (or per kind of line); the first line dropped says so once."""

    def __init__(self, per_minute: int = LOG_LINES_PER_MINUTE, clock=time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def allow(self, client: str) -> bool | None:
        """True: log it; None: log that further lines are dropped; False: stay quiet."""
        now = self.clock()
        start, count = self._seen.pop(client, (now, 0))
        if now - start >= 60:
            start, count = now, 0
        count += 1
        self._seen[client] = (start, count)
        while len(self._seen) > _CLIENTS_REMEMBERED:
            self._seen.popitem(last=False)
        if count <= self.per_minute:
            return True
        return None if count == self.per_minute + 1 else False


def signature_problem(secret: str, headers: Any, body: bytes, now: float | None = None) -> str | None:
    """Why the request is not Slack's (a short reason), or None when its signature is good."""
    stamp = headers.get("X-Slack-Request-Timestamp") or ""
    signature = headers.get("X-Slack-Signature") or ""
    if not stamp or not signature:
        return "unsigned"
    try:
        sent = int(stamp)
    except ValueError:
        return "bad timestamp"
    if abs((time.time() if now is None else now) - sent) > MAX_AGE:
        return "stale timestamp"
    base = b"v0:" + stamp.encode("ascii", "replace") + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "bad signature"
    return None


def _object(value: Any, *keys: str) -> bool:
    return isinstance(value, dict) and all(isinstance(value.get(k), str) and value.get(k) for k in keys)


@dataclass(frozen=True, slots=True)
class Served:
    """What the listeners handle; anything else is refused here rather than by bolt's 404."""

    commands: frozenset[str] = frozenset()
    action_id: re.Pattern[str] | None = None
    callbacks: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset({"app_home_opened"})


@dataclass(frozen=True, slots=True)
class Admitted:
    """A signed request of a shape the bot serves, parsed once for everyone after the gate."""

    raw: bytes
    text: str
    # ``command``, ``payload`` (an interactive payload), ``event``, ``url_verification`` or
    # ``ssl_check``
    kind: str
    # what bolt's listeners read: the form's fields, the interactive payload or the JSON body
    body: dict[str, Any]


class _Malformed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def shape_problem(content_type: str, body: bytes, served: Served | None = None) -> str | None:
    """Why a signed body is not one the bot serves, or None when the listeners can take it."""
    try:
        read_served(content_type, body, served)
    except _Malformed as exc:
        return exc.reason
    return None


def read_served(
    content_type: str, body: bytes, served: Served | None = None
) -> tuple[str, str, dict[str, Any]]:
    """The body as text, its kind and its fields (see :class:`Admitted`), when it is one the bot
    serves; raises ``_Malformed`` with a short reason otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Malformed("body is not UTF-8") from None
    if content_type == "application/json":
        kind, data = _json_body(text, served)
        return text, kind, data
    if content_type != "application/x-www-form-urlencoded":
        raise _Malformed("unsupported content type")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=200)
    except ValueError:
        raise _Malformed("malformed form") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)  # the first of a repeated field, the one checked here
    if "payload" in form:
        try:
            payload = json.loads(form["payload"])
        except ValueError:
            raise _Malformed("payload is not JSON") from None
        if problem := _payload_problem(payload, served or Served()):
            raise _Malformed(problem)
        return text, "payload", payload
    if "command" in form:
        for key in ("command", "user_id"):
            if not form.get(key):
                raise _Malformed(f"slash command without {key}")
        if not form["command"].startswith("/"):
            raise _Malformed("malformed slash command")
        if served and served.commands and form["command"] not in served.commands:
            raise _Malformed("unknown slash command")
        return text, "command", form
    if "ssl_check" in form:
        return text, "ssl_check", form
    raise _Malformed("unsupported form body")


def _json_body(text: str, served: Served | None) -> tuple[str, dict[str, Any]]:
    try:
        data = json.loads(text)
    except ValueError:
        raise _Malformed("body is not JSON") from None
    if not isinstance(data, dict):
        raise _Malformed("JSON body is not an object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise _Malformed("JSON body without a type")
    if kind == "url_verification":
        if not isinstance(data.get("challenge"), str):
            raise _Malformed("challenge missing")
        return "url_verification", data
    if kind != "event_callback":
        raise _Malformed("unsupported JSON body type")
    event = data.get("event")
    if not _object(event, "type"):
        raise _Malformed("event missing")
    if served and event["type"] not in served.events:
        raise _Malformed("unsupported event")
    if event["type"] == "app_home_opened" and not _object(event, "user"):
        raise _Malformed("app_home_opened without a user")
    return "event", data


def _payload_problem(payload: Any, served: Served) -> str | None:
    if not isinstance(payload, dict):
        return "payload is not an object"
    kind = payload.get("type")
    if not isinstance(kind, str) or kind not in _INTERACTIVE:
        return "unsupported payload type"
    if not _object(payload.get("user"), "id"):
        return "payload without a user"
    team = payload.get("team")
    if team is not None and not isinstance(team, dict):
        return "malformed team"
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions:
            return "block_actions without actions"
        if not all(_object(a, "action_id") for a in actions):
            return "malformed action"
        # bolt dispatches a click by its first action only
        if served.action_id and not served.action_id.match(actions[0]["action_id"]):
            return "unknown action"
        for action in actions:
            if "value" in action and not isinstance(action["value"], str):
                return "malformed action value"
        for key in ("container",):
            if payload.get(key) is not None and not isinstance(payload[key], dict):
                return f"malformed {key}"
        return None
    view = payload.get("view")
    if not _object(view, "callback_id", "type"):
        return "view payload without a view"
    if served.callbacks and view["callback_id"] not in served.callbacks:
        return "unknown view"
    state = view.get("state")
    if state is not None and not (isinstance(state, dict) and isinstance(state.get("values", {}), dict)):
        return "malformed view state"
    return None


class Gate:
    """What `_http_events` asks first: ``await gate.admit(request)`` is the request, parsed, or a
    refusal. The signature is checked here and only here (bolt's own check is off)."""

    def __init__(self, secret: str, served: Served | None = None, limiter: LogLimiter | None = None) -> None:
        self.secret = secret
        self.served = served
        self.limiter = limiter or LogLimiter()

    async def admit(self, request: Any) -> Admitted | Refused:
        length = request.content_length
        if length is not None and length > MAX_BODY:
            return self._refuse(request, 413, "body too large")
        try:
            body = await _read_capped(request)
        except _TooLarge:
            return self._refuse(request, 413, "body too large")
        except Exception as exc:  # a client that hung up half-way, a broken chunked body
            return self._refuse(request, 400, f"unreadable body ({type(exc).__name__})")
        if problem := signature_problem(self.secret, request.headers, body):
            return self._refuse(request, 401, problem)
        try:
            text, kind, fields = read_served(request.content_type, body, self.served)
        except _Malformed as exc:
            return self._refuse(request, 400, exc.reason)
        except Exception as exc:  # a shape nobody foresaw: still one line, still a 400
            return self._refuse(request, 400, f"malformed body ({type(exc).__name__})")
        return Admitted(body, text, kind, fields)

    async def check(self, request: Any) -> Refused | None:
        """Only the verdict of :meth:`admit`."""
        admitted = await self.admit(request)
        return admitted if isinstance(admitted, Refused) else None

    def _refuse(self, request: Any, status: int, reason: str) -> Refused:
        client = str(getattr(request, "remote", None) or "unknown")
        verdict = self.limiter.allow(client)
        if verdict is True:
            log.warning("Slack: refused a request from %s with %s: %s", client, status, reason)
        elif verdict is None:
            log.warning("Slack: refusing more requests from %s; not logging them for a minute", client)
        return Refused(status, reason)

    def failed(self, request: Any, exc: BaseException) -> Refused:
        """A signed request the SDK could not take: one line, 400, no traceback."""
        return self._refuse(request, 400, f"the Slack SDK could not read it ({type(exc).__name__})")


async def _read_capped(request: Any) -> bytes:
    """The body; aiohttp keeps it for later readers and stops a chunked one at its client_max_size."""
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise _TooLarge from exc
    if len(body) > MAX_BODY:
        raise _TooLarge
    return body


class _TooLarge(Exception):
    pass
