"""A group shares (Announces, FEP-1b12) an item of a group it follows with its own followers.

Each object is relayed at most once per group and never when it is ours: those two rules,
checked here for manual and automatic relays alike, are what keep two groups that follow and
relay each other from bouncing a call back and forth. The third: a post whose author's
`interactionPolicy` (GoToSocial) does not let the group boost it is never boosted, whether by
hand, by an alliance or by approving a submission; all three roads come through `announce`.
"""

from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import vocab
from federation.interaction_policy import Permission, permission
from federation.visibility import Visibility
from models.actors import ActorType, LocalActor
from models.base import utcnow
from models.content import RemoteObject
from models.follows import Direction, Follow, FollowState
from models.items import RemoteItem
from models.moderation import Ally, Relay
from models.publish import publish
from models.remote import RemoteActor
from models.uris import Uris


class NotRelayed(ValueError):
    """The object is ours, shared already, or not something this group may share."""


class ForbiddenByAuthor(NotRelayed):
    """The author's interaction policy does not let the group boost the object."""


async def relayed(session: AsyncSession, group: LocalActor, object_uri: str) -> Relay | None:
    return await session.scalar(
        select(Relay).where(Relay.group_id == group.id, Relay.object_uri == object_uri)
    )


async def announce(
    session: AsyncSession,
    uris: Uris,
    group: LocalActor,
    object_uri: str,
    *,
    automatic: bool = False,
) -> Relay:
    """The group's public Announce of the object id to its followers, recorded once."""
    if group.type != ActorType.GROUP:
        raise NotRelayed(f"@{group.username} is not a group")
    if vocab.same_origin(object_uri, uris.base_url + "/"):
        raise NotRelayed(f"{object_uri} is from this instance: it reached our followers already")
    if await relayed(session, group, object_uri) is not None:
        raise NotRelayed(f"@{group.username} has shared {object_uri} already")
    group_uri = uris.actor(group.username)
    await _check_policy(session, group, group_uri, object_uri)
    activity = {
        "@context": vocab.AS_CONTEXT,
        "id": uris.activity(uuid4().hex),
        "type": "Announce",
        "actor": group_uri,
        "object": object_uri,
        "to": [vocab.PUBLIC],
        "cc": [uris.followers(group_uri)],
        "published": utcnow().isoformat().replace("+00:00", "Z"),
    }
    row = Relay(
        group_id=group.id, object_uri=object_uri, activity_uri=activity["id"], automatic=automatic
    )
    session.add(row)
    await publish(session, group, activity, Visibility.PUBLIC, followers=True)
    await session.flush()
    return row


async def undo_announce(session: AsyncSession, uris: Uris, group: LocalActor, relay: Relay) -> None:
    """The group takes a relay back: `Undo{Announce}` (embedding the Announce by its id, as
    Mastodon matches it) to its followers, and the record goes."""
    group_uri = uris.actor(group.username)
    announce = {
        "id": relay.activity_uri,
        "type": "Announce",
        "actor": group_uri,
        "object": relay.object_uri,
    }
    activity = {
        "@context": vocab.AS_CONTEXT,
        "id": uris.activity(uuid4().hex),
        "type": "Undo",
        "actor": group_uri,
        "object": announce,
        "to": [vocab.PUBLIC],
        "cc": [uris.followers(group_uri)],
    }
    await publish(session, group, activity, Visibility.PUBLIC, followers=True)
    await session.delete(relay)
    await session.flush()


async def _check_policy(
    session: AsyncSession, group: LocalActor, group_uri: str, object_uri: str
) -> None:
    """Read the policy from the stored document (board item, else submission or other object);
    an object we hold nothing of has no policy we know, and GoToSocial's default allows."""
    stored: RemoteItem | RemoteObject | None = await session.scalar(
        select(RemoteItem).where(RemoteItem.uri == object_uri)
    )
    if stored is None:
        stored = await session.scalar(select(RemoteObject).where(RemoteObject.uri == object_uri))
    if stored is None:
        return
    author = await session.get(RemoteActor, stored.remote_actor_id)
    member_of = set()
    if author is not None and author.followers_uri and await _follows(session, group, author):
        member_of.add(author.followers_uri)
    allowed = permission(stored.document, "canAnnounce", group_uri, member_of=member_of)
    if allowed == Permission.DENIED:
        raise ForbiddenByAuthor(
            f"{object_uri}: its author's interaction policy does not let @{group.username} boost it"
        )
    if allowed == Permission.NEEDS_APPROVAL:
        raise ForbiddenByAuthor(
            f"{object_uri}: its author's interaction policy lets @{group.username} boost it "
            "only with her approval, which Ayni does not ask for"
        )


