"""``roundtable check``'s look at the database: connect, ask a trivial question, create nothing.

A SQLite file that does not exist is not created (nor its folder): the probe says `run`
will create it. An existing file is opened read-write without creating anything, and a
write lock is taken and given back at once, which finds a locked or read-only database.
PostgreSQL is asked ``SELECT 1`` and whether the session is read-only.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from shared.store.database import async_url, safe_url

TIMEOUT = 5.0


@dataclass
class Probe:
    ok: bool
    summary: str  # one line: what was found
    warnings: list[str] = field(default_factory=list)
    connected: bool = False  # a connection was opened (no file was created for it)


async def probe(url: str, wait: float = TIMEOUT) -> Probe:
    """Reach the database behind ``url``; raises DatabaseUrlError for a URL of the wrong kind."""
    parsed = make_url(async_url(url))
    shown = safe_url(url)
    if parsed.get_backend_name() == "sqlite":
        return await asyncio.to_thread(_sqlite, parsed.database or "", shown, wait)
    return await _postgres(parsed, shown, wait)


def _sqlite(path: str, shown: str, timeout: float) -> Probe:
    if not path or path == ":memory:":
        return Probe(True, f"database: {shown} (in memory: nothing is kept after a stop)")
    file = Path(path)
    if not file.exists():
        folder = file.parent
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is None or not existing.is_dir() or not _creatable_in(existing):
            return Probe(
                False, f"database: {shown}: the folder {folder} does not exist and cannot be created"
            )
        if folder.is_dir():
            return Probe(True, f"database: {shown} does not exist yet; `run` will create it")
        return Probe(
            True,
            f"database: {shown} does not exist yet",
            [f"the folder {folder} does not exist: `run` will create it"],
        )
    if file.is_dir():
        return Probe(False, f"database: {shown} is a folder, not a SQLite file")
    try:
        conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=rw", uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        return Probe(False, f"database: cannot open {shown}: {_reason(exc)}")
    try:
        conn.isolation_level = None
        conn.execute("SELECT 1").fetchone()
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        # a write lock, taken and given back: a read-only or locked file fails here
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        if conn.execute("PRAGMA query_only").fetchone()[0]:
            return Probe(False, f"database: {shown} is read-only")
    except sqlite3.Error as exc:
        return Probe(False, f"database: {shown} cannot be used: {_reason(exc)}")
    finally:
        conn.close()
    warnings = []
    mode = file.stat().st_mode & 0o777
    if mode & 0o077:
        warnings.append(
            f"{file} is readable by other local users (mode {mode:o}); it holds personal data: chmod 600 {file}"
        )
    return Probe(True, f"database: {shown}", warnings, connected=True)


# file systems where no folder can be made, whoever asks (root passes every permission check)
_VIRTUAL = {"proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "securityfs"}


def _creatable_in(folder: Path) -> bool:
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return True
    best, fstype, options = "", "", ""
    resolved = str(folder.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) < 4:
            continue
        point = parts[1].replace("\\040", " ")
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, fstype, options = point, parts[2], parts[3]
    return fstype not in _VIRTUAL and "ro" not in options.split(",")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if "readonly" in text or "read-only" in text:
        return "it is read-only (check the file's and its folder's permissions)"
    if "locked" in text:
        return "it is locked by another process (is a second bot or a migration running?)"
    return text or type(exc).__name__


async def _postgres(parsed, shown: str, wait: float) -> Probe:
    import asyncpg

    try:
        conn = await asyncio.wait_for(
            asyncpg.connect(
                host=parsed.host,
                port=parsed.port,
                user=parsed.username,
                password=parsed.password,
                database=parsed.database,
                timeout=wait,
            ),
            wait + 1,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Probe(False, f"database: cannot reach {shown}: {reason}")
    try:
        await conn.fetchval("SELECT 1")
        if await conn.fetchval("SHOW transaction_read_only") == "on":
            return Probe(False, f"database: {shown} is read-only (a standby, or a read-only user)")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        return Probe(False, f"database: {shown} cannot be used: {exc}")
    finally:
        await conn.close(timeout=wait)
    return Probe(True, f"database: {shown}", connected=True)
