"""Overflow: an open public ask or offer that nobody in its group met in time goes, with its
poster's consent, to the group's allies (`models.alliances`); an ally whose area covers it
shares it with its followers (an `Announce` of the item's id, so replies reach the origin) and,
when the origin allowed two hops, sends it on to its own allies.

Loops end on four rules: a group shares an object once (`relays`), sends it to an ally once
(`overflows`), never to a group on the path it travelled, and never beyond `MAX_HOPS`. When the
item closes, is deleted or stops being public, each group that sent it on takes back what it
sent (`Undo{Announce}` to the ally) and each ally takes back its own share, and so on down
the road.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import items as wire
from federation import vocab
from federation.itemterms import CLOSED, Kind, Status
from federation.overflow import MAX_HOPS, Route, announce
from federation.visibility import Visibility
from models import group_settings, items, relays
from models.actors import LocalActor
from models.alliances import allies, is_ally
from models.base import utcnow
from models.follows import Direction, Follow, FollowState
from models.items import Item, RemoteItem
from models.moderation import Overflow, Relay
from models.publish import publish
from models.remote import RemoteActor
from models.uris import Uris

if TYPE_CHECKING:  # models.runtime imports every table module, this one included
    from models.runtime import Runtime

DEFAULT_DELAY = timedelta(hours=24)


class NoOverflow(ValueError):
    """The item cannot overflow as asked."""


def check(kind: str, visibility: str, hops: int) -> None:
    """Only public asks and offers overflow: followers-only and members-only ones never leave
    the audience their group chose."""
    if kind not in (Kind.ASK, Kind.OFFER):
        raise NoOverflow("only asks and offers overflow to allied groups")
    if visibility != Visibility.PUBLIC:
        raise NoOverflow("only public items overflow to allied groups")
    if not 1 <= hops <= MAX_HOPS:
        raise NoOverflow(f"an item overflows 1 to {MAX_HOPS} hops")


# --- the origin ---


async def due(session: AsyncSession, runtime: "Runtime", now: datetime) -> int:
    """For the periodic job: items still open past their overflow moment go to the allies."""
    found = list(
        await session.scalars(
            select(Item)
            .where(
                Item.overflow_at <= now,
                Item.overflowed_at.is_(None),
                Item.deleted_at.is_(None),
                Item.status == Status.OPEN,
                Item.visibility == Visibility.PUBLIC,
                Item.kind.in_([Kind.ASK, Kind.OFFER]),
            )
            .order_by(Item.id)
            .limit(200)
            .with_for_update(skip_locked=True)
        )
    )
    for item in found:
        group = await session.get_one(LocalActor, item.group_id)
        route = Route(1, item.overflow_hops, (runtime.uris.actor(group.username),))
        await _send(session, runtime.uris, group, item.uri, route)
        item.overflowed_at = now
    return len(found)


async def _send(
    session: AsyncSession, uris: Uris, group: LocalActor, object_uri: str, route: Route
) -> list[str]:
    """The group's Announce of the object to each of its allies off the path, once each."""
    sent = []
    already = set(
        await session.scalars(
            select(Overflow.ally_id).where(
                Overflow.group_id == group.id, Overflow.object_uri == object_uri
            )
        )
    )
    for ally in await allies(session, group):
        if ally.uri in route.path or ally.id in already:
            continue
        activity = announce(
            id=uris.activity(uuid4().hex),
            actor=uris.actor(group.username),
            object_uri=object_uri,
            ally_uri=ally.uri,
            route=route,
            published=utcnow(),
        )
        await publish(session, group, activity, Visibility.DIRECT, to_actors=[ally.uri])
        session.add(
            Overflow(
                group_id=group.id,
                object_uri=object_uri,
                ally_id=ally.id,
                activity_uri=activity["id"],
            )
        )
        sent.append(ally.uri)
    await session.flush()
    return sent


async def item_changed(session: AsyncSession, uris: Uris, item: Item) -> None:
    """After our item closed, was deleted or narrowed: what went to allies is taken back."""
    if item.overflowed_at is None:
        return
    if item.deleted_at is None and item.status not in CLOSED and item.visibility == "public":
        return
    group = await session.get_one(LocalActor, item.group_id)
    await withdraw(session, uris, group, item.uri)


