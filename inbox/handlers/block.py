"""Block: a remote actor blocks one of ours."""

from typing import Any

from federation import vocab
from inbox.handlers.context import Context, Ignored, actor_of
from models import inbound


async def on_block(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    target = vocab.id_of(activity.get("object"))
    remote = await ctx.actor(actor_uri)
    async with ctx.transaction() as session:
        local = await ctx.local_actor(session, target)
        if local is None:
            raise Ignored(f"Block of {target!r}, which is not ours")
        # Stop delivering to them: they no longer follow the blocked actor.
        await inbound.remove_inbound_follow(session, local, remote)
