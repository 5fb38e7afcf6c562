"""One of our groups follows an actor elsewhere (another Ayni group, for the network board)."""

from dataclasses import dataclass
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import vocab
from federation.visibility import Visibility
from models.actors import LocalActor
from models.base import utcnow
from models.follows import Direction, Follow, FollowState
from models.publish import publish
from models.remote import RemoteActor
from models.uris import Uris


async def follow(
    session: AsyncSession, uris: Uris, local: LocalActor, remote: RemoteActor
) -> Follow:
    """Record a pending outbound follow and publish the Follow to the remote actor; its Accept
    (inbox `on_accept`) makes it accepted. Following again re-sends the Follow."""
    row = await session.scalar(
        select(Follow).where(
            Follow.local_actor_id == local.id,
            Follow.remote_actor_id == remote.id,
            Follow.direction == Direction.OUTBOUND,
        )
    )
    activity_uri = uris.activity(uuid4().hex)
    if row is None:
        row = Follow(
            direction=Direction.OUTBOUND, local_actor_id=local.id, remote_actor_id=remote.id
        )
        session.add(row)
    if row.state != FollowState.ACCEPTED:
        row.state = FollowState.PENDING
    row.activity_uri, row.updated_at = activity_uri, utcnow()
    document = {
        "@context": vocab.AS_CONTEXT,
        "id": activity_uri,
        "type": "Follow",
        "actor": uris.actor(local.username),
        "object": remote.uri,
        "to": [remote.uri],
    }
    await publish(session, local, document, Visibility.DIRECT, to_actors=[remote.uri])
    await session.flush()
    return row


async def unfollow(
    session: AsyncSession, uris: Uris, local: LocalActor, remote: RemoteActor
) -> bool:
    """Publish Undo{Follow} (embedding the Follow with its id, as Mastodon expects) and forget
    the follow. False when there was nothing to undo."""
    row = await session.scalar(
        select(Follow).where(
            Follow.local_actor_id == local.id,
            Follow.remote_actor_id == remote.id,
            Follow.direction == Direction.OUTBOUND,
        )
    )
    if row is None:
        return False
    actor_uri = uris.actor(local.username)
    document = {
        "@context": vocab.AS_CONTEXT,
        "id": uris.activity(uuid4().hex),
        "type": "Undo",
        "actor": actor_uri,
        "to": [remote.uri],
        "object": {
            "id": row.activity_uri,
            "type": "Follow",
            "actor": actor_uri,
            "object": remote.uri,
        },
    }
    await publish(session, local, document, Visibility.DIRECT, to_actors=[remote.uri])
    await session.delete(row)
    await session.flush()
    return True


@dataclass(frozen=True)
class Relation:
    direction: str
    state: str
    actor_uri: str
    handle: str


async def relations(session: AsyncSession, local: LocalActor) -> list[Relation]:
    """Who this actor follows and who follows it, with states."""
    rows = await session.execute(
        select(
            Follow.direction, Follow.state, RemoteActor.uri, RemoteActor.username, RemoteActor.host
        )
        .join(RemoteActor, RemoteActor.id == Follow.remote_actor_id)
        .where(Follow.local_actor_id == local.id)
        .order_by(Follow.direction, RemoteActor.host, RemoteActor.username)
    )
    return [
        Relation(r.direction, r.state, r.uri, f"@{r.username}@{r.host}" if r.username else r.uri)
        for r in rows
    ]
