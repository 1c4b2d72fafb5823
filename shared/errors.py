"""One family of errors: refusals people see, and failures operators see."""

from __future__ import annotations


class Refusal(Exception):
    """Input the rules refuse; the message is fit to show the person, ``field`` names the form
    field it concerns (a modal highlights it)."""

    field: str | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


class AdapterStartError(Exception):
    """An adapter that cannot start; the message says what to fix, in one line."""


class AdapterDied(Exception):
    """A running adapter lost its connection and could not get it back in time; the process
    should exit non-zero so that its host restarts it."""


class StorageError(Exception):
    """The database cannot be reached or used; the message is fit for the operator."""
