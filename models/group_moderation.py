"""A group's moderators: per-group blocks, reports to other servers (`Flag`), the reports other
servers sent, and the public posts held because they mention the group (submissions)."""

from collections.abc import Iterable
from uuid import uuid4

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import vocab
from federation.visibility import Visibility
from models import alerts, escrow, inbound
from models.actors import ActorType, LocalActor, Membership
from models.base import utcnow
from models.calls import Commitment, CommitmentState
from models.content import RemoteObject, RemoteObjectKind
from models.items import Item, RemoteItem
from models.moderation import ActorBlock, Decision, MemberReport, Relay, Review
from models.publish import publish
from models.relays import announce
from models.remote import RemoteActor
from models.uris import Uris

MAX_LISTED = 500


def _group(group: LocalActor) -> None:
    if group.type != ActorType.GROUP:
        raise ValueError(f"@{group.username} is not a group")


async def block_actor(
    session: AsyncSession, uris: Uris, group: LocalActor, remote: RemoteActor
) -> ActorBlock:
    """From now on the actor can neither follow the group nor reply or submit to it; it stops
    following it now. No Block goes out: the actor is not told."""
    _group(group)
    row = await session.scalar(
        select(ActorBlock).where(
            ActorBlock.group_id == group.id, ActorBlock.remote_actor_id == remote.id
        )
    )
    if row is None:
        row = ActorBlock(group_id=group.id, remote_actor_id=remote.id)
        session.add(row)
    await inbound.remove_inbound_follow(session, group, remote)
    await _withdraw_commitments(session, uris, group, remote)
    await session.flush()
    return row


async def _withdraw_commitments(
    session: AsyncSession, uris: Uris, group: LocalActor, remote: RemoteActor
) -> None:
    """A blocked actor is no longer counted for the group's calls, and its ways to the meeting
    point stop working (the links answer 410, their DMs are deleted). The new count goes out
    with the periodic job: blocking is no reason to publish anything now."""
    found = list(
        await session.execute(
            select(Commitment, Item)
            .join(Item, Item.id == Commitment.item_id)
            .where(
                Item.group_id == group.id,
                Commitment.remote_actor_id == remote.id,
                Commitment.state != CommitmentState.WITHDRAWN,
            )
        )
    )
    if not found:
        return
    now = utcnow()
    for commitment, item in found:
        commitment.state, commitment.updated_at = CommitmentState.WITHDRAWN, now
        await escrow.revoke(session, uris, item, commitment, now=now)


