"""The answer to a follow request: Accept or Reject, from the followed actor, embedding the
original Follow with its id (Mastodon matches on it). Sent at once by the inbox when the actor
takes followers freely, or later by a moderator for a request held for approval."""

from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.visibility import Visibility
from federation.vocab import AS_CONTEXT
from models.actors import LocalActor
from models.base import utcnow
from models.follows import Direction, Follow, FollowState
from models.publish import publish
from models.remote import RemoteActor
from models.runtime import Runtime


async def pending_requests(
    session: AsyncSession, local: LocalActor
) -> list[tuple[Follow, RemoteActor]]:
    rows = await session.execute(
        select(Follow, RemoteActor)
        .join(RemoteActor, RemoteActor.id == Follow.remote_actor_id)
        .where(
            Follow.local_actor_id == local.id,
            Follow.direction == Direction.INBOUND,
            Follow.state == FollowState.PENDING,
        )
        .order_by(Follow.id)
    )
    return [(row[0], row[1]) for row in rows]


async def decide(runtime: Runtime, session: AsyncSession, follow: Follow, accept: bool) -> None:
    """Inside the caller's transaction: the state changes and the answer is published together."""
    if follow.direction != Direction.INBOUND or follow.state != FollowState.PENDING:
        raise ValueError("only a pending follow request can be approved or refused")
    local = await session.get(LocalActor, follow.local_actor_id)
    remote = await session.get(RemoteActor, follow.remote_actor_id)
    if local is None or remote is None:
        raise LookupError("the follow request names an actor that no longer exists")
    follow.state = FollowState.ACCEPTED if accept else FollowState.REJECTED
    follow.updated_at = utcnow()
    await answer_follow(
        runtime, session, local, remote, follow.activity_uri, "Accept" if accept else "Reject"
    )


async def answer_follow(
    runtime: Runtime,
    session: AsyncSession,
    local: LocalActor,
    remote: RemoteActor,
    follow_uri: str,
    answer: str,
) -> None:
    """Accept or Reject from the followed actor, embedding the Follow with its id (Mastodon
    matches the Follow by id), addressed to the follower only."""
    local_uri = runtime.actor_uri(local)
    document = {
        "@context": AS_CONTEXT,
        "id": runtime.uris.activity(uuid4().hex),
        "type": answer,
        "actor": local_uri,
        "object": {"id": follow_uri, "type": "Follow", "actor": remote.uri, "object": local_uri},
        "to": [remote.uri],
    }
    await publish(session, local, document, Visibility.DIRECT, to_actors=[remote.uri])
