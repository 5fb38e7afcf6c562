"""A member here says she is coming to another server's call: we send `Join{object: call}` for
her, as herself or (to stay anonymous) as one of her groups, and `Undo{Join}` from the same
actor when she takes it back. One join per member per call.

The Join is a direct activity, addressed only to the call's group (or, when the call names no
group, its author): who is coming is never public. What comes back (`Accept`, `Reject`, the DM
with the meeting-point link) is the inbox's.
"""

from typing import Any
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import vocab
from federation.itemterms import Kind, Status
from federation.visibility import Visibility
from models.actors import ActorType, LocalActor, role_in
from models.calls import OutgoingJoin
from models.items import RemoteItem
from models.posting import NotAllowed
from models.publish import publish
from models.queue import Activity
from models.remote import RemoteActor
from models.runtime import Runtime

PENDING, WITHDRAWN = "pending", "withdrawn"


# Mobilizon's `joinMode`: "free" and "restricted" (the organiser accepts each Join) take a Join;
# "invite" (by the organisers' invitation only) and "external" (registration elsewhere) do not.
NOT_BY_JOIN = ("invite", "external")


def joinable(remote_item: RemoteItem) -> bool:
    return (
        remote_item.kind == Kind.CALL
        and remote_item.status == Status.SCHEDULED
        and remote_item.document.get("joinMode") not in NOT_BY_JOIN
    )


async def find(
    session: AsyncSession, member: LocalActor, remote_item: RemoteItem
) -> OutgoingJoin | None:
    return await session.scalar(
        select(OutgoingJoin).where(
            OutgoingJoin.member_id == member.id, OutgoingJoin.remote_item_id == remote_item.id
        )
    )


async def _addressee(session: AsyncSession, remote_item: RemoteItem) -> str:
    if remote_item.group_uri:
        return remote_item.group_uri
    author = await session.get(RemoteActor, remote_item.remote_actor_id)
    assert author is not None
    return author.uri


async def join_remote_call(
    session: AsyncSession,
    runtime: Runtime,
    member: LocalActor,
    remote_item: RemoteItem,
    *,
    group: LocalActor | None = None,
) -> OutgoingJoin:
    """Publish her Join (from her actor, or from `group`, one of her groups, when she stays
    anonymous). Already joined: the join as it is, nothing sent again. Raises ValueError for
    anything but a scheduled call, NotAllowed for a group she is not a member of."""
    if not joinable(remote_item):
        raise ValueError("only a scheduled call can be joined")
    if group is not None and (
        group.type != ActorType.GROUP or await role_in(session, group, member) is None
    ):
        raise NotAllowed(f"@{member.username} is not a member of that group")
    row = await find(session, member, remote_item)
    if row is not None and row.state != WITHDRAWN:
        return row
    speaker = group or member
    to = await _addressee(session, remote_item)
    join: dict[str, Any] = {
        "@context": vocab.AS_CONTEXT,
        "id": runtime.uris.activity(uuid4().hex),
        "type": "Join",
        "actor": runtime.uris.actor(speaker.username),
        "object": remote_item.uri,
        "to": [to],
    }
    await publish(session, speaker, join, Visibility.DIRECT, to_actors=[to])
    if row is None:
        row = OutgoingJoin(member_id=member.id, remote_item_id=remote_item.id)
        session.add(row)
    row.join_uri, row.anonymous, row.state = join["id"], group is not None, PENDING
    await session.flush()
    return row


async def leave_remote_call(
    session: AsyncSession, runtime: Runtime, member: LocalActor, remote_item: RemoteItem
) -> OutgoingJoin | None:
    """Publish `Undo{Join}` from the actor that sent the Join; the join becomes withdrawn.
    None when she had not joined (or already left)."""
    row = await find(session, member, remote_item)
    if row is None or row.state == WITHDRAWN:
        return None
    sent = await session.scalar(select(Activity).where(Activity.uri == row.join_uri))
    speaker = await session.get(LocalActor, sent.actor_id) if sent is not None else member
    assert speaker is not None
    join: dict[str, Any] = dict(sent.document) if sent is not None else {}
    join.pop("@context", None)
    to = await _addressee(session, remote_item)
    undo = {
        "@context": vocab.AS_CONTEXT,
        "id": runtime.uris.activity(uuid4().hex),
        "type": "Undo",
        "actor": runtime.uris.actor(speaker.username),
        "object": join or {"id": row.join_uri, "type": "Join", "object": remote_item.uri},
        "to": [to],
    }
    await publish(session, speaker, undo, Visibility.DIRECT, to_actors=[to])
    row.state = WITHDRAWN
    await session.flush()
    return row
