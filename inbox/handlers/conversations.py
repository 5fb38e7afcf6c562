"""Direct messages to a group that are about none of its items (a Mastodon or GoToSocial DM, a
Pleroma, Akkoma or Lemmy `ChatMessage`, a Lemmy private `Note`): into the group's conversation
with the sender, where its moderators read and answer them. Those about an item are that
item's responses (`items.on_stored`), and those understood as something else (a vote, a
commitment, a meeting point) never reach here."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import conversations
from models.actors import ActorType, LocalActor
from models.content import RemoteObject
from models.items import ItemResponse
from models.remote import RemoteActor


async def on_message(
    session: AsyncSession, remote: RemoteActor, local: LocalActor | None, stored: RemoteObject
) -> bool:
    """Whether the stored object became a message of a conversation."""
    if local is None or local.type != ActorType.GROUP or stored.public:
        return False
    linked = await session.scalar(
        select(ItemResponse.id).where(ItemResponse.remote_object_id == stored.id).limit(1)
    )
    if linked is not None:
        return False
    await conversations.receive(session, local, remote, stored)
    return True
