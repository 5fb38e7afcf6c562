"""A populated instance database (a group, members, an item, a follower, a failed delivery),
and every row of it, for the tests that must lose nothing: backups, restores, migrations."""

from typing import Any

from sqlalchemy import Connection, MetaData, select

from federation.itemterms import Kind
from models import actors, db
from models.actors import Role
from models.escrow import Seal
from models.follows import Direction, Follow, FollowState
from models.posting import Draft, create_item
from models.queue import Activity, Delivery
from models.remote import RemoteActor
from models.uris import Uris

BASE_URL = "https://aid.example.org"
PEER = "https://social.example"


async def populate(database_url: str) -> None:
    """Into a database at the head revision."""
    engine = db.create_engine(database_url)
    try:
        async with db.sessionmaker(engine)() as session, session.begin():
            await actors.create_instance(session, BASE_URL, "aid.example.org")
            group = await actors.create_group(session, "food", "Food Share", "Food for all.")
            ana = await actors.create_member(session, "ana", None, "Ana", is_admin=True)
            ben = await actors.create_member(session, "ben", None, "Ben")
            await actors.join_group(session, group, ana, Role.ADMIN)
            await actors.join_group(session, group, ben, Role.MEMBER)
            rosa = RemoteActor(
                uri=f"{PEER}/users/rosa",
                host="social.example",
                username="rosa",
                inbox_uri=f"{PEER}/users/rosa/inbox",
            )
            session.add(rosa)
            await session.flush()
            session.add(
                Follow(
                    activity_uri=f"{PEER}/follows/1",
                    direction=Direction.INBOUND,
                    local_actor_id=group.id,
                    remote_actor_id=rosa.id,
                    state=FollowState.ACCEPTED,
                )
            )
            await create_item(
                session,
                Uris(BASE_URL),
                group,
                ben,
                Draft(Kind.ASK, "Nappies, size 4", "Two packs.", "goods"),
                seal=Seal("a secret"),
            )
            activity = await session.scalar(select(Activity).limit(1))
            assert activity is not None
            session.add(
                Delivery(
                    activity_id=activity.id,
                    inbox_uri=rosa.inbox_uri,
                    host="social.example",
                    attempts=2,
                    last_status=503,
                    last_error="Service Unavailable",
                )
            )
    finally:
        await engine.dispose()


async def rows(
    database_url: str, tables: set[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (or of `tables`), as the database has them, in key order."""

    def read(connection: Connection) -> dict[str, list[dict[str, Any]]]:
        found = MetaData()
        found.reflect(connection)
        return {
            name: [
                dict(row._mapping)
                for row in connection.execute(
                    select(table).order_by(*(table.primary_key.columns or table.columns))
                )
            ]
            for name, table in found.tables.items()
            if tables is None or name in tables
        }

    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()
