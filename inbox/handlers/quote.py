"""QuoteRequest (Mastodon 4.5, FEP-044f): asking to quote one of our items. Always refused."""

from typing import Any

from federation import vocab
from inbox.handlers.context import Context, Ignored, actor_of
from models.quotes import quoted_author, reject_quote


async def on_quote_request(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    target = vocab.id_of(activity.get("object"))
    if vocab.id_of(activity) is None or target is None or not ctx.is_local(target):
        raise Ignored(f"QuoteRequest for {target!r}, which is not ours")
    # As Mastodon: a request's id is on its actor's server, or it is not that actor's.
    if not vocab.same_origin(vocab.id_of(activity), actor_uri):
        raise Ignored("QuoteRequest whose id is not on its actor's server")
    async with ctx.runtime.sessions() as session:
        ours = await quoted_author(session, target) is not None
    if not ours:
        raise Ignored(f"QuoteRequest for {target}, which is none of our items")
    requester = await ctx.actor(actor_uri)
    async with ctx.transaction() as session:
        author = await quoted_author(session, target)
        if author is None:
            raise Ignored(f"QuoteRequest for {target}, which is none of our items")
        await reject_quote(ctx.runtime, session, author, requester, activity)
