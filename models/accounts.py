"""A member's own data: everything the instance holds about her (`export`), and leaving for good
(`delete_account`).

Leaving keeps one thing: a "gone" actor row (type `Tombstone`) with her handle and her key and
nothing else. The `Delete`s of her items and of her actor are stored as activities of that row,
because a delivery is signed, at send time, with the key of the activity's actor (the worker
joins `activities.actor_id` to `local_actors`); without the row they would be lost with her, and
other servers would not believe an unsigned goodbye. The row also makes her actor uri answer 410
and holds her handle, which `RetiredName` keeps from ever being given to anyone else.

Everything else of hers goes with her own row, by the database's `ON DELETE CASCADE`:
memberships, sessions, responses, commitments, notices, joins, follows, her activities. What she
posted as the group stays with the group, its author then the group itself.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from federation import vocab
from federation.visibility import Visibility
from models import escrow, mail, posting
from models.actors import ActorKey, ActorType, LocalActor, Membership, RetiredName, Role
from models.base import upsert, utcnow
from models.calls import Commitment, OutgoingJoin
from models.content import Tombstone
from models.escrow import Seal
from models.follows import Direction, Follow, FollowState
from models.items import POLL, Category, Item, ItemResponse, RemoteItem
from models.member_sessions import MemberSession
from models.notices import Notice
from models.publish import publish
from models.push import PushSubscription
from models.queue import Activity
from models.remote import RemoteActor
from models.uris import Uris


class LastAdmin(ValueError):
    """Leaving would leave groups (none named: the instance) with nobody to run them."""

    def __init__(self, message: str, groups: list[str]) -> None:
        super().__init__(message)
        self.groups = groups


@dataclass(frozen=True)
class Deleted:
    username: str
    items_deleted: int
    items_kept: int  # posted as the group: they stay with it


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def export(
    session: AsyncSession, uris: Uris, member: LocalActor, seal: Seal | None = None
) -> dict[str, Any]:
    """Everything the instance holds about `member`, as JSON values. Meeting points she wrote
    are decrypted when `seal` is given. A note of an ask posted for someone without an account
    is that person's, not hers, and is left out."""
    memberships = await session.execute(
        select(Membership, LocalActor)
        .join(LocalActor, LocalActor.id == Membership.group_id)
        .where(Membership.member_id == member.id)
        .order_by(Membership.id)
    )
    return {
        "profile": {
            "username": member.username,
            "handle": f"@{member.username}@{uris.host}",
            "actor": uris.actor(member.username),
            "name": member.name,
            "summary": member.summary,
            "instance_admin": member.is_admin,
            "created_at": _when(member.created_at),
            "notifications_seen_at": _when(member.notifications_seen_at),
        },
        "memberships": [
            {
                "group": group.username,
                "group_name": group.name,
                "role": membership.role,
                "since": _when(membership.created_at),
            }
            for membership, group in memberships
        ],
        "items": await _items(session, member, seal),
        "responses": [
            {
                "item": item.uri,
                "title": item.title,
                "kind": response.kind,
                "message": response.message,
                "withdrawn_at": _when(response.withdrawn_at),
                "at": _when(response.created_at),
            }
            for response, item in await session.execute(
                select(ItemResponse, Item)
                .join(Item, Item.id == ItemResponse.item_id)
                .where(ItemResponse.member_id == member.id)
                .order_by(ItemResponse.id)
            )
        ],
        "commitments": [
            {
                "item": item.uri,
                "title": item.title,
                "state": commitment.state,
                "channel": commitment.channel,
                "created_at": _when(commitment.created_at),
                "updated_at": _when(commitment.updated_at),
            }
            for commitment, item in await session.execute(
                select(Commitment, Item)
                .join(Item, Item.id == Commitment.item_id)
                .where(Commitment.member_id == member.id)
                .order_by(Commitment.id)
            )
        ],
        "email": _email(await mail.address_of(session, member)),
        # Which push service each browser uses, not its address or keys: they would let whoever
        # holds the file send to it.
        "push_subscriptions": [
            {"push_service": urlsplit(row.endpoint).hostname, "created_at": _when(row.created_at)}
            for row in await session.scalars(
                select(PushSubscription)
                .where(PushSubscription.member_id == member.id)
                .order_by(PushSubscription.id)
            )
        ],
        "sessions": [
            {"created_at": _when(row.created_at), "last_seen_at": _when(row.last_seen_at)}
            for row in await session.scalars(
                select(MemberSession)
                .where(MemberSession.member_id == member.id)
                .order_by(MemberSession.id)
            )
        ],
        "notices": [
            {
                "kind": notice.kind,
                "item": item_uri,
                "remote_item": remote_uri,
                "at": _when(notice.created_at),
            }
            for notice, item_uri, remote_uri in await session.execute(
                select(Notice, Item.uri, RemoteItem.uri)
                .outerjoin(Item, Item.id == Notice.item_id)
                .outerjoin(RemoteItem, RemoteItem.id == Notice.remote_item_id)
                .where(Notice.member_id == member.id)
                .order_by(Notice.id)
            )
        ],
        "joins": [
            {
                "call": remote.uri,
                "title": remote.title,
                "join": join.join_uri,
                "anonymous": join.anonymous,
                "state": join.state,
                "at": _when(join.created_at),
            }
            for join, remote in await session.execute(
                select(OutgoingJoin, RemoteItem)
                .join(RemoteItem, RemoteItem.id == OutgoingJoin.remote_item_id)
                .where(OutgoingJoin.member_id == member.id)
                .order_by(OutgoingJoin.id)
            )
        ],
    }


