"""The delivery port: what the core needs an adapter to do to reach people and channels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shared.identity import Reach, Recipient
from shared.messages import InsightPost, Message

# Reasons a delivery fails for good; adapters map their platform errors onto these.
DMS_CLOSED = "dms_closed"
UNKNOWN_USER = "unknown_user"
UNKNOWN_CHANNEL = "unknown_channel"
CANNOT_DM_BOT = "cannot_dm_bot"
PLATFORM_ERROR = "platform_error"


class DeliveryError(Exception):
    """A send that did not happen.

    ``retryable`` errors (timeouts, 5xx) are retried by the dispatcher a few times;
    the others end the delivery as ``failed`` with ``reason`` at once.
    """

    def __init__(self, reason: str, detail: str = "", *, retryable: bool = False) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a successful direct message tells the core; ``dm_channel`` is cached for next time."""

    dm_channel: str | None = None


@runtime_checkable
class DeliveryPort(Protocol):
    """Implemented by every adapter."""

    platform: str

    def reach(self) -> list[Reach]:
        """The recipients this adapter can deliver to right now (empty while disconnected)."""
        ...

    async def send_direct(self, recipient: Recipient, message: Message) -> Receipt:
        """Send a DM. Raise DeliveryError on failure."""
        ...

    async def post_insight(self, channel: str, post: InsightPost) -> None:
        """Post an insight into a theme channel. Raise DeliveryError on failure."""
        ...
