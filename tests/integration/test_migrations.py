"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

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


async def test_a_groups_own_categories_made_before_the_taxonomy_narrow_other(
    empty_database_url: str,
) -> None:
    engine = db.create_engine(empty_database_url)
    try:
        await db.upgrade(engine, "0015")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO local_actors (id, type, username, name, summary, "
                    "manually_approves_followers, created_at, language, retention_days, "
                    "is_admin) VALUES (1, 'Group', 'food', 'Food', '', false, :now, 'en', 30, "
                    "false)"
                ),
                {"now": datetime.now(UTC)},
            )
            for id_, slug in ((1, "food"), (2, "tools_library")):
                await connection.execute(
                    text(
                        "INSERT INTO categories (id, group_id, slug, name, uri, created_at) "
                        "VALUES (:id, 1, :slug, :slug, :uri, :now)"
                    ),
                    {"id": id_, "slug": slug, "uri": f"https://x/{slug}", "now": datetime.now(UTC)},
                )
        await db.upgrade(engine)
        async with engine.connect() as connection:
            found = dict(
                (await connection.execute(text("SELECT slug, broader FROM categories"))).all()
            )
    finally:
        await engine.dispose()
    assert found == {"food": None, "tools_library": "other"}