async def unblock_actor(session: AsyncSession, group: LocalActor, remote: RemoteActor) -> bool:
    result = await session.execute(
        delete(ActorBlock).where(
            ActorBlock.group_id == group.id, ActorBlock.remote_actor_id == remote.id
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def blocked_by(session: AsyncSession, group_ids: Iterable[int], remote: RemoteActor) -> bool:
    """Does any of these groups block the actor?"""
    ids = list(dict.fromkeys(group_ids))
    if not ids:
        return False
    found = await session.scalar(
        select(ActorBlock.id)
        .where(ActorBlock.group_id.in_(ids), ActorBlock.remote_actor_id == remote.id)
        .limit(1)
    )
    return found is not None


async def blocked_actors(session: AsyncSession, group: LocalActor) -> list[RemoteActor]:
    return list(
        await session.scalars(
            select(RemoteActor)
            .join(ActorBlock, ActorBlock.remote_actor_id == RemoteActor.id)
            .where(ActorBlock.group_id == group.id)
            .order_by(ActorBlock.id)
        )
    )


# --- reports ---


async def report(
    session: AsyncSession,
    uris: Uris,
    group: LocalActor,
    remote: RemoteActor,
    object_uris: list[str],
    comment: str,
) -> dict[str, object]:
    """A `Flag` from the group to the actor's server (its shared inbox, where Mastodon takes
    reports): `object` is the actor then the reported objects, `content` the comment."""
    _group(group)
    objects = [uri for uri in dict.fromkeys(object_uris) if uri != remote.uri]
    foreign = [uri for uri in objects if not vocab.same_origin(uri, remote.uri)]
    if foreign:
        raise ValueError(f"reported objects must be on {remote.host}: {', '.join(foreign)}")
    flag = {
        "@context": vocab.AS_CONTEXT,
        "id": uris.activity(uuid4().hex),
        "type": "Flag",
        "actor": uris.actor(group.username),
        "object": [remote.uri, *objects],
        "content": comment,
    }
    activity = await publish(session, group, flag, Visibility.DIRECT, to_actors=[remote.uri])
    return activity.document


async def reports(session: AsyncSession, uris: Uris, group: LocalActor) -> list[RemoteObject]:
    """Reports other servers sent about the group, its members' items posted in it, or its items,
    that no moderator has marked resolved."""
    rows = list(
        await session.scalars(
            select(RemoteObject)
            .where(RemoteObject.kind == RemoteObjectKind.REPORT, RemoteObject.resolved_at.is_(None))
            .order_by(RemoteObject.id.desc())
            .limit(MAX_LISTED)
        )
    )
    group_uri = uris.actor(group.username)
    found = []
    for row in rows:
        targets = [uri for uri in vocab.ids_of(row.document.get("object")) if isinstance(uri, str)]
        if row.local_actor_id == group.id or group_uri in targets:
            found.append(row)
            continue
        owned = (
            await session.scalar(
                select(Item.id).where(Item.group_id == group.id, Item.uri.in_(targets)).limit(1)
            )
            if targets
            else None
        )
        if owned is not None:
            found.append(row)
    return found


async def resolve_report(
    session: AsyncSession, uris: Uris, group: LocalActor, report_id: int
) -> RemoteObject:
    """Marks a report about the group resolved; LookupError if it is not one."""
    found = next((row for row in await reports(session, uris, group) if row.id == report_id), None)
    if found is None:
        raise LookupError(f"@{group.username} has no open report {report_id}")
    found.resolved_at = utcnow()
    return found


async def report_to_moderators(
    session: AsyncSession,
    reporter: LocalActor,
    comment: str,
    *,
    item: Item | None = None,
    member: LocalActor | None = None,
    remote_item: RemoteItem | None = None,
) -> list[MemberReport]:
    """A member's report, kept here for the moderators: about an item, to its group's; about a
    member, to those of each group she belongs to; about another server's item on her board, to
    those of her groups that follow its author or group (all her groups when none does: it
    reached her some other way). Nothing goes out until a moderator passes it on."""
    if item is not None:
        group_ids = [item.group_id]
    elif member is not None:
        group_ids = await _groups_of(session, member)
    elif remote_item is not None:
        mine = await _groups_of(session, reporter)
        following = await _following(session, mine, remote_item)
        group_ids = [group_id for group_id in mine if group_id in following] or mine
    else:
        raise ValueError("a report is about an item, a member or another server's item")
    if not group_ids:
        raise LookupError("no group's moderators to report to")
    rows = [
        MemberReport(
            group_id=group_id,
            reporter_id=reporter.id,
            item_id=item.id if item is not None else None,
            member_id=member.id if member is not None else None,
            remote_item_id=remote_item.id if remote_item is not None else None,
            comment=comment,
        )
        for group_id in group_ids
    ]
    session.add_all(rows)
    await session.flush()
    for group_id in group_ids:
        group = await session.get_one(LocalActor, group_id)
        await alerts.for_moderators(session, group, alerts.AlertKind.REPORT)
    return rows


async def _groups_of(session: AsyncSession, member: LocalActor) -> list[int]:
    return list(
        await session.scalars(
            select(Membership.group_id)
            .where(Membership.member_id == member.id)
            .order_by(Membership.group_id)
        )
    )


async def _following(session: AsyncSession, group_ids: list[int], item: RemoteItem) -> set[int]:
    """Which of these groups follow the item's author or its group."""
    group = await session.scalar(select(RemoteActor).where(RemoteActor.uri == item.group_uri))
    following: set[int] = set()
    for actor in (await session.get(RemoteActor, item.remote_actor_id), group):
        if actor is not None:
            following.update(await inbound.followed_by(session, actor))
    return following & set(group_ids)


async def pass_on_report(
    session: AsyncSession, uris: Uris, group: LocalActor, report_id: int
) -> dict[str, object]:
    """A member's report about another server's item, sent there as the group's `Flag` (her
    comment, never her name), and marked resolved. LookupError if it is not such a report."""
    found = await session.get(MemberReport, report_id)
    item = await session.get(RemoteItem, found.remote_item_id) if found is not None else None
    if found is None or item is None:
        raise LookupError(f"@{group.username} has no open report {report_id} about another server")
    await resolve_member_report(session, group, report_id)
    author = await session.get_one(RemoteActor, item.remote_actor_id)
    return await report(session, uris, group, author, [item.uri], found.comment)


async def member_reports(session: AsyncSession, group: LocalActor) -> list[MemberReport]:
    """Members' reports to the group's moderators that are not resolved, oldest first."""
    return list(
        await session.scalars(
            select(MemberReport)
            .where(MemberReport.group_id == group.id, MemberReport.resolved_at.is_(None))
            .order_by(MemberReport.id)
            .limit(MAX_LISTED)
        )
    )


async def resolve_member_report(
    session: AsyncSession, group: LocalActor, report_id: int
) -> MemberReport:
    found = await session.get(MemberReport, report_id)
    if found is None or found.group_id != group.id or found.resolved_at is not None:
        raise LookupError(f"@{group.username} has no open report {report_id}")
    found.resolved_at = utcnow()
    return found


# --- submissions ---


async def submissions(
    session: AsyncSession, group: LocalActor, *, pending_only: bool = True
) -> list[RemoteObject]:
    query = (
        select(RemoteObject)
        .outerjoin(Review, Review.remote_object_id == RemoteObject.id)
        .where(
            RemoteObject.kind == RemoteObjectKind.SUBMISSION,
            RemoteObject.local_actor_id == group.id,
        )
        .order_by(RemoteObject.id)
        .limit(MAX_LISTED)
    )
    if pending_only:
        query = query.where(Review.id.is_(None))
    return list(await session.scalars(query))


async def _pending(session: AsyncSession, group: LocalActor, submission_id: int) -> RemoteObject:
    found = await session.get(RemoteObject, submission_id)
    if (
        found is None
        or found.kind != RemoteObjectKind.SUBMISSION
        or found.local_actor_id != group.id
    ):
        raise LookupError(f"@{group.username} has no submission {submission_id}")
    if (
        await session.scalar(select(Review.id).where(Review.remote_object_id == found.id))
        is not None
    ):
        raise ValueError(f"submission {submission_id} was decided already")
    return found


async def approve_submission(
    session: AsyncSession, uris: Uris, group: LocalActor, submission_id: int
) -> Relay:
    """The group Announces the post (FEP-1b12) to its followers."""
    found = await _pending(session, group, submission_id)
    session.add(Review(remote_object_id=found.id, decision=Decision.APPROVED))
    return await announce(session, uris, group, found.uri)


async def reject_submission(session: AsyncSession, group: LocalActor, submission_id: int) -> Review:
    """Recorded here; nothing goes out."""
    found = await _pending(session, group, submission_id)
    review = Review(remote_object_id=found.id, decision=Decision.REJECTED)
    session.add(review)
    await session.flush()
    return review
