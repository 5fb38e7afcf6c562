"""Create, Update, Delete, Announce, Like, Flag: what remote actors say and share."""

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import sanitize, vocab
from inbox.handlers import items as item_inbox
from inbox.handlers.context import Context, Ignored
from inbox.handlers.follows import actor_of
from models import inbound, items, remote_actors
from models.actors import ActorType, LocalActor
from models.content import RemoteObjectKind
from models.group_moderation import blocked_by
from models.queue import Activity
from models.remote import RemoteActor

OBJECT_TYPES = ("Note", "Article", "Page", "Question", "Event", "ChatMessage")
ACTIVITY_TYPES = ("Create", "Update", "Announce")
_HTML_FIELDS = ("content", "summary", "name")
MAX_URI = 2048  # the width of the uri columns


async def own_object(ctx: Context, ref: object, actor_uri: str, verb: str) -> dict[str, Any]:
    """The object of a Create/Update, which must live on the actor's host and be the actor's;
    an embedded copy attributed to someone else is not trusted: it is refetched by id."""
    uri = vocab.id_of(ref)
    if uri is None or len(uri) > MAX_URI:
        raise Ignored(f"{verb} without a usable object id")
    if not vocab.same_origin(uri, actor_uri):
        raise Ignored(f"{verb} by {actor_uri} of {uri}, which is on another host")
    if isinstance(ref, dict) and vocab.id_of(ref) == uri and actor_uri in vocab.attributed_to(ref):
        return ref
    document = await ctx.fetch(uri)
    if actor_uri not in vocab.attributed_to(document):
        raise Ignored(f"{verb} by {actor_uri} of {uri}, which is attributed to someone else")
    return document


def short(uri: str | None) -> str | None:
    return uri if uri is not None and len(uri) <= MAX_URI else None


def clean(document: dict[str, Any]) -> dict[str, Any]:
    """A copy whose HTML fields are sanitised: nothing unsanitised is stored."""
    copy = dict(document)
    for field in _HTML_FIELDS:
        if isinstance(copy.get(field), str):
            copy[field] = sanitize.sanitize_html(copy[field])
        mapped = copy.get(f"{field}Map")
        if isinstance(mapped, dict):
            copy[f"{field}Map"] = {k: sanitize.sanitize_html(v) for k, v in mapped.items() if isinstance(v, str)}
    return copy


def content_of(document: dict[str, Any]) -> str:
    content = document.get("content")
    if not isinstance(content, str):
        mapped = document.get("contentMap")
        content = next((v for v in mapped.values() if isinstance(v, str)), "") if isinstance(mapped, dict) else ""
    return sanitize.sanitize_html(content)


def published(document: dict[str, Any]) -> datetime | None:
    value = document.get("published")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


async def local_owner(ctx: Context, session: AsyncSession, uri: str) -> LocalActor | None:
    """The local actor an object of ours belongs to: an actor itself, or the actor of an activity
    we published about it, or the actor whose URI prefixes it."""
    actor = await ctx.local_actor(session, uri)
    if actor is not None:
        return actor
    actor_id = await session.scalar(
        select(Activity.actor_id).where(or_(Activity.object_uri == uri, Activity.uri == uri)).limit(1)
    )
    if actor_id is not None:
        return await session.get(LocalActor, actor_id)
    prefix = ctx.runtime.uris.actor("")
    if uri.startswith(prefix):
        return await ctx.local_actor(session, prefix + uri[len(prefix):].split("/")[0])
    return None


def mentions(document: dict[str, Any]) -> list[str]:
    return [
        href for tag in vocab.as_list(document.get("tag"))
        if vocab.has_type(tag, "Mention") and isinstance(href := tag.get("href"), str)
    ]


