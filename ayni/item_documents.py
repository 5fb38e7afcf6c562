"""An item at its uri, in its current state: AS2 JSON for those allowed to see it, else a page.

Who may see the AS2 document is decided as for the group's own activities about it
(`ayni.documents.may_see` on the group's Create or Announce): public to anyone, followers-only to
signed fetches from the group's followers' servers, members-only to no one from outside.
Otherwise 404. A call's poll (`/poll`) and its attendees count (`/attendees`) are gated the same
way. With authorized fetch on, it needs a signed GET (401, or 404 for a refused server).
The HTML page (`ayni.web.item_page`) stays public for public items; non-public ones only to
signed-in members of the group.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ayni.documents import ActivityResponse, may_see, not_found
from ayni.requests import require_signer
from ayni.web import item_page
from federation import items as wire
from federation import vocab
from federation.itemterms import Kind
from federation.visibility import Visibility
from models import items
from models.calls import CommitmentState
from models.content import Tombstone
from models.items import POLL, Item
from models.queue import Activity
from models.runtime import Runtime


async def _gate(runtime: Runtime, item: Item) -> Activity | None:
    """The group's latest activity about the item: its visibility and audience are the item's."""
    async with runtime.sessions() as session:
        return await session.scalar(
            select(Activity)
            .where(Activity.object_uri == item.uri, Activity.actor_id == item.group_id)
            .order_by(Activity.id.desc())
            .limit(1)
        )


async def item_document(request: Request) -> Response:
    wants_json = vocab.accepts_activity_json(request.headers.get("accept", ""))
    if not wants_json:
        return await item_page.show(request)
    return await _serve(request, _item)


async def poll_document(request: Request) -> Response:
    """A call's poll as it stands now: Mastodon refetches it to show the current tallies."""
    return await _serve(request, _poll, calls_only=True, suffix=POLL)


async def attendees_document(request: Request) -> Response:
    """FEP-8a8e `attendees`: how many are coming, never who (attendance is not public)."""
    return await _serve(request, _attendees, calls_only=True, suffix="/attendees")


Render = Callable[[AsyncSession, Runtime, Item], Awaitable[dict[str, Any]]]


async def _item(session: AsyncSession, runtime: Runtime, item: Item) -> dict[str, Any]:
    return wire.to_ap(await items.to_wire(session, runtime.uris, item))


async def _poll(session: AsyncSession, runtime: Runtime, item: Item) -> dict[str, Any]:
    return await items.question_of(session, runtime.uris, item)


async def _attendees(session: AsyncSession, runtime: Runtime, item: Item) -> dict[str, Any]:
    return {
        "@context": vocab.AS_CONTEXT,
        "id": item.uri + "/attendees",
        "type": "Collection",
        "totalItems": (await items.counts(session, item))[CommitmentState.COMING],
    }


async def _serve(
    request: Request, render: Render, *, calls_only: bool = False, suffix: str = ""
) -> Response:
    """The document `render` makes of the item, to those who may see the item; a Tombstone once
    the item is deleted."""
    if isinstance(refusal := await require_signer(request, refused_status=404), Response):
        return refusal
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        item = await session.scalar(select(Item).where(Item.uuid == request.path_params["uuid"]))
        if item is None:
            return await _forgotten(session, runtime, request.path_params["uuid"], suffix)
        if item.visibility == Visibility.MEMBERS:
            return not_found()
        if calls_only and (item.kind != Kind.CALL or item.starts_at is None):
            return not_found()
        value = None if item.deleted_at else await render(session, runtime, item)
    if item.visibility != Visibility.PUBLIC:
        gate = await _gate(runtime, item)
        if gate is None or not await may_see(request, gate):
            return not_found()
    headers = {"Vary": "Accept, Signature"}
    if value is None:
        assert item.deleted_at is not None
        return ActivityResponse(
            wire.item_tombstone(item.uri + suffix, item.deleted_at),
            status_code=410,
            headers=headers,
        )
    return ActivityResponse(value, headers=headers)


async def _forgotten(session: AsyncSession, runtime: Runtime, uuid: str, suffix: str) -> Response:
    """An item forgotten by retention (`models.retention`) answers 410 for good; what never was,
    404. Its tombstone names no visibility, so it says no more than the Delete we sent."""
    uri = runtime.uris.item(uuid)
    deleted_at = await session.scalar(select(Tombstone.deleted_at).where(Tombstone.uri == uri))
    if deleted_at is None:
        return not_found()
    return ActivityResponse(wire.item_tombstone(uri + suffix, deleted_at), status_code=410)


routes = [
    Route("/items/{uuid}", item_document),
    Route("/items/{uuid}/poll", poll_document),
    Route("/items/{uuid}/attendees", attendees_document),
]
