"""Remote actors: fetched through the safe client, cached with their inboxes, refreshed when
stale or on Update, marked gone on 410. Fetches happen before any transaction is opened."""

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.errors import Gone
from federation.remote_actor import RemoteActorValues, actor_from_ap
from models import base
from models.base import utcnow
from models.remote import RemoteActor
from models.runtime import Runtime

STALE_AFTER = timedelta(days=1)


async def cached(session: AsyncSession, uri: str) -> RemoteActor | None:
    return await session.scalar(select(RemoteActor).where(RemoteActor.uri == uri))


def is_fresh(actor: RemoteActor | None) -> bool:
    return actor is not None and bool(actor.inbox_uri) and utcnow() - actor.fetched_at < STALE_AFTER


async def remote_actor(runtime: Runtime, uri: str, *, refresh: bool = False) -> RemoteActor:
    """The cached actor, fetched first when unknown, stale or `refresh` is asked."""
    async with runtime.sessions() as session:
        actor = await cached(session, uri)
    if actor is not None and actor.gone:
        raise Gone(f"the actor {uri} is gone", url=uri, status=410)
    if not refresh and is_fresh(actor):
        assert actor is not None
        return actor
    try:
        document = await runtime.fetch(uri)
    except Gone:
        await mark_gone(runtime, uri)
        raise
    return await store(runtime, document)


async def store(runtime: Runtime, document: dict[str, Any]) -> RemoteActor:
    """Cache an actor document that came from its origin (fetched, or an Update signed by it)."""
    values = actor_from_ap(document)
    async with runtime.sessions() as session, session.begin():
        return await upsert(session, values, document)


async def upsert(
    session: AsyncSession, values: RemoteActorValues, document: dict[str, Any]
) -> RemoteActor:
    """Insert or refresh the actor's row, whoever else is storing it at the same moment."""
    row = {
        "uri": values.uri,
        "type": values.type,
        "host": values.host,
        "username": values.username,
        "name": values.name,
        "inbox_uri": values.inbox_uri,
        "shared_inbox_uri": values.shared_inbox_uri,
        "followers_uri": values.followers_uri,
        "document": document,
        "fetched_at": utcnow(),
        "gone": False,
        "area_latitude": values.area.latitude if values.area else None,
        "area_longitude": values.area.longitude if values.area else None,
        "area_radius_km": values.area.radius_km if values.area else None,
    }
    actor_id = await base.upsert(
        session, RemoteActor, row, key="uri", update=[c for c in row if c != "uri"]
    )
    return await session.get_one(RemoteActor, actor_id, populate_existing=True)


async def mark_gone(runtime: Runtime, uri: str) -> None:
    async with runtime.sessions() as session, session.begin():
        actor = await cached(session, uri)
        if actor is not None:
            actor.gone = True
