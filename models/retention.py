"""Retention: an item closed (or deleted) longer ago than its group keeps things is forgotten
here for good, and every server it reached is asked to forget it too.

What goes: the item, its responses (members' answers, remote replies and private messages, poll
votes), commitments, escrow links and views, the sealed meeting point, notices, the intake note,
and the text of every activity we published about it (the rows stay, as stubs, for the delivery
bookkeeping). What stays: a tombstone of its uri, so the uri answers 410.

Who is asked: every inbox an activity about it was delivered to, the speaker's (and its group's)
followers now, and the remote people who replied, messaged, voted or joined, by a direct
`Delete`. A `Delete` is a request: another server may not honour it, and the pages say so.

Remote items on the network board and remote responses to items already forgotten go on the
same schedule; a remote item one of our groups relayed gets its `Undo{Announce}`. A group's
conversations (`models.conversations`) go once quiet longer than its retention and read: the
messages received, the text of the answers, and the person is asked to delete our answers.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import items as wire
from federation import vocab
from federation.itemterms import CLOSED, Kind
from federation.visibility import Visibility
from models.actors import ActorType, LocalActor
from models.base import upsert
from models.calls import Commitment
from models.content import RemoteObject, RemoteObjectKind, Tombstone
from models.conversations import Conversation, forget
from models.follows import Direction, Follow
from models.items import Item, ItemResponse, RemoteItem
from models.moderation import Relay
from models.publish import pass_on, publish
from models.queue import Activity, Delivery
from models.relays import undo_announce
from models.remote import RemoteActor
from models.runtime import Runtime
from models.uris import Uris

DEFAULT_DAYS = 30  # `LocalActor.retention_days`'s default: for what no group of ours follows
BATCH = 200  # items per kind per run; the next run takes the rest
RESPONSE_KINDS = (RemoteObjectKind.RESPONSE, RemoteObjectKind.PRIVATE)


def kept_for(days: int) -> timedelta:
    return timedelta(days=days)


async def forget_due(
    session: AsyncSession, runtime: Runtime, now: datetime, *, dry_run: bool = False
) -> list[str]:
    """Forget what is due; a line per thing deleted (with `dry_run`, that would be deleted)."""
    verb = "would delete" if dry_run else "deleted"
    lines = []
    for item in await due_items(session, now):
        lines.append(f"{verb} {await _describe(session, item)}")
        if not dry_run:
            await forget_item(session, runtime.uris, item, now)
    for remote_item in await due_remote_items(session, now):
        lines.append(f"{verb} network board {remote_item.kind} {remote_item.uri}")
        if not dry_run:
            await forget_remote_item(session, runtime.uris, remote_item)
    for response in await due_responses(session, runtime.uris, now):
        lines.append(f"{verb} remote {response.kind} {response.uri} (its item is gone)")
        if not dry_run:
            await session.delete(response)
    for conversation in await due_conversations(session, now):
        lines.append(f"{verb} conversation {conversation.id} (group {conversation.group_id})")
        if not dry_run:
            await forget(session, runtime.uris, conversation)
    if not dry_run:
        await session.flush()
    return lines


# --- what is due ---


async def due_items(session: AsyncSession, now: datetime) -> list[Item]:
    """Our items closed, or deleted, longer ago than their group's retention."""
    groups = await session.execute(
        select(LocalActor.id, LocalActor.retention_days).where(LocalActor.type == ActorType.GROUP)
    )
    closed_at = func.coalesce(Item.updated_at, Item.created_at)
    found: list[Item] = []
    for group_id, days in groups.all():
        cutoff = now - kept_for(days)
        found += await session.scalars(
            select(Item)
            .where(
                Item.group_id == group_id,
                or_(
                    and_(Item.status.in_(list(CLOSED)), closed_at < cutoff),
                    Item.deleted_at < cutoff,
                ),
            )
            .order_by(Item.id)
            .limit(BATCH)
        )
    return found


async def due_remote_items(session: AsyncSession, now: datetime) -> list[RemoteItem]:
    """Closed board items, kept as long as the shortest retention of our groups that follow
    their author or their group."""
    candidates = list(
        await session.scalars(
            select(RemoteItem)
            .where(RemoteItem.status.in_(list(CLOSED)))
            .order_by(RemoteItem.id)
            .limit(BATCH * 5)
        )
    )
    due = []
    for item in candidates:
        days = await _remote_retention(session, item)
        closed_at = item.updated_at or item.received_at
        if closed_at < now - kept_for(days):
            due.append(item)
    return due[:BATCH]


async def _remote_retention(session: AsyncSession, item: RemoteItem) -> int:
    followed = select(RemoteActor.id).where(RemoteActor.uri == item.group_uri)
    days = await session.scalar(
        select(func.min(LocalActor.retention_days))
        .join(Follow, Follow.local_actor_id == LocalActor.id)
        .where(
            Follow.direction == Direction.OUTBOUND,
            or_(
                Follow.remote_actor_id == item.remote_actor_id,
                Follow.remote_actor_id.in_(followed.scalar_subquery()),
            ),
        )
    )
    return DEFAULT_DAYS if days is None else int(days)


