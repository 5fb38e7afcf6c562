"""Domain functions for what other servers tell us: follows, their content, deletions, moves."""

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import alerts
from models.actors import LocalActor
from models.alerts import AlertKind
from models.base import upsert, utcnow
from models.content import RemoteObject, RemoteObjectKind, Tombstone
from models.follows import Direction, Follow, FollowState
from models.items import RemoteItem
from models.remote import RemoteActor


async def inbound_follow(
    session: AsyncSession, local: LocalActor, remote: RemoteActor
) -> Follow | None:
    return await session.scalar(
        select(Follow).where(
            Follow.local_actor_id == local.id,
            Follow.remote_actor_id == remote.id,
            Follow.direction == Direction.INBOUND,
        )
    )


async def request_follow(
    session: AsyncSession, local: LocalActor, remote: RemoteActor, activity_uri: str
) -> Follow:
    """One row per follower: a repeated Follow updates it. Held as pending when the local actor
    approves followers by hand, unless it was accepted already."""
    follow = await inbound_follow(session, local, remote)
    if follow is None:
        follow = Follow(
            direction=Direction.INBOUND, local_actor_id=local.id, remote_actor_id=remote.id
        )
        session.add(follow)
    follow.activity_uri = activity_uri
    if follow.state != FollowState.ACCEPTED:
        was = follow.state
        follow.state = (
            FollowState.PENDING if local.manually_approves_followers else FollowState.ACCEPTED
        )
        if follow.state == FollowState.PENDING and was != FollowState.PENDING:
            await alerts.for_moderators(session, local, AlertKind.FOLLOW_REQUEST)
    follow.updated_at = utcnow()
    await session.flush()
    return follow


async def _find_follow(
    session: AsyncSession,
    remote: RemoteActor,
    direction: Direction,
    activity_uri: str | None,
    local: LocalActor | None,
) -> Follow | None:
    """A follow between `remote` and us: by the Follow activity's id, else by the local actor."""
    query = select(Follow).where(Follow.remote_actor_id == remote.id, Follow.direction == direction)
    follow = None
    if activity_uri is not None:
        follow = await session.scalar(query.where(Follow.activity_uri == activity_uri))
    if follow is None and local is not None:
        follow = await session.scalar(query.where(Follow.local_actor_id == local.id))
    return follow


async def undo_inbound_follow(
    session: AsyncSession, remote: RemoteActor, activity_uri: str | None, local: LocalActor | None
) -> bool:
    """Remove the remote actor's follow, found by its Follow's id or by whom it follows."""
    follow = await _find_follow(session, remote, Direction.INBOUND, activity_uri, local)
    if follow is None:
        return False
    await session.delete(follow)
    return True


async def answer_outbound_follow(
    session: AsyncSession,
    remote: RemoteActor,
    activity_uri: str | None,
    local: LocalActor | None,
    accepted: bool,
) -> bool:
    """Record the followed actor's answer to a follow we sent; only its own follows match."""
    follow = await _find_follow(session, remote, Direction.OUTBOUND, activity_uri, local)
    if follow is None:
        return False
    follow.state = FollowState.ACCEPTED if accepted else FollowState.REJECTED
    follow.updated_at = utcnow()
    return True


async def followed_by(session: AsyncSession, remote: RemoteActor) -> list[int]:
    """The local actors that follow this remote actor (accepted follows)."""
    rows = await session.scalars(
        select(Follow.local_actor_id).where(
            Follow.remote_actor_id == remote.id,
            Follow.direction == Direction.OUTBOUND,
            Follow.state == FollowState.ACCEPTED,
        )
    )
    return list(rows)


async def remove_inbound_follow(
    session: AsyncSession, local: LocalActor, remote: RemoteActor
) -> bool:
    follow = await inbound_follow(session, local, remote)
    if follow is None:
        return False
    await session.delete(follow)
    return True


async def forget_actor(session: AsyncSession, remote: RemoteActor) -> None:
    """A deleted account: its follows (both ways) and its content go; the row stays, gone, so its
    keys are refused from now on."""
    await session.execute(delete(Follow).where(Follow.remote_actor_id == remote.id))
    await session.execute(delete(RemoteObject).where(RemoteObject.remote_actor_id == remote.id))
    await session.execute(delete(RemoteItem).where(RemoteItem.remote_actor_id == remote.id))
    remote.gone = True


async def move_followers(session: AsyncSession, old: RemoteActor, new: RemoteActor) -> int:
    """Point the old account's follows at the new one; where the new one already follows, drop
    the old."""
    follows = list(
        await session.scalars(
            select(Follow).where(
                Follow.remote_actor_id == old.id, Follow.direction == Direction.INBOUND
            )
        )
    )
    for follow in follows:
        existing = await session.scalar(
            select(Follow).where(
                Follow.remote_actor_id == new.id,
                Follow.local_actor_id == follow.local_actor_id,
                Follow.direction == Direction.INBOUND,
            )
        )
        if existing is None:
            follow.remote_actor_id = new.id
            follow.updated_at = utcnow()
        else:
            await session.delete(follow)
    await session.flush()
    return len(follows)


async def is_tombstoned(session: AsyncSession, uri: str) -> bool:
    return await session.scalar(select(Tombstone.id).where(Tombstone.uri == uri)) is not None


async def remote_object(session: AsyncSession, uri: str) -> RemoteObject | None:
    return await session.scalar(select(RemoteObject).where(RemoteObject.uri == uri))


async def store_object(
    session: AsyncSession,
    *,
    uri: str,
    type: str,
    kind: str,
    remote: RemoteActor,
    local_actor_id: int | None,
    in_reply_to_uri: str | None,
    content_html: str,
    public: bool,
    document: dict[str, Any],
    published_at: datetime | None = None,
) -> RemoteObject | None:
    """Store an object once; None when it is known already or was deleted before it arrived."""
    if await is_tombstoned(session, uri):
        return None
    row = {
        "uri": uri,
        "type": type[:64],
        "kind": kind,
        "remote_actor_id": remote.id,
        "local_actor_id": local_actor_id,
        "in_reply_to_uri": in_reply_to_uri,
        "content_html": content_html,
        "public": public,
        "document": document,
        "published_at": published_at or utcnow(),
    }
    # Another worker may be storing the same object (a reply delivered to two inboxes).
    row_id = await upsert(session, RemoteObject, row, key="uri")
    if row_id is None:
        return None
    if kind == RemoteObjectKind.SUBMISSION and local_actor_id is not None:
        group = await session.get_one(LocalActor, local_actor_id)
        await alerts.for_moderators(session, group, AlertKind.SUBMISSION)
    return await session.get_one(RemoteObject, row_id)


async def delete_object(session: AsyncSession, uri: str, actor_uri: str) -> bool:
    """Tombstone `uri` (so a late Create is ignored) and drop the stored object; True if one was."""
    existing = await remote_object(session, uri)
    if existing is not None:
        await session.delete(existing)
    await upsert(session, Tombstone, {"uri": uri, "actor_uri": actor_uri}, key="uri")
    await session.flush()
    return existing is not None
