"""An item at its uri, in its current state: AS2 JSON for those allowed to see it, else a page.

Who may see the AS2 document is decided as for the group's own activities about it
(`ayni.documents.may_see` on the group's Create or Announce): public to anyone, followers-only to
signed fetches from the group's followers' servers, members-only to no one from outside.
Otherwise 404. With authorized fetch on, it needs a signed GET (401, or 404 for a refused server).
The HTML page (`ayni.web.item_page`) stays public for public items; non-public ones only to
signed-in members of the group.
"""

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ayni.documents import ActivityResponse, may_see, not_found
from ayni.requests import require_signer
from ayni.web import item_page
from federation import items as wire
from federation import vocab
from federation.visibility import Visibility
from models import items
from models.items import Item
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
    if isinstance(refusal := await require_signer(request, refused_status=404), Response):
        return refusal
    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        item = await session.scalar(select(Item).where(Item.uuid == request.path_params["uuid"]))
        if item is None or item.visibility == Visibility.MEMBERS:
            return not_found()
        value = None if item.deleted_at else await items.to_wire(session, runtime.uris, item)
    if item.visibility != Visibility.PUBLIC:
        gate = await _gate(runtime, item)
        if gate is None or not await may_see(request, gate):
            return not_found()
    headers = {"Vary": "Accept, Signature"}
    if value is None:
        assert item.deleted_at is not None
        return ActivityResponse(
            wire.item_tombstone(item.uri, item.deleted_at), status_code=410, headers=headers
        )
    return ActivityResponse(wire.to_ap(value), headers=headers)


routes = [Route("/items/{uuid}", item_document)]
