"""What the inbox does with items: replies and DMs about ours become their responses; items of
groups we follow become remote items on the network board, and so do the plain posts a group we
follow shares (a Lemmy or Mbin community's), as entries of kind `post`."""

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import items as wire
from federation import vocab
from federation.errors import InvalidDocument
from inbox.handlers.context import Context
from models import alerts, items
from models.content import RemoteObject, RemoteObjectKind
from models.items import POLL, ResponseKind
from models.relays import auto_relay

_MAX_LINKS = 20


def as_item(obj: dict[str, Any], shared_by: str | None = None) -> wire.RemoteItem | None:
    """An item; or, when a group shared it (`shared_by`), a plain post; None for the rest."""
    try:
        value = wire.from_ap(obj)
        if value is None and shared_by is not None:
            value = wire.post_from_ap(obj, shared_by)
    except InvalidDocument:
        return None
    return value


def items_named(ctx: Context, obj: dict[str, Any]) -> list[str]:
    """Our item uris an object replies to, tags or links (a DM pasting the item's link). A call's
    poll (`<item>/poll`) stands for its call: replying to the poll is replying about the call."""
    prefix = ctx.runtime.uris.item("")
    pattern = re.compile(re.escape(prefix) + r"[0-9a-f]{32}")
    found = [vocab.id_of(obj.get("inReplyTo"))]
    found += [
        vocab.id_of(tag) or tag.get("href")
        for tag in vocab.as_list(obj.get("tag"))[:_MAX_LINKS]
        if isinstance(tag, dict)
    ]
    found = [uri.removesuffix(POLL) if isinstance(uri, str) else uri for uri in found]
    content = obj.get("content")
    if isinstance(content, str):
        found += pattern.findall(content[:100_000])[:_MAX_LINKS]
    return [uri for uri in dict.fromkeys(found) if isinstance(uri, str) and pattern.fullmatch(uri)]


async def on_stored(
    ctx: Context,
    session: AsyncSession,
    stored: RemoteObject,
    obj: dict[str, Any],
    shared_by: str | None = None,
) -> None:
    """After a Create or Announce stored an object: link it to our item, or board it.
    `shared_by`: the group whose Announce brought it."""
    if stored.kind in (RemoteObjectKind.RESPONSE, RemoteObjectKind.PRIVATE):
        kind = (
            ResponseKind.REPLY if stored.kind == RemoteObjectKind.RESPONSE else ResponseKind.MESSAGE
        )
        item = await items.link_response(session, items_named(ctx, obj), stored.id, kind)
        if item is not None:
            await alerts.response(session, item)
    elif stored.kind == RemoteObjectKind.CONTENT:
        value = as_item(obj, shared_by)
        if value is not None:
            row = await items.store_remote_item(
                session, stored.remote_actor_id, value, stored.document
            )
            if value.kind != wire.POST:  # allies relay their items, not every post
                await auto_relay(session, ctx.runtime.uris, row)


async def on_updated(session: AsyncSession, stored: RemoteObject, obj: dict[str, Any]) -> None:
    """A stored object changed: its board entry, if it has one, changes with it."""
    if stored.kind != RemoteObjectKind.CONTENT:
        return
    boarded = await session.scalar(
        select(items.RemoteItem.group_uri).where(
            items.RemoteItem.uri == stored.uri, items.RemoteItem.kind == wire.POST
        )
    )
    value = as_item(obj, boarded)
    if value is not None:
        await items.store_remote_item(session, stored.remote_actor_id, value, stored.document)
