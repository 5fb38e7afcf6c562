"""Engines, sessions and migrations for both databases (SQLite embedded, PostgreSQL when groups
grow)."""

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# Importing the table modules registers them on Base.metadata, which Alembic compares against.
from models import (  # noqa: F401  imported for that side effect, not used by name
    actors,
    alerts,
    calls,
    content,
    conversations,
    escrow,
    follows,
    images,
    intake,
    introductions,
    invitations,
    items,
    mail,
    member_sessions,
    moderation,
    notices,
    push,
    queue,
    remote,
)
from models.base import Base
from models.transactions import TrackedSession

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
metadata = Base.metadata


def create_engine(database_url: str) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web pages read while a worker writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Tracked: models.transactions.outside_transaction can tell when a task holds a transaction.
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=TrackedSession)


def alembic_config(connection: Connection | None = None) -> "Config":
    # Alembic (and the migration scripts) is imported only to migrate: a running server reads
    # its schema's revision with one query (`current_revision`), not 6 MB of Alembic.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


class MigrationError(Exception):
    """A migration left rows that refer to rows that are not there."""


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    from alembic import command

    await _migrate(engine, lambda connection: command.upgrade(alembic_config(connection), revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    from alembic import command

    await _migrate(
        engine, lambda connection: command.downgrade(alembic_config(connection), revision)
    )


async def _migrate(engine: AsyncEngine, run: Callable[[Connection], None]) -> None:
    """On SQLite a batch migration rebuilds a table (copy, DROP, rename): with foreign keys on,
    the DROP would delete every row that refers to it (ON DELETE CASCADE), keys included. They
    are off for the migration (a PRAGMA that only works outside a transaction), checked before
    the commit, and on again for whoever gets the connection next. The explicit BEGIN makes the
    DDL part of the transaction: Python's sqlite3 would otherwise commit each CREATE and DROP."""
    sqlite = engine.dialect.name == "sqlite"
    async with engine.connect() as connection:
        if sqlite:
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.exec_driver_sql("BEGIN")
        try:
            await connection.run_sync(run)
            if sqlite:
                broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    tables = sorted({str(row[0]) for row in broken})
                    raise MigrationError(
                        f"the migration left {len(broken)} row(s) referring to missing rows "
                        f"(in {', '.join(tables)}); nothing was changed"
                    )
            await connection.commit()
        finally:
            if sqlite:
                await connection.rollback()
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")


_REVISION = re.compile(r'^(down_)?revision = (?:"([^"]+)"|None)$', re.MULTILINE)


@cache
def revisions() -> list[str]:
    """Every revision of the schema this code knows, oldest first: the last one is what it
    needs. Read from the scripts' `revision = "…"` lines, following each `down_revision`, without
    importing them (or Alembic). A linear history: one head, no merges."""
    down_of: dict[str, str | None] = {}
    for script in (MIGRATIONS / "versions").glob("*.py"):
        found = {bool(down): value for down, value in _REVISION.findall(script.read_text())}
        down_of[found[False]] = found.get(True) or None
    ordered: list[str] = []
    following = {down: rev for rev, down in down_of.items()}
    current = following.get(None)
    while current is not None:
        ordered.append(current)
        current = following.get(current)
    assert len(ordered) == len(down_of), "the migrations must form one line"
    return ordered


def schema_state(revision: str | None) -> str:
    """`missing` (no schema), `behind` (run the migrations), `current`, or `ahead` (a revision
    this code does not know: the database was migrated by a newer version)."""
    known = revisions()
    if revision is None:
        return "missing"
    if revision == known[-1]:
        return "current"
    return "behind" if revision in known else "ahead"


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision in Alembic's `alembic_version` table; None when there is no schema."""

    def read(connection: Connection) -> str | None:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    async with engine.connect() as connection:
        return await connection.run_sync(read)
