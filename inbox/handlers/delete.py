"""Delete: a remote object, or the actor itself."""

from typing import Any

from federation import vocab
from inbox.handlers.context import Context, Ignored, actor_of
from inbox.handlers.objects import (
    MAX_URI,
)
from models import inbound, items, overflow, remote_actors


async def on_delete(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    uri = vocab.id_of(activity.get("object"))
    if uri is None or len(uri) > MAX_URI:
        raise Ignored("Delete without a usable object id")
    if uri == actor_uri:
        async with ctx.transaction() as session:
            remote = await remote_actors.cached(session, actor_uri)
            if remote is None:
                raise Ignored(f"Delete of {actor_uri}, an actor we never knew")
            await inbound.forget_actor(session, remote)
        return
    if not vocab.same_origin(uri, actor_uri):
        raise Ignored(f"Delete by {actor_uri} of {uri}, which is on another host")
    async with ctx.transaction() as session:
        existing = await inbound.remote_object(session, uri)
        if existing is not None:
            remote = await remote_actors.cached(session, actor_uri)
            if remote is None or existing.remote_actor_id != remote.id:
                raise Ignored(f"Delete of {uri} by someone other than its author")
        await inbound.delete_object(session, uri, actor_uri)
        author = await remote_actors.cached(session, actor_uri)
        await overflow.withdraw_everywhere(session, ctx.runtime.uris, uri)
        if author is not None:
            await items.forget_remote_item(session, uri, author.id)
