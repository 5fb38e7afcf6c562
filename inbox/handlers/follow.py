"""Follow, and what answers or takes it back: Accept, Reject, Undo."""

from typing import Any

from federation import vocab
from inbox.handlers.context import Context, Ignored, actor_of
from models import inbound
from models.follow_requests import answer_follow
from models.group_moderation import blocked_by


async def on_follow(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    target = vocab.id_of(activity.get("object"))
    follow_uri = vocab.id_of(activity)
    if follow_uri is None or ctx.local_name(target) in (None, ""):
        raise Ignored(f"Follow of {target!r}, which is not a group or member here")
    remote = await ctx.actor(actor_uri)
    async with ctx.transaction() as session:
        local = await ctx.local_actor(session, target)
        if local is None:
            raise Ignored(f"Follow of {target!r}, which is not a group or member here")
        if await blocked_by(session, [local.id], remote):
            raise Ignored(f"{actor_uri} is blocked by @{local.username}")
        follow = await inbound.request_follow(session, local, remote, follow_uri)
        if follow.state == "accepted":
            await answer_follow(ctx.runtime, session, local, remote, follow_uri, "Accept")


async def on_undo(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    obj = activity.get("object")
    object_uri = vocab.id_of(obj)
    if isinstance(obj, dict):
        if vocab.id_of(obj.get("actor")) not in (None, actor_uri):
            raise Ignored("Undo of an activity by someone else")
        kinds = vocab.types_of(obj)
    else:
        kinds = []
    if kinds and not vocab.has_type(obj, "Follow", "Block"):
        raise Ignored(f"Undo of {kinds[0]} is not acted on")
    if vocab.has_type(obj, "Block"):
        return  # a lifted block changes nothing here: follows removed by the Block stay removed
    target = vocab.id_of(obj.get("object")) if isinstance(obj, dict) else None
    remote = await ctx.actor(actor_uri)
    async with ctx.transaction() as session:
        local = await ctx.local_actor(session, target) if target else None
        if not await inbound.undo_inbound_follow(session, remote, object_uri, local):
            raise Ignored(f"Undo of {object_uri!r}: no such follow by {actor_uri}")


async def on_accept(ctx: Context, activity: dict[str, Any]) -> None:
    await _answer(ctx, activity, accepted=True)


async def on_reject(ctx: Context, activity: dict[str, Any]) -> None:
    await _answer(ctx, activity, accepted=False)


async def _answer(ctx: Context, activity: dict[str, Any], accepted: bool) -> None:
    actor_uri = actor_of(activity)
    obj = activity.get("object")
    name = "Accept" if accepted else "Reject"
    local_uri = None
    if isinstance(obj, dict):
        if vocab.types_of(obj) and not vocab.has_type(obj, "Follow"):
            raise Ignored(f"{name} of {vocab.types_of(obj)[0]} is not acted on")
        followed = vocab.id_of(obj.get("object"))
        if followed is not None and followed != actor_uri:
            raise Ignored(f"{name} by {actor_uri} of a follow of someone else")
        local_uri = vocab.id_of(obj.get("actor"))
    follow_uri = vocab.id_of(obj)
    remote = await ctx.actor(actor_uri)
    async with ctx.transaction() as session:
        local = await ctx.local_actor(session, local_uri) if local_uri else None
        # Matching is on the remote actor too: only the followed actor can answer our follow.
        if not await inbound.answer_outbound_follow(session, remote, follow_uri, local, accepted):
            raise Ignored(f"{name} from {actor_uri} matches no follow we sent to it")
