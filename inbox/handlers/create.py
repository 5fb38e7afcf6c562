"""Create: a remote actor's post, reply, message or submission."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import vocab
from inbox.handlers import allies, calls, conversations, joined
from inbox.handlers import items as item_inbox
from inbox.handlers.context import Context, Ignored, actor_of
from inbox.handlers.objects import (
    OBJECT_TYPES,
    clean,
    content_of,
    local_owner,
    mentions,
    own_object,
    published,
    short,
)
from models import inbound, introductions, items
from models.actors import ActorType, LocalActor
from models.content import RemoteObjectKind
from models.group_moderation import blocked_by
from models.remote import RemoteActor


async def on_create(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    ref = activity.get("object")
    if isinstance(ref, dict) and vocab.types_of(ref) and not vocab.has_type(ref, *OBJECT_TYPES):
        raise Ignored(f"Create of {vocab.types_of(ref)[0]} is not acted on")
    obj = await own_object(ctx, ref, actor_uri, "Create")
    if not vocab.has_type(obj, *OBJECT_TYPES):
        raise Ignored(
            f"Create of {(vocab.types_of(obj) or ['an untyped object'])[0]} is not acted on"
        )
    remote = await ctx.actor(actor_uri)
    uri = vocab.id_of(obj)
    assert uri is not None
    audience = vocab.audience_of(obj) | vocab.audience_of(activity)
    public = vocab.PUBLIC in audience
    in_reply_to = short(vocab.id_of(obj.get("inReplyTo")))
    async with ctx.transaction() as session:
        kind, local = await _classify(ctx, session, remote, audience, public, in_reply_to, obj)
        if await blocked_by(session, await _groups_concerned(ctx, session, local, obj), remote):
            raise Ignored(f"{actor_uri} is blocked by the group it writes to")
        private = kind == RemoteObjectKind.PRIVATE
        noticed = 0
        if private and await calls.on_vote(ctx, session, remote, obj, public):
            return  # a vote is counted, never kept as a message
        stored = await inbound.store_object(
            session,
            uri=uri,
            type=vocab.types_of(obj)[0],
            kind=kind,
            remote=remote,
            local_actor_id=local.id if local else None,
            in_reply_to_uri=in_reply_to,
            content_html=content_of(obj),
            public=public,
            document=clean(obj),
            published_at=published(obj),
        )
        if stored is None:
            raise Ignored(f"{uri} is stored already or was deleted before it arrived")
        if private:
            if await calls.on_message(ctx, session, remote, local, stored, obj):
                return  # understood: a commitment, not a message for people to read
            noticed = await joined.on_message(session, remote, local, stored, obj)
            await allies.on_message(session, ctx.runtime, remote, local, stored)
        await item_inbox.on_stored(ctx, session, stored, obj)
        if kind in (RemoteObjectKind.PRIVATE, RemoteObjectKind.RESPONSE):
            # An answer to an introduction is also a message: it still lands below.
            await introductions.answered(session, ctx.runtime.uris, remote, stored)
        if not noticed and kind in (RemoteObjectKind.PRIVATE, RemoteObjectKind.RESPONSE):
            await conversations.on_message(session, remote, local, stored)


async def _groups_concerned(
    ctx: Context, session: AsyncSession, local: LocalActor | None, obj: dict[str, Any]
) -> list[int]:
    """The group written to, and the groups of our items the object replies to or names."""
    named = item_inbox.items_named(ctx, obj)
    found = (
        list(await session.scalars(select(items.Item.group_id).where(items.Item.uri.in_(named))))
        if named
        else []
    )
    return ([local.id] if local is not None else []) + found


async def _classify(
    ctx: Context,
    session: AsyncSession,
    remote: RemoteActor,
    audience: set[str],
    public: bool,
    in_reply_to: str | None,
    obj: dict[str, Any],
) -> tuple[RemoteObjectKind, LocalActor | None]:
    addressed = [uri for uri in sorted(audience) if ctx.local_name(uri)]
    if not public and vocab.has_type(obj, "Event"):  # Gathio sends each follower its Event
        followed = await inbound.followed_by(session, remote)
        if followed:
            return RemoteObjectKind.CONTENT, await session.get(LocalActor, followed[0])
    # Not public, to someone here, and to people only (no followers collection): a private
    # message, even when others are written to as well; it must reach someone who can read it.
    collections = {remote.followers_uri} if remote.followers_uri else set()
    to_people = not any(uri in collections or uri.endswith("/followers") for uri in audience)
    if not public and addressed and to_people:
        return RemoteObjectKind.PRIVATE, await ctx.local_actor(session, addressed[0])
    if in_reply_to is not None and ctx.is_local(in_reply_to):
        return RemoteObjectKind.RESPONSE, await local_owner(ctx, session, in_reply_to)
    if public:
        for uri in [*mentions(obj), *addressed]:
            local = await ctx.local_actor(session, uri)
            if local is not None and local.type == ActorType.GROUP:
                return RemoteObjectKind.SUBMISSION, local
    followers = await inbound.followed_by(session, remote)
    if followers:
        return RemoteObjectKind.CONTENT, await session.get(LocalActor, followers[0])
    raise Ignored("addressed to no one here, replying to nothing of ours, from no one we follow")
