"""Fixtures shared by every test: databases (SQLite and PostgreSQL) and running instances.

PostgreSQL tests need AYNI_TEST_POSTGRES_URL
(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test).
Outside CI they skip without it; under CI (CI=true) a missing URL is a failure, never a skip.
"""

import asyncio
import concurrent.futures
import hashlib
import itertools
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from federation import keys
from models import db, passwords
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


class KeyPool:
    """RSA keys made once and handed out in turn: a new 2048-bit key costs ~60 ms and every
    instance a test starts makes three. Consecutive keys differ, so the actors of one test have
    keys of their own (a test would need more than `SIZE` actors to see one twice)."""

    SIZE = 48

    def __init__(self) -> None:
        with concurrent.futures.ThreadPoolExecutor() as threads:  # OpenSSL lets go of the GIL
            made = list(threads.map(lambda _: real_generate_private_key(), range(self.SIZE)))
        self._keys = itertools.cycle(made)

    def __call__(self) -> rsa.RSAPrivateKey:
        return next(self._keys)


real_generate_private_key = keys.generate_private_key
keys.generate_private_key = KeyPool()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def sqlite_url(directory: Path, name: str = "ayni") -> str:
    return f"sqlite+aiosqlite:///{directory / f'{name}.db'}"


# Migrating costs more than most tests (about 0.1 s on SQLite, 0.5 s on PostgreSQL): the
# migrations run once into a template that each test's database is copied from.
MIGRATIONS_DIGEST = hashlib.sha256(
    b"".join(
        path.name.encode() + path.read_bytes()
        for path in sorted((db.MIGRATIONS / "versions").glob("*.py"))
    )
).hexdigest()[:12]


async def _migrate(url: str) -> None:
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "migrated.db"
    asyncio.run(_migrate(sqlite_url(path.parent, "migrated")))
    return path


class PostgresDatabases:
    """Creates throw-away databases, dropped after the test: copies of a migrated template
    (`ayni_template_<digest of the migrations>`, built once and kept between runs) or empty."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def _url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    async def _execute(self, *statements: str) -> None:
        engine = create_async_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
        finally:
            await engine.dispose()

    async def _exists(self, name: str) -> bool:
        engine = create_async_engine(self.admin_url)
        try:
            async with engine.connect() as connection:
                query = text("SELECT 1 FROM pg_database WHERE datname = :name")
                return await connection.scalar(query, {"name": name}) == 1
        finally:
            await engine.dispose()

    async def template(self) -> str:
        name = f"ayni_template_{MIGRATIONS_DIGEST}"
        if not await self._exists(name):
            # Built under a name of its own and renamed when whole: another test process (or a
            # run killed half-way) never copies a half-migrated template.
            building = f"ayni_building_{uuid.uuid4().hex[:12]}"
            await self._execute(f'CREATE DATABASE "{building}"')
            try:
                await _migrate(self._url(building))
                await self._execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
            except DBAPIError:  # another process got there first
                await self._execute(f'DROP DATABASE "{building}" WITH (FORCE)')
        return name

    async def create(self, migrated: bool = True) -> str:
        name = f"ayni_test_{uuid.uuid4().hex[:12]}"
        template = f' TEMPLATE "{await self.template()}"' if migrated else ""
        await self._execute(f'CREATE DATABASE "{name}"{template}')
        self.created.append(name)
        return self._url(name)

    async def drop_all(self) -> None:
        await self._execute(
            *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self.created)
        )


def require_postgres() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if os.environ.get("CI"):
        pytest.fail(
            "CI is set but AYNI_TEST_POSTGRES_URL is not: the PostgreSQL tests must run under CI"
        )
    pytest.skip(
        "PostgreSQL tests need AYNI_TEST_POSTGRES_URL=postgresql+asyncpg://user@host:port/db"
    )


class DatabaseUrls:
    """Fresh databases of the kind under test: migrated (the schema at head, no rows) by
    default, or empty for the tests of migrating itself."""

    def __init__(self, kind: str, directory: Path, sqlite_template: Path) -> None:
        self._kind, self._directory, self._sqlite_template = kind, directory, sqlite_template
        self._count = 0
        self.postgres = PostgresDatabases(require_postgres()) if kind == "postgres" else None

    async def new(self, migrated: bool = True) -> str:
        self._count += 1
        if self.postgres is not None:
            return await self.postgres.create(migrated)
        url = sqlite_url(self._directory, f"db{self._count}")
        if migrated:
            shutil.copyfile(self._sqlite_template, self._directory / f"db{self._count}.db")
        return url


@pytest.fixture
async def database_urls(
    database_kind: str, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[DatabaseUrls]:
    urls = DatabaseUrls(database_kind, tmp_path, sqlite_template)
    try:
        yield urls
    finally:
        if urls.postgres is not None:
            await urls.postgres.drop_all()


@pytest.fixture
async def database_url(database_urls: DatabaseUrls) -> str:
    """A fresh database with the schema at head and no rows."""
    return await database_urls.new()


@pytest.fixture
async def empty_database_url(database_urls: DatabaseUrls) -> str:
    """A fresh database with nothing in it, not even the schema."""
    return await database_urls.new(migrated=False)


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
