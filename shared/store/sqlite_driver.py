"""SQLAlchemy's aiosqlite adapter, with the trips to aiosqlite's thread cut to those that may wait.

The stock adapter hands each statement to aiosqlite's worker thread four times (open a
cursor, execute, fetch the rows, close the cursor). Each hand-off is a thread switch and a
turn of the event loop, and on a busy 2-core machine it cost more than the statement did.

Here a statement outside a transaction goes to the thread once (cursor, execute, fetch and
close as one call). Once this connection holds SQLite's write lock (every transaction here
is ``BEGIN IMMEDIATE``), nothing it does can wait on another connection: the statements and
the COMMIT run on the caller's (the event loop's) thread, with no hand-off. ``BEGIN
IMMEDIATE`` itself is tried there without waiting; when another process holds the lock, it
waits in the driver's thread with the connection's busy timeout, and the loop runs on.
After each such statement the task yields one turn of the loop, so that a long run of
statements (a roster) does not hold up acks any more than the hand-offs did.
The cost moved onto the loop is SQLite's own work inside a transaction (microseconds for the
bot's statements; a commit that triggers a WAL checkpoint writes pages to the database file).

Everything else (dialect, pool, errors, server-side cursors) is SQLAlchemy's own; the engine
gets this as its DBAPI module (``create_async_engine(module=)``).
"""

from __future__ import annotations

import asyncio
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


def _begin_now(conn: sqlite3.Connection, operation: str) -> _Done | None:
    """``BEGIN IMMEDIATE`` on the caller's thread when the write lock is free at once; None
    when another process holds it (then the caller waits for it in the driver's thread,
    with the connection's whole busy timeout)."""
    patience = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute(operation)
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
            raise
        return None
    finally:
        conn.execute(f"PRAGMA busy_timeout = {patience}")
    return _NOT_RUN


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
            conn = self._connection._conn
            if conn.in_transaction:
                # inside this connection's write transaction (BEGIN IMMEDIATE held): nothing
                # can wait on a lock, so the statement runs here, with no hand-off at all
                done = _run(conn, operation, parameters, False)
                await asyncio.sleep(0)  # a turn for the loop's other tasks, as a hand-off gave
            elif operation == "BEGIN IMMEDIATE" and not parameters and (began := _begin_now(conn, operation)):
                done = began
            else:
                done = await self._connection._execute(_run, conn, operation, parameters, False)
            self._cursor = done
            if done.rows is not None:
                self._rows = collections.deque(done.rows)
            return self

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            conn = self._connection._conn
            if conn.in_transaction:
                self._cursor = _run(conn, operation, seq_of_parameters, True)
                await asyncio.sleep(0)
            else:
                self._cursor = await self._connection._execute(_run, conn, operation, seq_of_parameters, True)
            return self


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def _idle(self) -> bool:
        conn = self._connection._conn
        return conn is not None and not conn.in_transaction

    def rollback(self) -> None:
        # the pool rolls back every connection it takes back: outside a transaction there is
        # nothing to roll back, so no trip to the driver's thread
        if not self._idle():
            super().rollback()

    def begin_immediate(self) -> None:
        """``BEGIN IMMEDIATE`` without SQLAlchemy's statement machinery (the "begin" hook
        calls it, from inside SQLAlchemy's greenlet): on this thread when the write lock is
        free, else waited for in the driver's thread, as a cursor would. Nothing to do when
        the connection's owner began the transaction itself (:meth:`begin_write`)."""
        conn = self._connection._conn
        if conn is not None and conn.in_transaction:
            return
        try:
            if _begin_now(conn, "BEGIN IMMEDIATE") is None:
                await_(self._connection._execute(_run, conn, "BEGIN IMMEDIATE", None, False))
        except Exception as error:
            self._handle_exception(error)

    async def begin_write(self) -> None:
        """``BEGIN IMMEDIATE`` from plain async code, outside SQLAlchemy's transaction
        bookkeeping (the Database's writer: see ``Database._transaction``); end it with
        :meth:`commit` or :meth:`rollback`."""
        conn = self._connection._conn
        try:
            if _begin_now(conn, "BEGIN IMMEDIATE") is None:
                await self._connection._execute(_run, conn, "BEGIN IMMEDIATE", None, False)
        except Exception as error:
            self._handle_exception(error)

    def commit(self) -> None:
        conn = self._connection._conn
        if conn is not None and conn.in_transaction:
            try:
                conn.commit()
            except Exception as error:
                self._handle_exception(error)


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        # statements inside a write transaction run on the event loop's thread (see above);
        # the connection is still used by one thread at a time
        kw.setdefault("check_same_thread", False)
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return OneTripConnection(self, await_(connection))


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
