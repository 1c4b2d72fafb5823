"""The console adapter: reads commands from standard input, prints replies and DMs."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import TextIO

from rich.console import Console

from bots.console.render import render
from shared.app import Roundtable
from shared.commands import CommandLineError, Invocation, parse_line
from shared.identity import Identity, Reach, Recipient
from shared.messages import InsightPost, Message
from shared.port import UNKNOWN_CHANNEL, DeliveryError, Receipt

WORKSPACE = "local"
log = logging.getLogger(__name__)


class ConsoleAdapter:
    """Delivers only to the person at this terminal; everyone else's messages stay queued."""

    platform = "console"

    def __init__(
        self,
        core: Roundtable,
        name: str,
        *,
        organizer: bool = False,
        stdin: TextIO | None = None,
        console: Console | None = None,
    ) -> None:
        self.core = core
        self.identity = Identity(self.platform, WORKSPACE, name, name)
        self.organizer = organizer
        self.stdin = stdin or sys.stdin
        self.console = console or Console(soft_wrap=True, highlight=False)

    # -- the delivery port -----------------------------------------------------------------
    def reach(self) -> list[Reach]:
        return [Reach(self.platform, WORKSPACE, self.identity.user_id)]

    async def send_direct(self, recipient: Recipient, message: Message) -> Receipt:
        self.show(message, prefix="📬 ")
        return Receipt()

    async def post_insight(self, channel: str, post: InsightPost) -> None:
        raise DeliveryError(UNKNOWN_CHANNEL, "the console has no channels")

    # -- the chat loop ---------------------------------------------------------------------
    def show(self, message: Message, prefix: str = "") -> None:
        program = self.core.program
        self.console.print(
            render(message, program.zone, now=self.core.now(), locale=program.event.locale, prefix=prefix)
        )

    async def handle_line(self, line: str) -> Message | None:
        line = line.strip()
        if not line or line.startswith("#"):
            return None
        try:
            name, args = parse_line(line)
        except CommandLineError as exc:
            return Message(text=str(exc), ok=False, kind="error")
        try:
            return await self.core.handle(Invocation(self.identity, name, args, organizer=self.organizer))
        except Exception:
            # the database may be away for a moment: say so and keep the chat open
            log.exception("the command %r failed", line)
            return Message(
                text="Sorry, something went wrong on my side. Please try again.", ok=False, kind="error"
            )

    async def _deliver_due(self) -> None:
        try:
            await self.core.dispatch_due()
        except Exception:
            # undelivered messages stay queued; the background dispatcher tries again
            log.exception("delivering queued messages failed")

    def _read_lines(self) -> asyncio.Queue[str]:
        """Lines from a daemon thread, so that Ctrl-C never waits for a pending read."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str] = asyncio.Queue()

        def pump() -> None:
            while True:
                try:
                    line = self.stdin.readline()
                except (OSError, ValueError):
                    line = ""
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, line)
                except RuntimeError:  # the loop has closed
                    return
                if not line:
                    return

        threading.Thread(target=pump, name="console-stdin", daemon=True).start()
        return queue

    async def run(self) -> None:
        """Chat until end of input; then deliver what is due for this person, and return."""
        self.core.attach(self)
        await self.core.start()
        lines = self._read_lines()
        try:
            while True:
                line = await lines.get()
                if not line or line.strip() in ("/quit", "/exit"):
                    break
                message = await self.handle_line(line)
                if message is not None:
                    self.show(message)
                # let a promotion or DM caused by this command print before the next prompt
                await self._deliver_due()
            await self._deliver_due()
        finally:
            self.core.detach(self)