async def due_responses(session: AsyncSession, uris: Uris, now: datetime) -> list[RemoteObject]:
    """Remote replies and messages about items of ours already forgotten (they came late, or
    were never linked), once older than the retention of the group they were sent to."""
    ours = select(Tombstone.uri).where(Tombstone.uri.startswith(uris.item("")))
    rows = await session.execute(
        select(RemoteObject, LocalActor.retention_days)
        .outerjoin(LocalActor, LocalActor.id == RemoteObject.local_actor_id)
        .where(
            RemoteObject.kind.in_(list(RESPONSE_KINDS)),
            RemoteObject.in_reply_to_uri.in_(ours.scalar_subquery()),
        )
        .order_by(RemoteObject.id)
        .limit(BATCH)
    )
    return [
        remote_object
        for remote_object, days in rows.all()
        if remote_object.published_at < now - kept_for(DEFAULT_DAYS if days is None else days)
    ]


async def due_conversations(session: AsyncSession, now: datetime) -> list[Conversation]:
    """Conversations quiet longer than their group's retention, whose last message a moderator
    has seen: one nobody has read yet waits for them, as an open item waits."""
    rows = await session.execute(
        select(Conversation, LocalActor.retention_days)
        .join(LocalActor, LocalActor.id == Conversation.group_id)
        .where(
            Conversation.read_at.is_not(None),
            Conversation.read_at >= Conversation.last_received_at,
        )
        .order_by(Conversation.last_message_at, Conversation.id)
        .limit(BATCH)
    )
    return [
        conversation
        for conversation, days in rows.all()
        if conversation.last_message_at < now - kept_for(days)
    ]


async def _describe(session: AsyncSession, item: Item) -> str:
    responses = await session.scalar(
        select(func.count()).select_from(ItemResponse).where(ItemResponse.item_id == item.id)
    )
    committed = await session.scalar(
        select(func.count()).select_from(Commitment).where(Commitment.item_id == item.id)
    )
    state = "deleted" if item.deleted_at else item.status
    return (
        f"{item.kind} {item.uri} ({state}): {item.title!r}, "
        f"{responses or 0} responses, {committed or 0} commitments"
    )


# --- forgetting one of ours ---


@dataclass(frozen=True)
class Reached:
    """Where an item went: the inboxes of everything we sent about it, and the remote people
    who answered it."""

    inboxes: list[str]
    people: list[str]
    remote_objects: list[int]


async def forget_item(session: AsyncSession, uris: Uris, item: Item, now: datetime) -> None:
    group = await session.get_one(LocalActor, item.group_id)
    speaker = group if item.as_group else await session.get_one(LocalActor, item.author_id)
    activities = await _activities_about(session, item, [group.id, speaker.id])
    reached = await _reached(session, item, activities)
    if item.visibility != Visibility.MEMBERS:
        await _ask_to_delete(session, uris, item, speaker, group, activities, reached, now)
    for activity in activities:
        activity.document = _stub(activity.document)
    if reached.remote_objects:
        gone = RemoteObject.id.in_(reached.remote_objects)
        await session.execute(delete(RemoteObject).where(gone))
    await upsert(
        session,
        Tombstone,
        {"uri": item.uri, "actor_uri": uris.actor(speaker.username), "deleted_at": now},
        key="uri",
    )
    await session.delete(item)  # the rest goes with it: every table names it ON DELETE CASCADE
    await session.flush()


async def _activities_about(
    session: AsyncSession, item: Item, actor_ids: list[int]
) -> list[Activity]:
    """Our activities about the item or its poll, and the notes we sent in reply to them (a
    short call's reminder, the DMs asking allies to relay it)."""
    about = {item.uri, item.poll_uri}
    direct = list(
        await session.scalars(
            select(Activity).where(Activity.object_uri.in_(about)).order_by(Activity.id)
        )
    )
    later = await session.scalars(
        select(Activity)
        .where(
            Activity.type == "Create",
            Activity.actor_id.in_(actor_ids),
            Activity.created_at >= item.created_at,
            Activity.object_uri.not_in(about),
        )
        .order_by(Activity.id)
    )
    replies = [
        activity
        for activity in later
        if isinstance(embedded := activity.document.get("object"), dict)
        and embedded.get("inReplyTo") in about
    ]
    return [*direct, *replies]


