"""Fixtures: temporary databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set),
a controllable clock, and a core on the bundled program."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from shared.app import Roundtable
from shared.clock import FakeClock
from shared.program import load_program
from shared.settings import Settings
from tests.support import T0, opened_core, reset_postgres

PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
# pytest-xdist runs the suite in several processes: each gets a database of its own
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _compile_catalogs() -> None:
    """The tests run on the source tree: compile its catalogs as a build would (setup.py)."""
    from pathlib import Path

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (Path(__file__).parents[1] / "shared" / "locale").glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as file:
            catalog = read_po(file)
        # several test processes may compile at once: none may read a half-written file
        part = mo.with_name(f"{mo.name}.{os.getpid()}")
        with part.open("wb") as file:
            write_mo(file, catalog)
        os.replace(part, mo)


_compile_catalogs()


def _worker_database(url: str, worker: str) -> str:
    """``url`` with its database renamed for one test process, created when missing."""
    from sqlalchemy import make_url, text
    from sqlalchemy.ext.asyncio import create_async_engine

    from shared.store.database import async_url

    own = make_url(url).set(database=f"{make_url(url).database}_{worker}")

    async def create() -> None:
        engine = create_async_engine(async_url(url), isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                name = own.database
                if not await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    asyncio.run(create())
    return own.render_as_string(hide_password=False)


if PG_URL and WORKER:
    try:
        PG_URL = _worker_database(PG_URL, WORKER)
    except Exception:  # unreachable: _postgres_url says so (skip, or fail under CI)
        pass
    else:
        os.environ["TEST_DATABASE_URL"] = PG_URL  # for the tests that start processes


def _postgres_url() -> str:
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must set TEST_DATABASE_URL: the PostgreSQL tests may not skip under CI")
        pytest.skip("TEST_DATABASE_URL is not set")
    try:
        asyncio.run(reset_postgres(PG_URL))
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at TEST_DATABASE_URL is unreachable under CI: {exc}")
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}")
    return PG_URL


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'roundtable.db'}"


@pytest.fixture
def postgres_url() -> str:
    """PostgreSQL only, for what SQLite has no counterpart of."""
    return _postgres_url()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """Each core test runs on both backends."""
    if request.param == "postgres":
        return _postgres_url()
    return f"sqlite:///{tmp_path / 'roundtable.db'}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def make_settings(url: str, **overrides) -> Settings:
    values = {"database_url": url, "roundtable_program": None, "dispatch_retries": 2, **overrides}
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(database_url) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def program():
    return load_program()


@pytest.fixture
async def core(settings, program, clock) -> AsyncIterator[Roundtable]:
    async with opened_core(settings, program, clock) as core:
        yield core


@pytest.fixture
async def sqlite_core(sqlite_url, program, clock) -> AsyncIterator[Roundtable]:
    """A core on SQLite only, for adapter tests."""
    async with opened_core(make_settings(sqlite_url), program, clock) as core:
        yield core
