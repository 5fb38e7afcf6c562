"""Move: a remote account moves, and its followers here follow the new one."""

from typing import Any

from federation import vocab
from inbox.handlers.context import Context, Ignored, actor_of
from models import inbound


async def on_move(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    if vocab.id_of(activity.get("object")) != actor_uri:
        raise Ignored("Move of an account other than the sender's")
    target_uri = vocab.id_of(activity.get("target"))
    if target_uri is None or target_uri == actor_uri:
        raise Ignored("Move without a target")
    old = await ctx.actor(actor_uri)
    new = await ctx.actor(target_uri, refresh=True)
    if actor_uri not in vocab.ids_of(new.document.get("alsoKnownAs")):
        raise Ignored(f"Move to {target_uri}, whose alsoKnownAs does not name {actor_uri}")
    async with ctx.transaction() as session:
        old = await session.merge(old)
        new = await session.merge(new)
        await inbound.move_followers(session, old, new)
