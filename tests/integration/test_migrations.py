"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from models import db


async def test_migrations_upgrade_from_empty_and_match_the_models(empty_database_url: str) -> None:
    engine = db.create_engine(empty_database_url)
    try:
        await db.upgrade(engine)

        def differences(connection: Connection) -> list[object]:
            return list(compare_metadata(MigrationContext.configure(connection), db.metadata))

        async with engine.connect() as connection:
            diff = await connection.run_sync(differences)
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert diff == []
        assert {"local_actors", "actor_keys", "memberships", "remote_actors", "follows"} <= tables
        assert await db.current_revision(engine) is not None
    finally:
        await engine.dispose()


async def test_upgrading_twice_changes_nothing(empty_database_url: str) -> None:
    engine = db.create_engine(empty_database_url)
    try:
        await db.upgrade(engine)
        first = await db.current_revision(engine)
        await db.upgrade(engine)
        assert await db.current_revision(engine) == first
    finally:
        await engine.dispose()
