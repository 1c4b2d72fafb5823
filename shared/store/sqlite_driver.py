"""SQLAlchemy's aiosqlite adapter, with one trip to the driver's thread per statement.

The stock adapter hands each statement to aiosqlite's worker thread four times (open a
cursor, execute, fetch the rows, close the cursor), and each hand-off is a thread switch and
a turn of the event loop. This one runs the four steps as one function in that thread, so a
statement costs one hand-off. Everything else (dialect, pool, errors, server-side cursors)
is SQLAlchemy's own; the engine gets it as its DBAPI module (``create_async_engine(module=)``).
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any, NamedTuple

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_


class _Done(NamedTuple):
    """What SQLAlchemy reads from a cursor once its statement ran (the cursor is closed)."""

    description: Any
    rowcount: int
    lastrowid: int | None
    rows: list[Any] | None

    def close(self) -> None:  # the real cursor was closed in the driver's thread
        pass


_NOT_RUN = _Done(None, -1, None, None)


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Done:
    """In aiosqlite's thread: cursor, execute, fetch, close."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return _Done(cursor.description, cursor.rowcount, cursor.lastrowid, rows)
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False  # nothing left to close on the loop's side

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # no cursor opened here: it is opened in the thread, with the statement
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _NOT_RUN
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            done = await self._connection._execute(_run, self._connection._conn, operation, parameters, False)
            self._cursor = done
            if done.rows is not None:
                self._rows = collections.deque(done.rows)
            return self

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            self._cursor = await self._connection._execute(
                _run, self._connection._conn, operation, seq_of_parameters, True
            )
            return self


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return OneTripConnection(self, await_(connection))


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
