"""An overflowed item from an ally: an `Announce` addressed to one of our groups, with the route
it travelled in its inline context (`federation.overflow`); and its `Undo`.

Nothing in the payload is believed: the route must be in range and end with the signer, the
item is fetched from its origin and must be an open public ask or offer of the group the route
starts from, and each of our groups decides on its own (`models.overflow.receive`): the sender
must be its ally, the item inside its area, shared once.
"""

from typing import Any

from federation import items as wire
from federation import vocab
from federation.errors import InvalidDocument
from federation.itemterms import Kind, Status
from federation.overflow import Route
from inbox.handlers.context import Context, Ignored, actor_of
from inbox.handlers.objects import MAX_URI
from models import overflow
from models.actors import ActorType, LocalActor


async def on_overflow(ctx: Context, activity: dict[str, Any], route: Route) -> None:
    actor_uri = actor_of(activity)
    activity_uri = vocab.id_of(activity)
    if activity_uri is None or not vocab.same_origin(activity_uri, actor_uri):
        raise Ignored("an overflow Announce without an id on its sender's host")
    uri = vocab.id_of(activity.get("object"))
    if uri is None or len(uri) > MAX_URI:
        raise Ignored("an overflow Announce without a usable object id")
    if ctx.is_local(uri) or ctx.is_local(route.origin):
        raise Ignored(f"an overflow of {uri}, which is ours, came back")
    if not vocab.same_origin(uri, route.origin):
        raise Ignored(f"{uri} is not on the host of {route.origin}, where the route starts")
    async with ctx.runtime.sessions() as session:
        groups = await _addressed(ctx, session, activity)
    if not groups:
        raise Ignored("an overflow Announce addressed to none of our groups")
    sender = await ctx.actor(actor_uri)
    document = await ctx.fetch(uri)  # the origin's current item, never the sender's word
    value = _open_public_item(document, uri, route)
    author = await ctx.actor(value.author_uri)
    received = overflow.Received(activity_uri, sender, route, value, document, author)
    reasons = []
    async with ctx.transaction() as session:
        for group in groups:
            reason = await overflow.receive(session, ctx.runtime.uris, group, received)
            if reason is not None:
                reasons.append(reason)
    if len(reasons) == len(groups):
        raise Ignored("; ".join(reasons))


async def _addressed(ctx: Context, session: Any, activity: dict[str, Any]) -> list[LocalActor]:
    found: dict[int, LocalActor] = {}
    for uri in [*vocab.ids_of(activity.get("to")), *vocab.ids_of(activity.get("cc"))][:20]:
        local = await ctx.local_actor(session, uri)
        if local is not None and local.type == ActorType.GROUP:
            found[local.id] = local
    return list(found.values())


def _open_public_item(document: dict[str, Any], uri: str, route: Route) -> wire.RemoteItem:
    if vocab.id_of(document) != uri:
        raise Ignored(f"{uri} answered with another document")
    try:
        value = wire.from_ap(document)
    except InvalidDocument as e:
        raise Ignored(f"{uri}: {e}") from None
    if value is None or value.kind not in (Kind.ASK, Kind.OFFER):
        raise Ignored(f"{uri} is not an ask or an offer")
    if value.status != Status.OPEN:
        raise Ignored(f"{uri} is {value.status}")
    if not vocab.addresses_public(document):
        raise Ignored(f"{uri} is not public: only public items overflow")
    if value.group_uri != route.origin:
        raise Ignored(f"{uri} is not an item of {route.origin}, where the route starts")
    if not vocab.same_origin(value.author_uri, uri):
        raise Ignored(f"{uri} is not attributed to an actor on its own host")
    return value


async def on_undo_announce(ctx: Context, activity: dict[str, Any]) -> None:
    """An ally takes back what it sent: each of our groups that shared the item because of it
    takes back its own share, and what it sent on."""
    actor_uri = actor_of(activity)
    obj = activity.get("object")
    announce_uri = vocab.id_of(obj)
    if announce_uri is None or len(announce_uri) > MAX_URI:
        raise Ignored("Undo of an Announce without a usable id")
    if isinstance(obj, dict) and vocab.id_of(obj.get("actor")) not in (None, actor_uri):
        raise Ignored("Undo of an Announce by someone else")
    async with ctx.transaction() as session:
        if not await overflow.undone(session, ctx.runtime.uris, actor_uri, announce_uri):
            raise Ignored(f"Undo of {announce_uri}, an Announce we did not act on")
