"""Quoting our items (Mastodon 4.5, FEP-044f): every `QuoteRequest` is refused.

Our items' `canQuote` names the group alone, so a request can only come from a server that
quotes anyway; the `Reject` tells it the quote is not approved, and Mastodon then shows the
quoting post without our item. The answer comes from the quoted object's author (Mastodon
checks it): the group for as-group items and call polls, the member for her own items. It
embeds the request as Mastodon serialises it (id, actor, object, instrument).
"""

from typing import Any
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from federation import vocab
from federation.visibility import Visibility
from models.actors import LocalActor
from models.items import POLL, Item
from models.publish import publish
from models.remote import RemoteActor
from models.runtime import Runtime

QUOTE_REQUEST_TERMS = {"QuoteRequest": "https://w3id.org/fep/044f#QuoteRequest"}


async def quoted_author(session: AsyncSession, uri: str) -> LocalActor | None:
    """Who answers for a quote of `uri`: the author of the item (or of its poll); None when
    the uri is none of our items."""
    item = await session.scalar(select(Item).where(Item.uri == uri))
    if item is not None:
        author_id = item.group_id if item.as_group else item.author_id
        return await session.get(LocalActor, author_id)
    call = await session.scalar(select(Item).where(Item.uri == uri.removesuffix(POLL)))
    if call is not None and uri.endswith(POLL):
        return await session.get(LocalActor, call.group_id)
    return None


async def reject_quote(
    runtime: Runtime,
    session: AsyncSession,
    author: LocalActor,
    requester: RemoteActor,
    request: dict[str, Any],
) -> dict[str, Any]:
    """The author's `Reject{QuoteRequest}`, delivered to the requester alone."""
    embedded: dict[str, Any] = {
        "id": vocab.id_of(request),
        "type": "QuoteRequest",
        "actor": requester.uri,
        "object": vocab.id_of(request.get("object")),
    }
    instrument = vocab.id_of(request.get("instrument"))
    if instrument is not None:
        embedded["instrument"] = instrument
    document = {
        "@context": [vocab.AS_CONTEXT, dict(QUOTE_REQUEST_TERMS)],
        "id": runtime.uris.activity(uuid4().hex),
        "type": "Reject",
        "actor": runtime.actor_uri(author),
        "object": embedded,
        "to": [requester.uri],
    }
    await publish(session, author, document, Visibility.DIRECT, to_actors=[requester.uri])
    return document
