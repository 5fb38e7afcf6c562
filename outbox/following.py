"""One of our groups follows an actor elsewhere (another Ayni group, for the network board)."""

from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import vocab
from models.actors import LocalActor
from models.base import utcnow
from models.follows import Direction, Follow, FollowState
from models.queue import Visibility
from models.remote import RemoteActor
from models.uris import Uris
from outbox.publish import publish


async def follow(session: AsyncSession, uris: Uris, local: LocalActor, remote: RemoteActor) -> Follow:
    """Record a pending outbound follow and publish the Follow to the remote actor; its Accept
    (inbox `on_accept`) makes it accepted. Following again re-sends the Follow."""
    row = await session.scalar(
        select(Follow).where(
            Follow.local_actor_id == local.id, Follow.remote_actor_id == remote.id,
            Follow.direction == Direction.OUTBOUND,
        )
    )
    activity_uri = uris.activity(uuid4().hex)
    if row is None:
        row = Follow(direction=Direction.OUTBOUND, local_actor_id=local.id, remote_actor_id=remote.id)
        session.add(row)
    if row.state != FollowState.ACCEPTED:
        row.state = FollowState.PENDING
    row.activity_uri, row.updated_at = activity_uri, utcnow()
    document = {
        "@context": vocab.AS_CONTEXT, "id": activity_uri, "type": "Follow",
        "actor": uris.actor(local.username), "object": remote.uri, "to": [remote.uri],
    }
    await publish(session, local, document, Visibility.DIRECT, to_actors=[remote.uri])
    await session.flush()
    return row
