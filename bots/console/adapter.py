"""The console adapter: reads commands from standard input, prints replies and DMs."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from rich.console import Console

from bots.console.render import render
from bots.console.settings import ConsoleSettings
from shared.app import Roundtable
from shared.identity import Identity, Reach, Recipient
from shared.messages import Attachment, Form, InsightPost, Message
from shared.port import UNKNOWN_CHANNEL, DeliveryError, Receipt
from shared.replies import optional_hint

WORKSPACE = "local"
log = logging.getLogger(__name__)


class ConsoleAdapter:
    """Delivers only to the person at this terminal; everyone else's messages stay queued."""

    platform = "console"
    label = "Console"

    def __init__(
        self,
        core: Roundtable,
        settings: ConsoleSettings | None = None,
        *,
        stdin: TextIO | None = None,
        console: Console | None = None,
    ) -> None:
        settings = settings or ConsoleSettings()
        self.core = core
        self.identity = Identity(self.platform, WORKSPACE, settings.name, settings.name, zone=settings.tz)
        self.organizer = settings.organizer
        self.files_dir = settings.files_dir
        self.stdin = stdin or sys.stdin
        self.console = console or Console(soft_wrap=True, highlight=False)
        self._chat: asyncio.Task[None] | None = None

    # -- the delivery port -----------------------------------------------------------------
    def reach(self) -> list[Reach]:
        return [Reach(self.platform, WORKSPACE, self.identity.user_id)]

    async def send_direct(self, recipient: Recipient, message: Message) -> Receipt:
        self.show(
            dataclasses.replace(
                message, zone=message.zone or recipient.zone, locale=message.locale or recipient.locale
            ),
            prefix="📬 ",
        )
        return Receipt()

    async def post_insight(self, channel: str, post: InsightPost) -> None:
        raise DeliveryError(UNKNOWN_CHANNEL, "the console has no channels")

    async def delete_post(self, channel: str, ref: str) -> None:
        """The console posts nothing to channels: there is nothing to take down."""

    # -- the adapter's life cycle ----------------------------------------------------------
    async def start(self) -> None:
        self.core.attach(self)
        if self.stdin.isatty():
            self.console.print(
                f"[bold]{self.core.program.event.name}[/] — you are [bold]{self.identity.display_name}[/]. "
                "Type /help for commands, /quit or Ctrl-D to leave.",
                markup=True,
            )
        self._chat = asyncio.create_task(self.chat(), name="console-chat")

    async def wait(self) -> None:
        if self._chat is not None:
            await asyncio.shield(self._chat)

    async def close(self, grace: float = 0.5) -> None:
        chat, self._chat = self._chat, None
        if chat is not None and not chat.done():
            chat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await chat
        self.core.detach(self)

    # -- the chat loop ---------------------------------------------------------------------
    def show(self, message: Message, prefix: str = "") -> None:
        program = self.core.program
        # the reader's zone, else the one given with --tz, else the event's
        zone = ZoneInfo(message.zone or self.identity.zone or program.event.timezone)
        self.console.print(
            render(
                message,
                zone,
                now=self.core.now(),
                locale=message.locale or program.event.locale,
                prefix=prefix,
            )
        )
        for attachment in message.files:
            self.console.print(f"📎 {self._save(attachment)}", markup=False)

    def _save(self, attachment: Attachment) -> str:
        """Write a file the bot hands over; readable by its owner only (it may be personal data)."""
        folder = Path(self.files_dir) if self.files_dir else Path(tempfile.gettempdir())
        path = folder / Path(attachment.filename).name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(attachment.data)
        except OSError as exc:
            log.warning("could not write %s: %s", path, exc)
            return f"could not write {path}: {exc.strerror or exc}"
        return str(path)

    async def handle_line(self, line: str) -> Message | None:
        line = line.strip()
        if not line or line.startswith("#"):
            return None
        return await self.core.respond(self.identity, line=line, organizer=self.organizer)

    async def _deliver_due(self) -> None:
        try:
            await self.core.dispatch_due()
        except Exception:
            # undelivered messages stay queued; the background dispatcher tries again
            log.exception("delivering queued messages failed")

    async def _fill(self, form: Form, lines: asyncio.Queue[str]) -> Message | None:
        """A form, one field a line: the label (and its choices) printed, the answer read."""
        args = dict(form.args)
        for field in form.fields:
            hint = optional_hint(field.required, field.choices)
            now = f" [{field.value}]" if field.value else ""
            self.console.print(f"  {field.label}{now} {hint}".rstrip() + ":", markup=False, highlight=False)
            line = await lines.get()
            if not line:  # the input ended mid-form: nothing is stored
                return None
            answer = line.strip()
            args[field.id] = answer or field.value
        return await self.core.respond(
            self.identity, command=form.command, args=args, organizer=self.organizer
        )

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

    async def chat(self) -> None:
        """Chat until end of input; then deliver what is due for this person, and return."""
        lines = self._read_lines()
        while True:
            line = await lines.get()
            if not line or line.strip() in ("/quit", "/exit"):
                break
            queued = self.core.due_now
            message = await self.handle_line(line)
            if message is not None and message.form is not None:
                self.show(message)
                message = await self._fill(message.form, lines)
            if message is not None:
                self.show(message)
            if self.core.due_now != queued:
                # let a promotion or DM caused by this command print before the next prompt
                await self._deliver_due()
        await self._deliver_due()

    async def run(self) -> None:
        """Start, chat until the input ends, and close: the console on its own, without a runner."""
        await self.start()
        try:
            await self.wait()
        finally:
            await self.close()
