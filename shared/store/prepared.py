"""Core statements compiled once and run straight on SQLite's connection inside a write transaction.

The registration path runs five statements a person. Through ``AsyncConnection.execute``
each costs a greenlet switch, the compiled-cache lookup, ``construct_params``, the bind
processors, a cursor adapter and a ``CursorResult``: about 0.1 ms of CPU, more than SQLite
takes for the statement itself. A :class:`Prepared` statement is still built with SQLAlchemy
Core and compiled by SQLAlchemy (once per dialect and set of keys); on SQLite, inside a
transaction that holds the write lock, it runs on the ``sqlite3`` connection with its
parameters put in order by a precomputed list of bind processors, and gives plain tuples.

Elsewhere (PostgreSQL, or a SQLite connection outside a transaction) it runs through
``conn.execute`` as before, so asyncpg's error handling and the re-run on a dropped
connection are untouched. Only statements whose result columns need no type processing
(ids, counts, text) may be prepared: that is checked once, at compile time.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # the value of each positional parameter: by the caller's key, or by a name of its own
    # for a value fixed at compile time (a literal, a column's scalar default)
    take: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    fixed: dict[str, Any]
    # the positions whose value a bind processor converts (datetimes, on SQLite)
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]


class Prepared:
    """One Core statement, compiled per key set on first use; see the module's docstring."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, ...], _Compiled | None] = {}

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled | None:
        """The SQL and parameter order, or None when the statement needs SQLAlchemy at run
        time (a callable column default, a result type with a processor)."""
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.positiontup is None:
            return None
        if getattr(compiled, "update_prefetch", None):  # an onupdate SQLAlchemy computes
            return None
        prefetch = {c.key: c for c in (getattr(compiled, "insert_prefetch", ()) or ())}
        for column in getattr(self.statement, "exported_columns", ()):
            if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
                return None
        names: list[str] = []
        fixed: dict[str, Any] = {}
        processors: list[tuple[int, Callable[[Any], Any]]] = []
        given = set(keys)
        for position, name in enumerate(compiled.positiontup):
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in prefetch:
                column = prefetch[name]
                if column.default is None or not column.default.is_scalar:
                    return None
                processor = column.type.dialect_impl(dialect).bind_processor(dialect)
                fixed[name] = column.default.arg
            elif bind.key in given:
                name = bind.key
            elif bind.callable is None and not bind.required:
                fixed[name] = bind.value
            else:
                return None
            names.append(name)
            if processor is not None:
                processors.append((position, processor))
        take = itemgetter(*names) if len(names) > 1 else (lambda params, name=names[0]: (params[name],))
        return _Compiled(compiled.string, take, fixed, tuple(processors))

    def _for(self, conn: AsyncConnection, params: Mapping[str, Any]) -> _Compiled | None:
        keys = tuple(sorted(params))
        try:
            return self._compiled[keys]
        except KeyError:
            found = self._compiled[keys] = self._compile(conn.dialect, keys)
            return found

    async def rows(self, conn: AsyncConnection, params: Mapping[str, Any]) -> Sequence[tuple[Any, ...]]:
        """The statement's rows as tuples (none for a statement without RETURNING)."""
        raw = _writing_sqlite(conn)
        compiled = self._for(conn, params) if raw is not None else None
        if raw is None or compiled is None:
            return (await conn.execute(self.statement, dict(params))).fetchall()
        values = _values(compiled, params)
        try:
            cursor = raw.execute(compiled.sql, values)
            rows = cursor.fetchall() if cursor.description else []
            cursor.close()
        except sqlite3.Error as exc:
            raise DBAPIError.instance(compiled.sql, values, exc, sqlite3.Error) from exc
        await asyncio.sleep(0)  # a turn for the loop's other tasks, as the driver shim gives
        return rows

    async def many(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """The statement once per parameter set, in one call (executemany), no rows back."""
        if not rows:
            return
        raw = _writing_sqlite(conn)
        compiled = self._for(conn, rows[0]) if raw is not None else None
        if raw is None or compiled is None or any(len(r) != len(rows[0]) for r in rows):
            await conn.execute(self.statement, [dict(r) for r in rows])
            return
        values = [_values(compiled, r) for r in rows]
        try:
            raw.executemany(compiled.sql, values).close()
        except sqlite3.Error as exc:
            raise DBAPIError.instance(compiled.sql, values, exc, sqlite3.Error) from exc
        await asyncio.sleep(0)


def _values(compiled: _Compiled, params: Mapping[str, Any]) -> list[Any]:
    values = list(compiled.take({**compiled.fixed, **params} if compiled.fixed else params))
    for position, processor in compiled.processors:
        if values[position] is not None:
            values[position] = processor(values[position])
    return values


def _writing_sqlite(conn: AsyncConnection) -> sqlite3.Connection | None:
    """The ``sqlite3`` connection under ``conn`` when it holds SQLite's write lock (a
    transaction of this project's driver shim is always BEGIN IMMEDIATE), else None."""
    if conn.dialect.name != "sqlite":
        return None
    adapted = conn.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
    raw = getattr(getattr(adapted, "_connection", None), "_conn", None)
    if isinstance(raw, sqlite3.Connection) and raw.in_transaction:
        return raw
    return None
