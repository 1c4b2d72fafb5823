"""Engines for SQLite (aiosqlite) and PostgreSQL (asyncpg), and schema upgrades."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from shared.errors import StorageError

T = TypeVar("T")
log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
# the newest migration; a test checks it against Alembic's own head. Knowing it lets a
# process that finds the schema current skip importing Alembic at all.
SCHEMA_HEAD = "0005_registration_via"
# what a database that is away, locked, full or refusing raises, whatever the backend
FAILURES: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError, ConnectionError)
SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL advisory lock keys: one per thing that several processes must not do at once
UPGRADE_LOCK = 7345001
PROGRAM_SYNC_LOCK = 7345002
GROUP_LOCK = 7345003
# the storage check before a transaction is skipped this soon after one passed
RECHECK_S = 0.005
# group commit: at most this many callers' work in one transaction (a launch burst is worked
# by a pool of 8, so a group is rarely larger; the bound keeps one group's locks short)
GROUP_LIMIT = 64
# PostgreSQL connections: how long to keep trying when the server is full or away
CONNECT_PATIENCE_S = 30.0
# SQLSTATEs worth another try: too many connections, cannot connect now (starting up)
_RETRY_SQLSTATES = {"53300", "57P03"}
# SQLSTATEs after which PostgreSQL has rolled the transaction back and a re-run may well
# succeed: a deadlock one side lost, a serialization failure
_RERUN_SQLSTATES = {"40P01", "40001"}


def _rerun_state(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in _RERUN_SQLSTATES


def _worth_retrying(exc: BaseException) -> bool:
    return getattr(exc, "sqlstate", None) in _RETRY_SQLSTATES or isinstance(exc, (OSError, ConnectionError))


async def connect_patiently(dsn: str, *, patience: float = CONNECT_PATIENCE_S):
    """An asyncpg connection; "too many clients", a server starting up or refusing are tried
    again with jittered backoff for ``patience`` seconds, with one log line and no traceback."""
    import asyncpg

    deadline = time.monotonic() + patience
    delay, warned = 0.05, False
    while True:
        try:
            return await asyncpg.connect(dsn)
        except Exception as exc:
            if not _worth_retrying(exc) or time.monotonic() + delay > deadline:
                raise
            if not warned:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                log.warning(
                    "PostgreSQL at %s: %s; trying again for up to %.0fs", safe_url(dsn), reason, patience
                )
                warned = True
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)


async def advisory_lock(conn: AsyncConnection, key: int) -> None:
    """Hold ``key`` until the transaction ends (PostgreSQL); SQLite's BEGIN IMMEDIATE already
    serialises every writer."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


class DatabaseUrlError(StorageError, ValueError):
    """A DATABASE_URL this bot cannot use."""


class StorageUnavailable(StorageError):
    """The database file was removed or replaced under the running bot, or cannot be written:
    nothing more is stored, and nothing that was not stored may be confirmed."""


def _file_identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def async_url(url: str) -> str:
    """Map the usual spellings (``sqlite:///``, ``postgres://``) onto the async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise DatabaseUrlError(f"DATABASE_URL is not a database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise DatabaseUrlError(f"DATABASE_URL must be sqlite:/// or postgresql://, not {backend}://")


def failure(url: str, exc: BaseException) -> StorageError:
    """A backend's error as one sentence for the operator, password hidden."""
    reason = (
        str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if str(exc).strip()
        else type(exc).__name__
    )
    return StorageError(f"The database at {safe_url(url)} failed: {reason}")


