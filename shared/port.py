"""The ports adapters implement: the adapter's life cycle, and delivery to people and channels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from shared.identity import Reach, Recipient
from shared.messages import InsightPost, Message

if TYPE_CHECKING:
    from shared.app import Roundtable

# Reasons a delivery fails for good; adapters map their platform errors onto these.
DMS_CLOSED = "dms_closed"
UNKNOWN_USER = "unknown_user"
UNKNOWN_CHANNEL = "unknown_channel"
CANNOT_DM_BOT = "cannot_dm_bot"
PLATFORM_ERROR = "platform_error"
# the platform refuses to take a post down (no right to, the channel is gone)
CANNOT_DELETE = "cannot_delete"


class DeliveryError(Exception):
    """A send that did not happen.

    ``retryable`` errors (timeouts, 5xx, rate limits) go back to the queue with a later due
    time; the others end the delivery as ``failed`` with ``reason`` at once.
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        sent: bool | None = None,
    ) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        # a rate limit: not sent, try again after this many seconds (not counted as an attempt)
        self.retry_after = retry_after
        self.retryable = retryable or retry_after is not None
        # False: the platform surely does not have it; None: it may (a timeout, a 5xx)
        self.sent = False if retry_after is not None else sent


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a successful send tells the core: for a DM, ``dm_channel`` is cached for next time;
    for a channel post, ``ref`` is the platform's id of the post, kept so it can be taken down."""

    dm_channel: str | None = None
    ref: str | None = None


@runtime_checkable
class DeliveryPort(Protocol):
    """Implemented by every adapter."""

    platform: str

    def reach(self) -> list[Reach]:
        """The recipients this adapter can deliver to right now (empty while disconnected)."""
        ...

    async def send_direct(self, recipient: Recipient, message: Message) -> Receipt:
        """Send a DM. Raise DeliveryError on failure.

        A port that can deduplicate also takes ``key=``: a stable id of the queued row, sent
        with the message (a nonce, message metadata), so that sending the
        same row twice leaves one message. Without ``key``, a row whose fate is unknown
        after a crash is failed (``interrupted``) rather than sent twice."""
        ...

    async def post_insight(self, channel: str, post: InsightPost) -> Receipt | None:
        """Post an insight into a theme channel. Raise DeliveryError on failure (``key=`` as above).

        Returns a receipt whose ``ref`` names the post on the platform (None: nothing to keep)."""
        ...

    async def delete_post(self, channel: str, ref: str) -> None:
        """Take down a post the bot made. A post already gone counts as done; raise
        DeliveryError(CANNOT_DELETE) when the platform refuses, retryable ones as for sends."""
        ...


@runtime_checkable
class DeliveryLookup(Protocol):
    """A port that can tell whether a keyed message already reached the platform."""

    async def find_sent(self, key: str, *, recipient: Recipient | None, channel: str | None) -> bool: ...


@runtime_checkable
class Adapter(Protocol):
    """One platform, running: it turns platform events into core calls and is a DeliveryPort.

    ``platform`` is the adapter's name (as in the registry and in stored identities),
    ``label`` what people call the platform.
    """

    platform: str
    label: str

    async def start(self) -> None:
        """Connect and begin serving; return once people can reach the bot.

        Raise ``shared.errors.AdapterStartError`` with one clear line when it cannot start."""
        ...

    async def wait(self) -> None:
        """Return when the adapter ends on its own (end of input, a connection given up)."""
        ...

    async def close(self, grace: float) -> None:
        """Stop serving within ``grace`` seconds; the core keeps what is undelivered queued."""
        ...


class AdapterSettings(Protocol):
    """What the runner asks of an adapter's settings (a pydantic-settings class of its own)."""

    @property
    def enabled(self) -> bool: ...

    def warnings(self) -> list[str]: ...

    def problems(self) -> list[str]:
        """Settings that cannot work as given (a token without its partner): `run` refuses to start."""
        ...


@dataclass(frozen=True, slots=True)
class RunFlag:
    """A ``roundtable run`` option that sets one of an adapter's settings."""

    flag: str
    setting: str
    value: Any
    help: str


@dataclass(frozen=True, slots=True)
class AdapterPlugin:
    """An adapter as the registry knows it; importing it imports no platform SDK.

    ``settings`` reads the adapter's own settings (keyword overrides win over the
    environment); ``build`` creates the adapter for a core, importing its SDK then.
    ``fallback`` adapters start only when no other adapter is enabled.
    """

    name: str
    label: str
    settings: Callable[..., AdapterSettings]
    build: Callable[[Roundtable, Any], Adapter]
    describe: Callable[[Any], str] | None = None
    check_channel: Callable[[str], str | None] = lambda channel: None
    run_flags: tuple[RunFlag, ...] = ()
    fallback: bool = False

    def summary(self, settings: Any) -> str:
        return self.describe(settings) if self.describe else self.name