async def _items(
    session: AsyncSession, member: LocalActor, seal: Seal | None
) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Item, LocalActor.username, Category.slug)
        .join(LocalActor, LocalActor.id == Item.group_id)
        .join(Category, Category.id == Item.category_id)
        .where(Item.author_id == member.id)
        .order_by(Item.id)
    )
    found = []
    for item, group, category in rows:
        meeting_point = await escrow.meeting_point(session, seal, item) if seal else None
        found.append(
            {
                "uri": item.uri,
                "group": group,
                "as_group": item.as_group,
                "kind": item.kind,
                "title": item.title,
                "body_markdown": item.body_markdown,
                "category": category,
                "status": item.status,
                "visibility": item.visibility,
                "quantity": item.quantity,
                "place": item.place_name,
                "latitude": item.latitude,
                "longitude": item.longitude,
                "radius_m": item.radius_m if item.place_name else None,
                "needed_by": _when(item.needed_by),
                "starts_at": _when(item.starts_at),
                "ends_at": _when(item.ends_at),
                "timezone": item.timezone,
                "people_wanted": item.people_wanted,
                "capacity": item.capacity,
                "meeting_point": meeting_point,
                "created_at": _when(item.created_at),
                "updated_at": _when(item.updated_at),
                "deleted_at": _when(item.deleted_at),
            }
        )
    return found


# --- leaving ---


async def check_may_leave(session: AsyncSession, member: LocalActor) -> None:
    """Refuses (LastAdmin) while a group she is admin of has no other admin, or while she is
    the instance's only admin."""
    if member.is_admin:
        others = await session.scalar(
            select(func.count())
            .select_from(LocalActor)
            .where(
                LocalActor.type == ActorType.PERSON,
                LocalActor.is_admin.is_(True),
                LocalActor.id != member.id,
            )
        )
        if not others:
            raise LastAdmin(
                f"@{member.username} is the instance's only admin: make someone else an admin "
                "first",
                [],
            )
    other = aliased(Membership)
    others_admin = (
        select(other.id)
        .where(
            other.group_id == Membership.group_id,
            other.role == Role.ADMIN,
            other.member_id != member.id,
        )
        .exists()
    )
    alone = list(
        await session.scalars(
            select(LocalActor.username)
            .join(Membership, Membership.group_id == LocalActor.id)
            .where(Membership.member_id == member.id, Membership.role == Role.ADMIN, ~others_admin)
            .order_by(LocalActor.username)
        )
    )
    if alone:
        groups = ", ".join(f"@{name}" for name in alone)
        raise LastAdmin(
            f"@{member.username} is the last admin of {groups}: make someone else its admin first",
            alone,
        )


