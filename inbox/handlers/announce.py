"""Announce: what an actor we follow shares.

A Mastodon boost names the object. A FEP-1b12 group (a Lemmy or Mbin community, a Friendica
forum) passes on the activity it received instead: `Create`, `Update` or `Delete`, embedded
(Lemmy) or by its id (Mbin, for activities from other servers); Lemmy also sends its followers the
bare `Page`. An embedded object is believed only when it is the signer's own; anything else is
fetched from its origin. Votes, comments and moderation that a community passes on are not acted
on, and cost no fetch; nor does a post we hold already.
"""

from typing import Any

from federation import overflow as overflow_terms
from federation import vocab
from federation.errors import Gone, InvalidDocument, NotFound
from inbox.handlers import items as item_inbox
from inbox.handlers.context import Context, Ignored, actor_of
from inbox.handlers.objects import (
    MAX_URI,
    OBJECT_TYPES,
    clean,
    content_of,
    published,
    short,
)
from inbox.handlers.overflow import on_overflow
from inbox.handlers.update import refresh
from models import inbound, items
from models.content import RemoteObjectKind
from models.remote import RemoteActor

_PASSED_ON = ("Create", "Update", "Delete")


async def on_announce(ctx: Context, activity: dict[str, Any]) -> None:
    try:
        route = overflow_terms.route_of(activity)
    except InvalidDocument as e:
        raise Ignored(f"an overflow Announce with a bad route: {e}") from None
    if route is not None:
        await on_overflow(ctx, activity, route)
        return
    actor_uri = actor_of(activity)
    remote = await ctx.actor(actor_uri)
    async with ctx.runtime.sessions() as session:
        followers = await inbound.followed_by(session, remote)
    if not followers:
        raise Ignored(f"Announce from {actor_uri}, whom no one here follows")
    verb, obj = await _shared(ctx, activity.get("object"), actor_uri)
    uri = vocab.id_of(obj)
    assert uri is not None
    if verb == "Delete":
        await _withdrawn(ctx, uri)
        return
    if not vocab.has_type(obj, *OBJECT_TYPES):
        raise Ignored(
            f"Announce of {(vocab.types_of(obj) or ['an untyped object'])[0]} is not acted on"
        )
    _not_a_comment(ctx, obj)
    author_uri = next((a for a in vocab.attributed_to(obj) if vocab.same_origin(a, uri)), None)
    if author_uri is None:
        raise Ignored(f"{uri} is not attributed to an actor on its own host")
    author = await ctx.actor(author_uri)
    shared_by = actor_uri if remote.type == "Group" else None
    async with ctx.transaction() as session:
        if verb == "Update" and await inbound.remote_object(session, uri) is not None:
            await refresh(session, author, obj)
            return
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
        await item_inbox.on_stored(ctx, session, stored, obj, shared_by)


async def _shared(ctx: Context, ref: object, signer_uri: str) -> tuple[str | None, dict[str, Any]]:
    """(the verb passed on, if any; the object it is about, believed or fetched). For a Delete
    the object may be only a reference: what counts is whether its origin still serves it."""
    verb = None
    if isinstance(ref, dict) and vocab.has_type(ref, *_PASSED_ON):
        verb, ref = vocab.types_of(ref)[0], ref.get("object")
    elif isinstance(ref, dict) and not vocab.has_type(ref, *OBJECT_TYPES):
        kind = (vocab.types_of(ref) or ["an untyped object"])[0]
        raise Ignored(f"Announce of {kind} is not acted on")  # a vote, a lock, a report…
    if verb == "Delete":
        return verb, {"id": _usable(ctx, ref)}
    if isinstance(ref, dict):
        _not_a_comment(ctx, ref)
    if verb != "Update":
        await _not_known(ctx, _usable(ctx, ref))
    document = await _believed(ctx, ref, signer_uri)
    if verb is None and vocab.has_type(document, *_PASSED_ON):
        # An activity shared by its id (Mbin): fetched from its origin, it vouches for the
        # object its actor wrote there.
        verb = vocab.types_of(document)[0]
        inner = document.get("object")
        if verb == "Delete":
            return verb, {"id": _usable(ctx, inner)}
        actor_uri = vocab.id_of(document.get("actor")) or ""
        if not vocab.same_origin(actor_uri, vocab.id_of(document)):
            raise Ignored(f"{vocab.id_of(document)} names an actor on another host")
        document = await _believed(ctx, inner, actor_uri)
    return verb, document


async def _not_known(ctx: Context, uri: str) -> None:
    """Lemmy sends the same post twice (in its Create, and bare for Mastodon); a group also
    announces what its members post: once held, it costs no fetch."""
    async with ctx.runtime.sessions() as session:
        if await inbound.remote_object(session, uri) is not None:
            raise Ignored(f"{uri} is stored already")


def _usable(ctx: Context, ref: object) -> str:
    uri = vocab.id_of(ref)
    if uri is None or len(uri) > MAX_URI:
        raise Ignored("Announce without a usable object id")
    if ctx.is_local(uri):
        raise Ignored(f"Announce about {uri}, which is ours")  # a relay coming home: no loop
    return uri


async def _believed(ctx: Context, ref: object, signer_uri: str) -> dict[str, Any]:
    """The embedded copy when it is the signer's own (on its host, attributed to it); else the
    object as its origin serves it: a community's copy of a member's post, or a copy naming
    another author than the original (our groups pass on what they post as themselves as
    their Service's), is not what we keep."""
    uri = _usable(ctx, ref)
    if (
        isinstance(ref, dict)
        and vocab.same_origin(uri, signer_uri)
        and signer_uri in vocab.attributed_to(ref)
    ):
        return ref
    document = await ctx.fetch(uri)
    if vocab.id_of(document) != uri:
        raise Ignored(f"{uri} answered with another document")
    return document


def _not_a_comment(ctx: Context, obj: dict[str, Any]) -> None:
    """A comment is no board entry; one on an item of ours still counts (Lemmy announces it)."""
    parent = vocab.id_of(obj.get("inReplyTo"))
    if parent is not None and not ctx.is_local(parent):
        raise Ignored(f"{vocab.id_of(obj)} is a comment, not a post")


async def _withdrawn(ctx: Context, uri: str) -> None:
    """A deletion passed on: believed when the object's own server no longer serves it."""
    async with ctx.runtime.sessions() as session:
        existing = await inbound.remote_object(session, uri)
    if existing is None:
        raise Ignored(f"Delete of {uri}, which we do not have")
    try:
        document = await ctx.fetch(uri)
    except (NotFound, Gone):
        document = {"type": "Tombstone"}
    if not vocab.has_type(document, "Tombstone"):
        raise Ignored(f"Delete of {uri}, which its server still serves")
    async with ctx.transaction() as session:
        author = await session.get(RemoteActor, existing.remote_actor_id)
        await inbound.delete_object(session, uri, author.uri if author else uri)
        await items.forget_remote_item(session, uri, existing.remote_actor_id)
