"""Fixtures shared by every test: databases (SQLite and PostgreSQL) and running instances.

PostgreSQL tests need AYNI_TEST_POSTGRES_URL (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test).
Outside CI they skip without it; under CI (CI=true) a missing URL is a failure, never a skip.
"""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from models import passwords
from tests.instances import Instance, start_instance

POSTGRES_URL = os.environ.get("AYNI_TEST_POSTGRES_URL")

# Under CI, property-based tests replay the same examples each run: a red CI must be reproducible.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")

# Argon2 at production strength costs ~0.1 s a hash; the suite hashes thousands of passwords.
# In this process only: commands the tests run as subprocesses hash as production does, and
# tests/integration/test_cli.py checks those parameters.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def sqlite_url(directory: Path, name: str = "ayni") -> str:
    return f"sqlite+aiosqlite:///{directory / f'{name}.db'}"


class PostgresDatabases:
    """Creates one throw-away database per test, dropped afterwards."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    async def create(self) -> str:
        name = f"ayni_test_{uuid.uuid4().hex[:12]}"
        engine = create_async_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        await engine.dispose()
        self.created.append(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    async def drop_all(self) -> None:
        engine = create_async_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            for name in self.created:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await engine.dispose()


def require_postgres() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if os.environ.get("CI"):
        pytest.fail("CI is set but AYNI_TEST_POSTGRES_URL is not: the PostgreSQL tests must run under CI")
    pytest.skip("PostgreSQL tests need AYNI_TEST_POSTGRES_URL=postgresql+asyncpg://user@host:port/db")


@pytest.fixture
async def database_urls(database_kind: str, tmp_path: Path) -> AsyncIterator["DatabaseUrls"]:
    """A factory of fresh, empty databases of the kind under test."""
    if database_kind == "sqlite":
        yield DatabaseUrls(lambda n: _async_value(sqlite_url(tmp_path, n)))
        return
    databases = PostgresDatabases(require_postgres())
    try:
        yield DatabaseUrls(lambda n: databases.create())
    finally:
        await databases.drop_all()


async def _async_value(value: str) -> str:
    return value


class DatabaseUrls:
    def __init__(self, make) -> None:  # type: ignore[no-untyped-def]
        self._make = make
        self._count = 0

    async def new(self) -> str:
        self._count += 1
        return str(await self._make(f"db{self._count}"))


@pytest.fixture
async def database_url(database_urls: DatabaseUrls) -> str:
    return await database_urls.new()


@pytest.fixture
async def instance(database_url: str) -> AsyncIterator[Instance]:
    """One initialised instance with a group `food` and a member `ana`, served in-process."""
    async with start_instance("http://127.0.0.1:8101", database_url) as running:
        yield running


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No AYNI_* settings leak in from the machine; the working directory is a fresh folder."""
    for key in list(os.environ):
        if key.startswith("AYNI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