async def on_create(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    ref = activity.get("object")
    if isinstance(ref, dict) and vocab.types_of(ref) and not vocab.has_type(ref, *OBJECT_TYPES):
        raise Ignored(f"Create of {vocab.types_of(ref)[0]} is not acted on")
    obj = await own_object(ctx, ref, actor_uri, "Create")
    if not vocab.has_type(obj, *OBJECT_TYPES):
        raise Ignored(f"Create of {(vocab.types_of(obj) or ['an untyped object'])[0]} is not acted on")
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
        stored = await inbound.store_object(
            session, uri=uri, type=vocab.types_of(obj)[0], kind=kind, remote=remote,
            local_actor_id=local.id if local else None, in_reply_to_uri=in_reply_to,
            content_html=content_of(obj), public=public, document=clean(obj), published_at=published(obj),
        )
        if stored is None:
            raise Ignored(f"{uri} is stored already or was deleted before it arrived")
        await item_inbox.on_stored(ctx, session, stored, obj)


async def _groups_concerned(
    ctx: Context, session: AsyncSession, local: LocalActor | None, obj: dict[str, Any]
) -> list[int]:
    """The group written to, and the groups of our items the object replies to or names."""
    named = item_inbox.items_named(ctx, obj)
    found = list(await session.scalars(select(items.Item.group_id).where(items.Item.uri.in_(named)))) if named else []
    return ([local.id] if local is not None else []) + found


async def _classify(
    ctx: Context, session: AsyncSession, remote: RemoteActor, audience: set[str], public: bool,
    in_reply_to: str | None, obj: dict[str, Any],
) -> tuple[RemoteObjectKind, LocalActor | None]:
    addressed = [uri for uri in sorted(audience) if ctx.local_name(uri)]
    if not public and addressed and len(addressed) == len(audience):
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


async def on_update(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    ref = activity.get("object")
    if isinstance(ref, dict) and vocab.has_type(ref, *vocab.ACTOR_TYPES):
        if vocab.id_of(ref) != actor_uri:
            raise Ignored("Update of another actor's profile")
        await remote_actors.store(ctx.runtime, ref)
        return
    obj = await own_object(ctx, ref, actor_uri, "Update")
    remote = await ctx.actor(actor_uri)
    uri = vocab.id_of(obj)
    async with ctx.transaction() as session:
        existing = await inbound.remote_object(session, uri or "")
        if existing is None:
            raise Ignored(f"Update of {uri}, which we do not have")
        if existing.remote_actor_id != remote.id:
            raise Ignored(f"Update of {uri} by someone other than its author")
        existing.content_html, existing.document = content_of(obj), clean(obj)
        existing.updated_at = published(obj) or existing.published_at
        await item_inbox.on_updated(session, existing, obj)


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
        if author is not None:
            await items.forget_remote_item(session, uri, author.id)


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
    own = isinstance(ref, dict) and vocab.same_origin(uri, actor_uri) and actor_uri in vocab.attributed_to(ref)
    obj: dict[str, Any] = ref if own and isinstance(ref, dict) else await ctx.fetch(uri)
    if not vocab.has_type(obj, *OBJECT_TYPES):
        raise Ignored(f"Announce of {(vocab.types_of(obj) or ['an untyped object'])[0]} is not acted on")
    author_uri = next((a for a in vocab.attributed_to(obj) if vocab.same_origin(a, uri)), None)
    if author_uri is None:
        raise Ignored(f"{uri} is not attributed to an actor on its own host")
    author = await ctx.actor(author_uri)
    async with ctx.transaction() as session:
        stored = await inbound.store_object(
            session, uri=uri, type=vocab.types_of(obj)[0], kind=RemoteObjectKind.CONTENT, remote=author,
            local_actor_id=followers[0], in_reply_to_uri=short(vocab.id_of(obj.get("inReplyTo"))),
            content_html=content_of(obj), public=vocab.addresses_public(obj), document=clean(obj),
            published_at=published(obj),
        )
        if stored is None:
            raise Ignored(f"{uri} is stored already or was deleted")
        await item_inbox.on_stored(ctx, session, stored, obj)


async def on_like(ctx: Context, activity: dict[str, Any]) -> None:
    raise Ignored("likes are not recorded")


async def on_flag(ctx: Context, activity: dict[str, Any]) -> None:
    actor_uri = actor_of(activity)
    targets = [uri for uri in vocab.ids_of(activity.get("object")) if ctx.is_local(uri)]
    if not targets:
        raise Ignored("Flag of nothing on this server")
    reporter = await ctx.actor(actor_uri)
    report_uri = short(vocab.id_of(activity)) or f"{actor_uri}#flag-" + hashlib.sha256(" ".join(targets).encode()).hexdigest()
    async with ctx.transaction() as session:
        local = None
        for uri in targets:
            local = await local_owner(ctx, session, uri)
            if local is not None:
                break
        if local is None:
            raise Ignored("Flag of nothing that belongs to a group or member here")
        # A blocked actor must not be able to flood the moderators it was blocked by.
        if await blocked_by(session, [local.id], reporter):
            raise Ignored(f"{actor_uri} is blocked by the group it reports to")
        content = activity.get("content")
        stored = await inbound.store_object(
            session, uri=report_uri, type="Flag", kind=RemoteObjectKind.REPORT, remote=reporter,
            local_actor_id=local.id, in_reply_to_uri=None,
            content_html=sanitize.sanitize_html(content) if isinstance(content, str) else "",
            public=False, document=clean(activity),
        )
        if stored is None:
            raise Ignored(f"report {report_uri} is stored already")
