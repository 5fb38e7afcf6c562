"""Update: a remote actor's profile, or an object of theirs we hold. An item that overflowed to
our groups and is now closed (or no longer public) is taken back (`models.overflow`)."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import vocab
from federation.itemterms import CLOSED
from inbox.handlers import items as item_inbox
from inbox.handlers.context import Context, Ignored, actor_of
from inbox.handlers.objects import (
    clean,
    content_of,
    own_object,
    published,
)
from models import inbound, overflow, remote_actors
from models.items import RemoteItem
from models.remote import RemoteActor


async def on_update(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    ref = activity.get("object")
    if isinstance(ref, dict) and vocab.has_type(ref, *vocab.ACTOR_TYPES):
        if vocab.id_of(ref) != actor_uri:
            raise Ignored("Update of another actor's profile")
        await remote_actors.store(ctx.runtime, ref)
        return
    obj = await own_object(ctx, ref, actor_uri, "Update")
    remote = await ctx.actor(actor_uri)
    async with ctx.transaction() as session:
        await refresh(session, remote, obj)
        board = await session.scalar(select(RemoteItem).where(RemoteItem.uri == vocab.id_of(obj)))
        if board is not None and (board.status in CLOSED or board.visibility != "public"):
            await overflow.withdraw_everywhere(session, ctx.runtime.uris, board.uri)


async def refresh(session: AsyncSession, author: RemoteActor, obj: dict[str, Any]) -> None:
    """Replace our copy of an object (already checked to come from `author`) and its board
    entry; Ignored when we hold none, or hold one by someone else."""
    uri = vocab.id_of(obj)
    existing = await inbound.remote_object(session, uri or "")
    if existing is None:
        raise Ignored(f"Update of {uri}, which we do not have")
    if existing.remote_actor_id != author.id:
        raise Ignored(f"Update of {uri} by someone other than its author")
    existing.content_html, existing.document = content_of(obj), clean(obj)
    existing.updated_at = published(obj) or existing.published_at
    await item_inbox.on_updated(session, existing, obj)
