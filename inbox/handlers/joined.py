"""The other side of a join: calls on other servers our members said they are coming to
(`models.calls.OutgoingJoin`). The call's group answers our Join (Accept or Reject), and sends
the member where to meet in a direct message, which becomes a notice for her.

Only the call's own actor (the group that posted it, or its author) is listened to: anyone else
answering our Join, or writing about the call, changes nothing."""

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import vocab
from inbox.handlers.context import Ignored
from models import notices
from models.actors import ActorType, LocalActor
from models.calls import OutgoingJoin
from models.content import RemoteObject
from models.items import RemoteItem
from models.notices import NoticeKind
from models.remote import RemoteActor

_MAX_NAMED = 20


def _by(remote: RemoteActor) -> Any:
    """The remote item is the sender's: posted by it, or in its group."""
    return or_(RemoteItem.remote_actor_id == remote.id, RemoteItem.group_uri == remote.uri)


async def outgoing_join(session: AsyncSession, join_uri: str | None) -> OutgoingJoin | None:
    if join_uri is None:
        return None
    return await session.scalar(select(OutgoingJoin).where(OutgoingJoin.join_uri == join_uri))


async def answered(
    session: AsyncSession, remote: RemoteActor, join: OutgoingJoin, accepted: bool
) -> None:
    """The call's group accepted or rejected our Join."""
    owner = await session.scalar(
        select(RemoteItem.id).where(RemoteItem.id == join.remote_item_id, _by(remote))
    )
    if owner is None:
        raise Ignored(f"{remote.uri} answered a Join to a call that is not its own")
    if join.state == "withdrawn":
        raise Ignored("an answer to a Join taken back since")
    join.state = "accepted" if accepted else "rejected"
    await session.flush()


async def on_message(
    session: AsyncSession,
    remote: RemoteActor,
    local: LocalActor | None,
    stored: RemoteObject,
    obj: dict[str, Any],
) -> int:
    """A direct message from a call's group to the member who joined it (about the call), or to
    her group in reply to the Join it sent for her: a notice for her. How many were added."""
    if local is None:
        return 0
    query = (
        select(OutgoingJoin, RemoteItem.uri)
        .join(RemoteItem, RemoteItem.id == OutgoingJoin.remote_item_id)
        .where(_by(remote), OutgoingJoin.state != "withdrawn")
    )
    found: list[OutgoingJoin] = []
    if stored.in_reply_to_uri is not None:
        # Anonymous: the group joined for her, and the answer replies to that Join.
        found += [
            join
            for join, _ in await session.execute(
                query.where(OutgoingJoin.join_uri == stored.in_reply_to_uri)
            )
        ]
    if not found and local.type != ActorType.GROUP:
        named = _named(obj)
        found += [
            join
            for join, uri in await session.execute(query.where(OutgoingJoin.member_id == local.id))
            if uri in named or uri in stored.content_html
        ]
    for join in found:
        await notices.notify(
            session,
            [join.member_id],
            NoticeKind.MEETING_POINT,
            remote_item_id=join.remote_item_id,
            remote_object_id=stored.id,
        )
    return len(found)


def _named(obj: dict[str, Any]) -> set[str]:
    found = [vocab.id_of(obj.get("inReplyTo"))]
    found += [
        vocab.id_of(tag) or tag.get("href")
        for tag in vocab.as_list(obj.get("tag"))[:_MAX_NAMED]
        if isinstance(tag, dict)
    ]
    return {uri for uri in found if isinstance(uri, str)}
