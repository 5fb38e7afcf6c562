"""Announce: what an actor we follow shares."""

from typing import Any

from federation import vocab
from inbox.handlers import items as item_inbox
from inbox.handlers.context import Context, Ignored, actor_of
from inbox.handlers.objects import (
    ACTIVITY_TYPES,
    MAX_URI,
    OBJECT_TYPES,
    clean,
    content_of,
    published,
    short,
)
from models import inbound
from models.content import RemoteObjectKind


async def on_announce(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    remote = await ctx.actor(actor_uri)
    async with ctx.runtime.sessions() as session:
        followers = await inbound.followed_by(session, remote)
    if not followers:
        raise Ignored(f"Announce from {actor_uri}, whom no one here follows")
    ref = activity.get("object")
    if isinstance(ref, dict) and vocab.has_type(ref, *ACTIVITY_TYPES):
        ref = ref.get("object")  # Lemmy announces the Create; the object inside is what counts
    uri = vocab.id_of(ref)
    if uri is None or len(uri) > MAX_URI:
        raise Ignored("Announce without a usable object id")
    if ctx.is_local(uri):
        raise Ignored(f"Announce of {uri}, which is ours")  # a relay coming home: no loop
    own = (
        isinstance(ref, dict)
        and vocab.same_origin(uri, actor_uri)
        and actor_uri in vocab.attributed_to(ref)
    )
    obj: dict[str, Any] = ref if own and isinstance(ref, dict) else await ctx.fetch(uri)
    if not vocab.has_type(obj, *OBJECT_TYPES):
        raise Ignored(
            f"Announce of {(vocab.types_of(obj) or ['an untyped object'])[0]} is not acted on"
        )
    author_uri = next((a for a in vocab.attributed_to(obj) if vocab.same_origin(a, uri)), None)
    if author_uri is None:
        raise Ignored(f"{uri} is not attributed to an actor on its own host")
    author = await ctx.actor(author_uri)
    async with ctx.transaction() as session:
        stored = await inbound.store_object(
            session,
            uri=uri,
            type=vocab.types_of(obj)[0],
            kind=RemoteObjectKind.CONTENT,
            remote=author,
            local_actor_id=followers[0],
            in_reply_to_uri=short(vocab.id_of(obj.get("inReplyTo"))),
            content_html=content_of(obj),
            public=vocab.addresses_public(obj),
            document=clean(obj),
            published_at=published(obj),
        )
        if stored is None:
            raise Ignored(f"{uri} is stored already or was deleted")
        await item_inbox.on_stored(ctx, session, stored, obj)
