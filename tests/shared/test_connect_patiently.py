"""PostgreSQL connections: a full or starting server is tried again, quietly; other errors are not."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from shared.store import database


async def test_too_many_clients_is_tried_again_with_one_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[str] = []

    async def connect(dsn: str) -> str:
        attempts.append(dsn)
        if len(attempts) < 4:
            raise asyncpg.TooManyConnectionsError("sorry, too many clients already")
        return "connection"

    monkeypatch.setattr(asyncpg, "connect", connect)
    caplog.set_level(logging.WARNING, logger="shared.store.database")
    dsn = "postgresql://bot:s3cret@db.example:5432/roundtable"
    assert await database.connect_patiently(dsn, patience=5) == "connection"
    assert len(attempts) == 4
    [line] = caplog.records
    assert "too many clients" in line.getMessage() and line.exc_info is None
    assert "s3cret" not in line.getMessage()


async def test_a_refused_password_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = 0

    async def connect(dsn: str) -> str:
        nonlocal attempts
        attempts += 1
        raise asyncpg.InvalidPasswordError("password authentication failed")

    monkeypatch.setattr(asyncpg, "connect", connect)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await database.connect_patiently("postgresql://bot@db.example/roundtable", patience=5)
    assert attempts == 1


async def test_patience_runs_out(monkeypatch: pytest.MonkeyPatch) -> None:
    async def connect(dsn: str) -> str:
        raise ConnectionRefusedError("refused")

    monkeypatch.setattr(asyncpg, "connect", connect)
    with pytest.raises(ConnectionRefusedError):
        await database.connect_patiently("postgresql://bot@db.example/roundtable", patience=0.3)


def test_the_pool_size_setting_reaches_the_engine() -> None:
    db = database.Database("postgresql://bot@db.example/roundtable", pool_size=2)
    assert db.engine.pool.size() == 2