async def withdraw(session: AsyncSession, uris: Uris, group: LocalActor, object_uri: str) -> int:
    """Undo what the group sent on (to each ally) and its own share (to its followers), and
    take the item off the board unless a group here follows where it came from. How many
    Undos went out."""
    group_uri = uris.actor(group.username)
    undone = 0
    for row in list(
        await session.scalars(
            select(Overflow).where(Overflow.group_id == group.id, Overflow.object_uri == object_uri)
        )
    ):
        ally = await session.get(RemoteActor, row.ally_id)
        if ally is not None:
            undo = {
                "@context": vocab.AS_CONTEXT,
                "id": uris.activity(uuid4().hex),
                "type": "Undo",
                "actor": group_uri,
                "to": [ally.uri],
                "object": {
                    "id": row.activity_uri,
                    "type": "Announce",
                    "actor": group_uri,
                    "object": object_uri,
                },
            }
            await publish(session, group, undo, Visibility.DIRECT, to_actors=[ally.uri])
            undone += 1
        await session.delete(row)
    relay = await relays.relayed(session, group, object_uri)
    if relay is not None and relay.overflow_uri is not None:
        await relays.undo_announce(session, uris, group, relay)
        undone += 1
        await _unboard(session, object_uri)
    await session.flush()
    return undone


async def withdraw_everywhere(session: AsyncSession, uris: Uris, object_uri: str) -> int:
    """The origin closed or deleted a remote item: every group here that shared or sent it on
    through overflow takes it back."""
    group_ids = set(
        await session.scalars(
            select(Relay.group_id).where(
                Relay.object_uri == object_uri, Relay.overflow_uri.is_not(None)
            )
        )
    ) | set(
        await session.scalars(select(Overflow.group_id).where(Overflow.object_uri == object_uri))
    )
    undone = 0
    for group_id in sorted(group_ids):
        undone += await withdraw(
            session, uris, await session.get_one(LocalActor, group_id), object_uri
        )
    return undone


async def _unboard(session: AsyncSession, object_uri: str) -> None:
    row = await session.scalar(select(RemoteItem).where(RemoteItem.uri == object_uri))
    if row is None:
        return
    author = await session.get(RemoteActor, row.remote_actor_id)
    followed = await session.scalar(
        select(Follow.id)
        .join(RemoteActor, RemoteActor.id == Follow.remote_actor_id)
        .where(
            Follow.direction == Direction.OUTBOUND,
            Follow.state == FollowState.ACCEPTED,
            or_(
                Follow.remote_actor_id == row.remote_actor_id,
                RemoteActor.uri == (row.group_uri or (author.uri if author else "")),
            ),
        )
        .limit(1)
    )
    if followed is None:
        await session.delete(row)


# --- an ally ---


@dataclass(frozen=True)
class Received:
    """An overflow Announce as the inbox checked it: the sender, the route, the item (fetched
    from its origin) and its author."""

    activity_uri: str
    sender: RemoteActor
    route: Route
    value: wire.RemoteItem
    document: dict[str, Any]
    author: RemoteActor


async def receive(
    session: AsyncSession, uris: Uris, group: LocalActor, received: Received
) -> str | None:
    """Share and pass on an overflowed item; the reason when this group does not (None when
    it did)."""
    group_uri = uris.actor(group.username)
    route, value = received.route, received.value
    if not await is_ally(session, group, received.sender):
        return f"{received.sender.uri} is not an ally of @{group.username}"
    if group_uri in route.path:
        return f"@{group.username} is on the path already"
    if await relays.relayed(session, group, value.uri) is not None:
        return f"@{group.username} has shared {value.uri} already"
    area = group_settings.area_of(group)
    point = value.place.point if value.place else None
    if area is not None and not area.covers(point):
        return f"{value.uri} is outside @{group.username}'s area"
    await items.store_remote_item(session, received.author.id, value, received.document)
    try:
        relay = await relays.announce(session, uris, group, value.uri, automatic=True)
    except relays.NotRelayed as e:  # its author's policy: boarded for nothing, so unboarded
        await _unboard(session, value.uri)
        return str(e)
    relay.overflow_uri = received.activity_uri
    onward = route.onward(group_uri)
    if onward is not None:
        await _send(session, uris, group, value.uri, onward)
    await session.flush()
    return None


async def undone(session: AsyncSession, uris: Uris, sender_uri: str, announce_uri: str) -> int:
    """An ally took back an overflow Announce it sent: each group here that shared the item
    because of it takes it back too."""
    if not vocab.same_origin(announce_uri, sender_uri):
        return 0
    rows = list(await session.scalars(select(Relay).where(Relay.overflow_uri == announce_uri)))
    total = 0
    for relay in rows:
        group = await session.get_one(LocalActor, relay.group_id)
        total += await withdraw(session, uris, group, relay.object_uri)
    return total


def delay(item: Item) -> timedelta | None:
    """The delay the poster chose, for editing the item (`posting.draft_of`)."""
    return None if item.overflow_at is None else item.overflow_at - item.created_at