async def _follows(session: AsyncSession, group: LocalActor, remote: RemoteActor) -> bool:
    found = await session.scalar(
        select(Follow.id).where(
            Follow.local_actor_id == group.id,
            Follow.remote_actor_id == remote.id,
            Follow.direction == Direction.OUTBOUND,
            Follow.state == FollowState.ACCEPTED,
        )
    )
    return found is not None


async def relay_item(
    session: AsyncSession,
    uris: Uris,
    group: LocalActor,
    item: RemoteItem | str,
    *,
    automatic: bool = False,
) -> Relay:
    """A moderator shares a followed group's public item. Followers-only items are never shared:
    an Announce would carry them past the audience their group chose."""
    if isinstance(item, str):
        found = await session.scalar(select(RemoteItem).where(RemoteItem.uri == item))
        if found is None:
            raise LookupError(f"{item} is not on the network board (no group we follow posted it)")
        item = found
    if item.visibility != "public":
        raise NotRelayed(f"{item.uri} is for its group's followers only")
    return await announce(session, uris, group, item.uri, automatic=automatic)


async def add_ally(
    session: AsyncSession, group: LocalActor, remote: RemoteActor, category_uri: str | None = None
) -> Ally:
    """Relay the actor's items from now on (all, or one category's); the group must follow it."""
    follows = await session.scalar(
        select(Follow.id).where(
            Follow.local_actor_id == group.id,
            Follow.remote_actor_id == remote.id,
            Follow.direction == Direction.OUTBOUND,
        )
    )
    if follows is None:
        raise NotRelayed(f"@{group.username} does not follow {remote.uri}; follow it first")
    existing = await session.scalar(
        select(Ally).where(
            Ally.group_id == group.id,
            Ally.remote_actor_id == remote.id,
            Ally.category_uri.is_(None)
            if category_uri is None
            else Ally.category_uri == category_uri,
        )
    )
    if existing is not None:
        return existing
    ally = Ally(group_id=group.id, remote_actor_id=remote.id, category_uri=category_uri)
    session.add(ally)
    await session.flush()
    return ally


async def remove_ally(session: AsyncSession, group: LocalActor, remote: RemoteActor) -> int:
    rows = list(
        await session.scalars(
            select(Ally).where(Ally.group_id == group.id, Ally.remote_actor_id == remote.id)
        )
    )
    for row in rows:
        await session.delete(row)
    return len(rows)


async def auto_relay(session: AsyncSession, uris: Uris, item: RemoteItem) -> list[Relay]:
    """A newly boarded item: every group that follows (accepted) an ally that posted it, or whose
    group it belongs to, relays it, if the category matches. Never raises for what was shared."""
    if item.visibility != "public":
        return []
    ally_uris = {uri for uri in (item.group_uri,) if uri}
    author = await session.get(RemoteActor, item.remote_actor_id)
    if author is not None:
        ally_uris.add(author.uri)
    rows = await session.execute(
        select(Ally.group_id, Ally.category_uri)
        .join(RemoteActor, RemoteActor.id == Ally.remote_actor_id)
        .join(
            Follow,
            (Follow.remote_actor_id == Ally.remote_actor_id)
            & (Follow.local_actor_id == Ally.group_id),
        )
        .where(
            RemoteActor.uri.in_(ally_uris),
            Follow.direction == Direction.OUTBOUND,
            Follow.state == FollowState.ACCEPTED,
        )
    )
    group_ids = sorted(
        {gid for gid, category in rows if category is None or category == item.category_uri}
    )
    done = []
    for group_id in group_ids:
        group = await session.get(LocalActor, group_id)
        if group is None:
            continue
        try:
            done.append(await announce(session, uris, group, item.uri, automatic=True))
        except NotRelayed:
            continue
    return done
