"""Update: a remote actor's profile, or an object of theirs we hold."""

from typing import Any

from federation import vocab
from inbox.handlers import items as item_inbox
from inbox.handlers.context import Context, Ignored, actor_of
from inbox.handlers.objects import (
    clean,
    content_of,
    own_object,
    published,
)
from models import inbound, remote_actors


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
    uri = vocab.id_of(obj)
    async with ctx.transaction() as session:
        existing = await inbound.remote_object(session, uri or "")
        if existing is None:
            raise Ignored(f"Update of {uri}, which we do not have")
        if existing.remote_actor_id != remote.id:
            raise Ignored(f"Update of {uri} by someone other than its author")
        existing.content_html, existing.document = content_of(obj), clean(obj)
        existing.updated_at = published(obj) or existing.published_at
        await item_inbox.on_updated(session, existing, obj)
