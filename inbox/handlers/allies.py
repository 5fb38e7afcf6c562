"""A relay request: an allied group, short of people for one of its calls, asks ours to share
it (the last step of its escalation ladder). Allied is `models.alliances`' one definition
(mutual follows, or our explicit mark); the call must be that group's own, public and still
scheduled, and on our network board. It is shared once (`models.relays.announce` keeps that
rule), one hop only: we never pass the request on."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.itemterms import Kind, Status
from models.actors import ActorType, LocalActor
from models.alliances import is_ally
from models.content import RemoteObject
from models.items import RemoteItem
from models.relays import NotRelayed, announce
from models.remote import RemoteActor
from models.runtime import Runtime


async def on_message(
    session: AsyncSession,
    runtime: Runtime,
    remote: RemoteActor,
    local: LocalActor | None,
    stored: RemoteObject,
) -> bool:
    """Whether the direct message was a relay request our group answered by sharing the call."""
    if local is None or local.type != ActorType.GROUP or remote.type != "Group":
        return False
    if stored.in_reply_to_uri is None:
        return False
    item = await session.scalar(select(RemoteItem).where(RemoteItem.uri == stored.in_reply_to_uri))
    if item is None or (remote.id != item.remote_actor_id and remote.uri != item.group_uri):
        return False
    if item.kind != Kind.CALL or item.status != Status.SCHEDULED or item.visibility != "public":
        return False
    if not await is_ally(session, local, remote):
        return False
    try:
        await announce(session, runtime.uris, local, item.uri, automatic=True)
    except NotRelayed:
        return False  # shared already: once is the rule
    return True
