"""The declarative base, shared column types and naming conventions, and the one upsert."""

import hashlib
import importlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def hash_token(token: str) -> str:
    """What is stored of a secret token (an invitation link, a session): its SHA-256, so a leaked
    database holds nothing usable. Only the first 100 characters of what is presented count."""
    return hashlib.sha256(token[:100].encode()).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, on SQLite (which keeps naive text) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def insert_for(dialect: str) -> Any:
    """The dialect's INSERT, which has ON CONFLICT. Its module is the one the engine loaded for
    the database URL: a process on SQLite never loads PostgreSQL's dialect, nor the reverse."""
    return importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert


async def upsert(
    session: AsyncSession,
    table: type[Base],
    values: Mapping[str, Any],
    *,
    key: str,
    update: Sequence[str] = (),
) -> int | None:
    """Insert a row, or where one with the same unique `key` exists, set its `update` columns
    from `values` instead. The row's id; None when it existed and `update` is empty (left as
    it was). One statement, so a concurrent writer (another request or process caching the
    same remote key, actor or object) cannot come between a look-up and an insert.

    The session's copy of the row, if it holds one, is not refreshed: load it again with
    `populate_existing=True`."""
    statement = insert_for(session.get_bind().dialect.name)(table).values(dict(values))
    if update:
        statement = statement.on_conflict_do_update(
            index_elements=[key], set_={column: statement.excluded[column] for column in update}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=[key])
    row_id: int | None = await session.scalar(statement.returning(table.__table__.c.id))
    return row_id