def safe_url(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    try:
        return make_url(async_url(url)).render_as_string(hide_password=True)
    except DatabaseUrlError:
        return "<invalid DATABASE_URL>"


class Database:
    """An async engine plus the transaction discipline both backends share.

    Every transaction on SQLite is ``BEGIN IMMEDIATE``: one writer at a time across
    processes, which is what keeps seat counts exact. On PostgreSQL the same code takes
    row locks (``FOR UPDATE``) instead.
    """

    def __init__(self, url: str, *, echo: bool = False, create: bool = True, pool_size: int = 4) -> None:
        self.url = async_url(url)
        options: dict[str, object] = {}
        if make_url(self.url).get_backend_name() == "postgresql":
            dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
            options = {
                # connections open on demand: a short command uses one, a bot at most the pool
                # plus one (its LISTEN connection)
                "pool_size": pool_size,
                "max_overflow": 1,
                # a connection the server dropped is noticed at checkout and replaced
                "pool_pre_ping": True,
                "async_creator": lambda: connect_patiently(dsn),
            }
        else:
            from shared.store import sqlite_driver

            # one hand-off to aiosqlite's thread per statement instead of four
            options = {"module": sqlite_driver.dbapi()}
        self.engine: AsyncEngine = create_async_engine(self.url, echo=echo, **options)
        self.dialect = self.engine.dialect.name
        self._local_writer: asyncio.Lock | None = None
        self._writer: AsyncConnection | None = None  # SQLite: the writer's connection, kept
        self._writer_pool: object = None  # the pool it came from
        self._checked_at = -math.inf  # when a check after a commit last passed
        # the SQLite file and the (device, inode) it had when opened: a file removed or replaced
        # while the bot runs must stop it, not swallow what people are told is stored
        self.file: Path | None = None
        self._identity: tuple[int, int] | None = None
        self.lost: str | None = None
        if self.dialect == "sqlite":
            self._local_writer = asyncio.Lock()
            database = make_url(self.url).database
            if database and database != ":memory:" and not database.startswith("file:"):
                self.file = Path(database)
                if create:
                    self.file.parent.mkdir(parents=True, exist_ok=True)
                    _create_private(self.file)
                if self.file.exists():
                    self._identity = _file_identity(self.file)
            event.listen(self.engine.sync_engine, "connect", _sqlite_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        # group commit (see grouped): whether a grouped transaction is under way, and who waits
        self._grouping = False
        self._waiting: list[_Unit] = []
        self._committer: asyncio.Task[None] | None = None
        # the PostgreSQL backends of this engine: what they NOTIFY, this process already knows
        self.backend_pids: set[int] = set()
        if self.dialect == "postgresql":
            event.listen(self.engine.sync_engine, "connect", self._remember_backend)

    def _remember_backend(self, _dbapi_connection, record) -> None:
        server_pid = getattr(record.driver_connection, "get_server_pid", None)
        if server_pid is not None:
            self.backend_pids.add(server_pid())

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def check_file(self) -> None:
        """Raise StorageUnavailable when the SQLite file is gone, replaced or unwritable (cheap: a stat)."""
        if self.lost is None and self.file is not None:
            self.lost = _file_problem(self.file, self._identity)
            if self.lost is None and self._identity is None and self.file.exists():
                self._identity = _file_identity(self.file)
        if self.lost is not None:
            raise StorageUnavailable(self.lost)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        # before each write transaction, and again after its commit: never confirm what a
        # vanished file swallowed. The check before is skipped right after another check
        # passed (back-to-back transactions, a burst): the one after the commit still
        # stands between a vanished file and anyone being told "stored".
        if self.lost is not None or time.monotonic() - self._checked_at > RECHECK_S:
            self.check_file()
        try:
            async with self._transaction() as conn:
                yield conn
        except SQLAlchemyError as exc:
            if self.file is not None and _lost_storage(exc):
                self.lost = f"the database file {self.file} cannot be written: {_first_line(exc)}"
                raise StorageUnavailable(self.lost) from exc
            raise
        self.check_file()
        self._checked_at = time.monotonic()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        if self._local_writer is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        # SQLite takes one writer at a time; queueing here is fairer and far faster than
        # letting this process's own connections wait in SQLite's sleeping busy handler.
        # The writer keeps its connection between transactions: a pool checkout and return
        # cost as much as a registration's statements. After any failure it is given back
        # (the pool resets it) and the next transaction takes a fresh one.
        async with self._local_writer:
            conn = self._writer
            if conn is None or conn.closed or conn.invalidated or self._writer_pool is not self.engine.pool:
                if conn is not None:  # from a pool disposed of since: a fresh connection
                    with suppress(Exception):
                        await conn.close()
                conn = self._writer = await self.engine.connect()
                self._writer_pool = self.engine.pool
            # BEGIN IMMEDIATE and COMMIT straight on the driver: SQLAlchemy's begin and
            # commit (a greenlet switch, events, bookkeeping) cost a fifth of a registration.
            # Prepared statements run inside it as they are; a statement through
            # conn.execute makes SQLAlchemy "autobegin" (its begin hook then finds the
            # transaction open and adds nothing), and is committed with it below.
            adapted = conn.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
            try:
                await _driver(conn, "BEGIN IMMEDIATE", adapted.begin_write())
                yield conn
                await _driver(conn, "COMMIT", _done(adapted.commit))
                if conn.in_transaction():  # SQLAlchemy's own books (the COMMIT is done)
                    await conn.commit()
            except BaseException:
                self._writer = None
                with suppress(Exception):
                    adapted.rollback()
                with suppress(Exception):
                    await conn.close()
                raise

    async def run(
        self, work: Callable[[AsyncConnection], Awaitable[T]], *, patience: float = CONNECT_PATIENCE_S
    ) -> T:
        """``work`` in one transaction. When the connection drops mid-way, or PostgreSQL ends
        the transaction as the loser of a deadlock or a serialization conflict, the server has
        rolled it back, so the whole unit of work runs again (on a fresh connection), with
        jittered backoff for up to ``patience`` seconds and one log line.
        Only for work whose every effect is in the database (a re-run after a commit whose
        acknowledgement was lost finds its own rows: registration answers "already")."""
        deadline = time.monotonic() + patience
        delay, warned = 0.05, False
        while True:
            try:
                async with self.transaction() as conn:
                    return await work(conn)
            except DBAPIError as exc:
                lost = exc.connection_invalidated
                if not (lost or _rerun_state(exc)) or time.monotonic() + delay > deadline:
                    raise
                if not warned:
                    reason = (
                        str(exc.orig).strip().splitlines()[0]
                        if str(exc.orig).strip()
                        else type(exc.orig).__name__
                    )
                    what = "database connection lost mid-transaction" if lost else "transaction rolled back"
                    log.warning("%s (%s); running it again", what, reason)
                    warned = True
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)

    async def grouped(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``work`` as :meth:`run` does it, but sharing its transaction (group commit) with the
        grouped work that arrives while another transaction of this kind is under way.

        The first caller runs alone, at once. Callers that arrive while it runs wait, and then
        run together in the next transaction (at most ``GROUP_LIMIT``); each gets its own
        result. When any of them raises (a refusal, a database error) or the commit fails,
        the whole group is rolled back and each caller's work runs again alone, in its own
        transaction, so that every caller gets their own answer and nothing is stored
        half-way; when the transaction cannot even begin, each is told that at once. Like :meth:`run`, only for work whose every effect is in the database;
        results are handed out after the commit, so nothing is announced before it is stored."""
        if self._grouping:
            unit: _Unit = _Unit(work, asyncio.get_running_loop().create_future())
            self._waiting.append(unit)
            return await unit.future
        self._grouping = True
        try:
            return await self.run(work)
        finally:
            if self._waiting:
                # those who came meanwhile: committed together by a task of their own, so
                # that this caller's answer does not wait for theirs
                self._committer = asyncio.get_running_loop().create_task(self._commit_waiting())
            else:
                self._grouping = False

    async def _commit_waiting(self) -> None:
        try:
            while self._waiting:
                group = [u for u in self._waiting[:GROUP_LIMIT] if not u.future.done()]
                del self._waiting[:GROUP_LIMIT]
                if group:
                    await self._commit_group(group)
        finally:
            for unit in self._waiting:  # only when cancelled (the process stops)
                _settle(unit, error=StorageError("the database was closed before this was stored"))
            self._waiting.clear()
            self._grouping = False
            self._committer = None

    async def _commit_group(self, group: list[_Unit]) -> None:
        try:
            if len(group) == 1:
                await _settle_with(group[0], self.run(group[0].work))
                return
            values: list[object] = []
            began = False
            try:
                async with self.transaction() as conn:
                    began = True
                    # PostgreSQL: one group at a time across processes. A group locks the rows
                    # of the sessions its members ask for in arrival order, so two processes'
                    # groups could lock two sessions in opposite orders and deadlock (broken by
                    # the server after a second, then each member runs again alone)
                    await advisory_lock(conn, GROUP_LOCK)
                    for unit in group:
                        values.append(await unit.work(conn))
            except Exception as exc:
                if not began and not getattr(exc, "connection_invalidated", False):
                    # no transaction (another process held SQLite's write lock past the busy
                    # timeout, the file is gone): nobody's work ran, and each alone would only
                    # wait out the same lock once more per caller; everyone hears it now (a
                    # dropped connection is still tried again by each one's run)
                    for unit in group:
                        _settle(unit, error=exc)
                    return
                # someone's refusal or the database's trouble: the whole group is rolled back
                # (no savepoints: on PostgreSQL two more round trips a person would cost
                # more than the shared commit saves), and each runs again alone, in its own
                # transaction, for its own answer
                log.debug("a group of %d failed (%s); each runs alone", len(group), exc)
                for unit in group:
                    await _settle_with(unit, self.run(unit.work))
                return
            for unit, value in zip(group, values, strict=True):
                _settle(unit, value)
        finally:
            for unit in group:  # cancelled half-way: no caller waits for ever
                _settle(unit, error=StorageError("the database was closed before this was stored"))

    async def upgrade(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        async with self.engine.begin() as conn:
            # concurrent `db upgrade` runs wait for each other
            await advisory_lock(conn, UPGRADE_LOCK)
            await conn.run_sync(_upgrade)

    async def ensure_schema(self) -> None:
        """Upgrade the schema when it is missing or behind; a current one costs one query."""
        try:
            async with self.engine.connect() as conn:
                current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except SQLAlchemyError:  # no alembic_version table yet: a new database
            current = None
        if current != SCHEMA_HEAD:
            await self.upgrade()

    async def revision(self) -> tuple[str | None, str]:
        """The database's migration and the newest one this code knows."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        async with self.engine.connect() as conn:
            current = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
        head = ScriptDirectory.from_config(_config(None)).get_current_head()
        return current, head or ""

    async def close(self) -> None:
        if self._committer is not None:  # the grouped work already accepted is stored first
            await asyncio.gather(self._committer, return_exceptions=True)
        if self._writer is not None:
            writer, self._writer = self._writer, None
            with suppress(Exception):
                await writer.close()
        await self.engine.dispose()


@dataclass(slots=True)
class _Unit:
    """One caller's work waiting for the next grouped transaction, and where its answer goes."""

    work: Callable[[AsyncConnection], Awaitable[Any]]
    future: asyncio.Future[Any]


def _settle(unit: _Unit, value: object = None, error: BaseException | None = None) -> None:
    if unit.future.done():  # answered already, or its caller gave up waiting
        return
    if error is not None:
        unit.future.set_exception(error)
    else:
        unit.future.set_result(value)


async def _settle_with(unit: _Unit, outcome: Awaitable[Any]) -> None:
    try:
        value = await outcome
    except Exception as exc:
        _settle(unit, error=exc)
    else:
        _settle(unit, value)


def _config(connection: Connection | None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(_config(connection), "head")


def _create_private(file: Path) -> None:
    """A new SQLite file readable by its owner only: it holds personal data. SQLite gives its
    -wal and -shm files the mode of the database file."""
    with suppress(FileExistsError):
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _file_problem(file: Path, identity: tuple[int, int] | None) -> str | None:
    # checked before and after every write transaction: plain strings and one syscall a
    # file in the usual case (access first; exists only for a file that fails it)
    name = os.fspath(file)
    try:
        info = os.stat(name)
        now = info.st_dev, info.st_ino
    except FileNotFoundError:
        return f"the database file {file} was removed while the bot was running" if identity else None
    except OSError as exc:
        return f"the database file {file} cannot be reached: {exc.strerror or exc}"
    if identity is not None and now != identity:
        return f"the database file {file} was replaced by another file while the bot was running"
    for extra in (name, name + "-wal", name + "-shm"):
        if not os.access(extra, os.W_OK) and os.path.exists(extra):
            return f"{extra} cannot be written (check its owner and permissions)"
    return None


# SQLite's words for a file that can no longer take writes (read-only, gone, or its WAL broken)
_LOST = (
    "readonly database",
    "disk i/o error",
    "unable to open database file",
    "database disk image is malformed",
)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _lost_storage(exc: BaseException) -> bool:
    return any(words in _first_line(exc).lower() for words in _LOST)


def _sqlite_connect(dbapi_connection, _record) -> None:
    # let SQLAlchemy's "begin" hook choose BEGIN IMMEDIATE instead of pysqlite's implicit BEGIN
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


async def _driver(conn: AsyncConnection, statement: str, step: Awaitable[None]) -> None:
    """A step taken straight on the driver, its errors wrapped as SQLAlchemy's would be
    (so that "database is locked" or a read-only file reads the same either way)."""
    error = conn.dialect.loaded_dbapi.Error
    try:
        await step
    except error as exc:
        raise DBAPIError.instance(statement, (), exc, error) from exc


async def _done(call: Callable[[], None]) -> None:
    call()


def _sqlite_begin(conn: Connection) -> None:
    adapted = conn.connection.dbapi_connection
    begin = getattr(adapted, "begin_immediate", None)
    if begin is not None:  # the driver shim's: no trip through statement execution
        error = conn.dialect.loaded_dbapi.Error
        try:
            begin()
        except error as exc:  # wrapped as statement execution would ("database is locked")
            raise DBAPIError.instance("BEGIN IMMEDIATE", (), exc, error) from exc
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