async def _followers(session: AsyncSession, member: LocalActor) -> list[str]:
    return list(
        await session.scalars(
            select(RemoteActor.uri)
            .join(Follow, Follow.remote_actor_id == RemoteActor.id)
            .where(
                Follow.local_actor_id == member.id,
                Follow.direction == Direction.INBOUND,
                Follow.state == FollowState.ACCEPTED,
                RemoteActor.gone.is_(False),
            )
            .order_by(RemoteActor.id)
        )
    )


def _email(row: mail.MemberEmail | None) -> dict[str, str | None] | None:
    if row is None:
        return None
    return {
        "address": row.address,
        "confirmed_at": _when(row.confirmed_at),
        "unsubscribed_at": _when(row.unsubscribed_at),
    }


async def delete_account(session: AsyncSession, uris: Uris, member: LocalActor) -> Deleted:
    """Delete her account, in the caller's transaction (see the module's docstring). Refuses
    with LastAdmin first. Her own items and her actor are deleted with federated `Delete`s: to
    her followers and to the followers of her groups, which showed her items (and so her actor)
    to their servers."""
    if member.type != ActorType.PERSON:
        raise ValueError(f"{member.username!r} is not a member")
    await check_may_leave(session, member)
    username, now = member.username, utcnow()
    followers = await _followers(session, member)
    groups = list(
        await session.scalars(
            select(LocalActor)
            .join(Membership, Membership.group_id == LocalActor.id)
            .where(Membership.member_id == member.id)
            .order_by(LocalActor.id)
        )
    )
    # Her row steps aside; the gone row takes her handle and her key, to sign the goodbyes.
    key = member.key
    member.username = f"deleting-{member.id}"  # not a valid name: no clash possible
    await session.flush()
    gone = LocalActor(username=username, type=ActorType.GONE, name="", summary="", created_at=now)
    gone.key = ActorKey(private_key_pem=key.private_key_pem, public_key_pem=key.public_key_pem)
    session.add(gone)
    await session.flush()

    kept = await session.execute(
        update(Item)
        .where(Item.author_id == member.id, Item.as_group.is_(True))
        .values(author_id=Item.group_id)
    )
    own = list(
        await session.scalars(select(Item).where(Item.author_id == member.id).order_by(Item.id))
    )
    for item in own:
        item.author_id = gone.id
    await session.flush()
    for item in own:
        await posting.delete_item(session, uris, item, now=now, also_to=followers)
    await session.flush()
    if own:
        item_uris = [item.uri for item in own]
        await session.execute(
            delete(Activity).where(
                or_(
                    Activity.object_uri.in_(item_uris),
                    Activity.object_uri.in_([uri + POLL for uri in item_uris]),
                ),
                Activity.type != "Delete",
            )
        )
        await session.execute(delete(Item).where(Item.id.in_([item.id for item in own])))
        for uri in item_uris:  # as retention leaves them: the uri answers 410
            row = {"uri": uri, "actor_uri": uris.actor(username), "deleted_at": now}
            await upsert(session, Tombstone, row, key="uri")

    actor_uri = uris.actor(username)
    goodbye = {
        "@context": vocab.AS_CONTEXT,
        "id": uris.activity(uuid4().hex),
        "type": "Delete",
        "actor": actor_uri,
        "object": actor_uri,
        "to": [vocab.PUBLIC],
    }
    await publish(
        session, gone, goodbye, Visibility.PUBLIC, to_actors=followers, followers_of=groups
    )
    session.add(RetiredName(username=username, retired_at=now))
    await session.flush()
    await session.execute(delete(LocalActor).where(LocalActor.id == member.id))
    return Deleted(username, len(own), int(kept.rowcount or 0))  # type: ignore[attr-defined]