async def _reached(session: AsyncSession, item: Item, activities: list[Activity]) -> Reached:
    inboxes = []
    if activities:
        inboxes = list(
            await session.scalars(
                select(Delivery.inbox_uri)
                .where(Delivery.activity_id.in_([a.id for a in activities]))
                .distinct()
                .order_by(Delivery.inbox_uri)
            )
        )
    via = select(Commitment.via_uri).where(
        Commitment.item_id == item.id, Commitment.via_uri.is_not(None)
    )
    linked = select(ItemResponse.remote_object_id).where(ItemResponse.item_id == item.id)
    remote_objects = await session.execute(
        select(RemoteObject.id, RemoteObject.remote_actor_id).where(
            or_(
                RemoteObject.id.in_(linked.scalar_subquery()),
                RemoteObject.in_reply_to_uri.in_([item.uri, item.poll_uri]),
                RemoteObject.uri.in_(via.scalar_subquery()),
            )
        )
    )
    ids, actor_ids = set(), set()
    for object_id, actor_id in remote_objects.all():
        ids.add(object_id)
        actor_ids.add(actor_id)
    actor_ids |= {
        actor_id
        for actor_id in await session.scalars(
            select(Commitment.remote_actor_id).where(
                Commitment.item_id == item.id, Commitment.remote_actor_id.is_not(None)
            )
        )
        if actor_id is not None
    }
    people = list(
        await session.scalars(
            select(RemoteActor.uri)
            .where(RemoteActor.id.in_(actor_ids), RemoteActor.gone.is_(False))
            .order_by(RemoteActor.uri)
        )
    )
    return Reached(inboxes, people, sorted(ids))


async def _ask_to_delete(
    session: AsyncSession,
    uris: Uris,
    item: Item,
    speaker: LocalActor,
    group: LocalActor,
    activities: list[Activity],
    reached: Reached,
    now: datetime,
) -> None:
    """A `Delete{Tombstone}` of the item from its speaker to its followers (and, for a member's
    item, the group's) and every inbox it reached; the same to the people who answered, as a
    direct message; and of every note and poll we sent about it, from whoever sent them."""
    visibility = Visibility(item.visibility)
    group_uri = uris.actor(group.username)
    followers = uris.followers(group_uri)
    to = [vocab.PUBLIC] if visibility == Visibility.PUBLIC else [followers]
    cc = ([followers] if visibility == Visibility.PUBLIC else []) + [group_uri]
    others = [] if speaker is group else [group]
    delete_activity = _delete(uris, speaker, item.uri, now, to=to, cc=cc)
    deleted = await publish(
        session,
        speaker,
        delete_activity,
        visibility,
        followers=True,
        followers_of=others,
        to_inboxes=reached.inboxes,
    )
    await pass_on(session, uris, group, deleted, to_inboxes=reached.inboxes)
    if reached.people:
        await publish(
            session,
            speaker,
            _delete(uris, speaker, item.uri, now, to=reached.people, cc=[]),
            Visibility.DIRECT,
            to_actors=reached.people,
        )
    if item.kind == Kind.CALL and item.starts_at is not None:
        await publish(
            session,
            group,
            _delete(uris, group, item.poll_uri, now, to=to, cc=[c for c in cc if c != group_uri]),
            visibility,
            followers=True,
            to_inboxes=reached.inboxes,
        )
    for activity in activities:
        note = activity.document.get("object")
        if activity.object_uri in (item.uri, item.poll_uri) or not isinstance(note, dict):
            continue
        sender = await session.get_one(LocalActor, activity.actor_id)
        audience = activity.audience or {}
        await publish(
            session,
            sender,
            _delete(
                uris,
                sender,
                str(note.get("id")),
                now,
                to=list(activity.document.get("to") or []),
                cc=list(activity.document.get("cc") or []),
            ),
            Visibility(activity.visibility),
            followers=bool(audience.get("followers")),
            to_actors=list(audience.get("actors") or []),
            to_inboxes=reached.inboxes,
        )


def _delete(
    uris: Uris, actor: LocalActor, object_uri: str, now: datetime, *, to: list[str], cc: list[str]
) -> dict[str, Any]:
    tombstone = wire.item_tombstone(object_uri, now)
    tombstone.pop("@context")
    return {
        "@context": vocab.AS_CONTEXT,
        "id": uris.activity(uuid4().hex),
        "type": "Delete",
        "actor": uris.actor(actor.username),
        "to": to,
        "cc": cc,
        "object": tombstone,
    }


def _stub(document: dict[str, Any]) -> dict[str, Any]:
    """What delivery bookkeeping needs of an activity, and nothing of what it said."""
    return {
        "@context": vocab.AS_CONTEXT,
        "id": document.get("id"),
        "type": document.get("type"),
        "actor": document.get("actor"),
        "object": vocab.id_of(document.get("object")),
    }


# --- forgetting a remote item ---


async def forget_remote_item(session: AsyncSession, uris: Uris, item: RemoteItem) -> None:
    """Off the board; a group of ours that relayed it takes its Announce back."""
    relays = await session.scalars(select(Relay).where(Relay.object_uri == item.uri))
    for relay in relays:
        group = await session.get_one(LocalActor, relay.group_id)
        await undo_announce(session, uris, group, relay)
    await session.delete(item)
