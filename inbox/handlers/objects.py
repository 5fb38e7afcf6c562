"""What the handlers of objects (Create, Update, Delete, Announce, Flag) share: the object's
origin checked, its HTML sanitised, its owner here found."""

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import sanitize, vocab
from inbox.handlers.context import Context, Ignored
from models.actors import LocalActor
from models.queue import Activity

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
            copy[f"{field}Map"] = {
                k: sanitize.sanitize_html(v) for k, v in mapped.items() if isinstance(v, str)
            }
    return copy


def content_of(document: dict[str, Any]) -> str:
    return sanitize.sanitize_html(vocab.content_html(document))


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
        select(Activity.actor_id)
        .where(or_(Activity.object_uri == uri, Activity.uri == uri))
        .limit(1)
    )
    if actor_id is not None:
        return await session.get(LocalActor, actor_id)
    prefix = ctx.runtime.uris.actor("")
    if uri.startswith(prefix):
        return await ctx.local_actor(session, prefix + uri[len(prefix) :].split("/")[0])
    return None


def mentions(document: dict[str, Any]) -> list[str]:
    return [
        href
        for tag in vocab.as_list(document.get("tag"))
        if vocab.has_type(tag, "Mention") and isinstance(href := tag.get("href"), str)
    ]
