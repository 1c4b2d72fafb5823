"""Platform-neutral identities of the people who talk to the bot."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Identity:
    """One account on one platform.

    ``platform`` is the adapter's name; ``workspace`` is where the account lives on that
    platform (a team, a server, or one value for platforms whose user ids are global).
    """

    platform: str
    workspace: str
    user_id: str
    display_name: str
    # what the platform says about the account, when it says anything (an IANA zone, a locale)
    zone: str | None = None
    locale: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.platform, self.workspace, self.user_id)


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a direct message goes: an identity plus what the adapter cached about it."""

    platform: str
    workspace: str
    user_id: str
    display_name: str
    dm_channel: str | None = None
    # the reader's zone (their choice, else what their platform said); None: the adapter's default
    zone: str | None = None
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class Reach:
    """Which recipients an adapter can deliver to; ``None`` means any."""

    platform: str
    workspace: str | None = None
    user_id: str | None = None
