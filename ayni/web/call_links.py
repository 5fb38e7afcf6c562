"""A call's personal link, `/calls/<id>/where/<token>`: the sealed meeting point for whoever
holds a live token (sent to one person who said they are coming).

Each view is recorded (which link, when: never an address). The page is kept out of caches,
referrers and search engines, and its requests out of the server's access log (the token is in
the path: `ayni.access_log`). A revoked or expired token, or a
call that is deleted or over, answers 410; a token nobody issued, 404.
"""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ayni.web import render
from ayni.web.i18n import N_
from ayni.web.item_page import formatted
from federation.itemterms import CLOSED
from models import escrow
from models.items import Item
from models.runtime import Runtime

NO_LINK = N_("There is no such link.")
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}


def _private(response: Response) -> Response:
    response.headers.update(PRIVATE_HEADERS)
    return response


async def where(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    token = str(request.path_params["token"])[:200]
    async with runtime.sessions() as session, session.begin():
        item = await session.get(Item, request.path_params["id"])
        link = await escrow.find_link(session, item, token) if item is not None else None
        if item is None or link is None:
            page = {"status": 404, "message": NO_LINK}
            return _private(render(request, "error.html", page, 404))
        point = await escrow.meeting_point(session, runtime.seal, item)
        if not escrow.usable(link, item) or item.status in CLOSED or point is None:
            return _private(render(request, "call_link_gone.html", {}, 410))
        await escrow.record_view(session, item, link=link)
        page = {"item": item, "meeting_point": point, "dates": formatted(request, item)}
    return _private(render(request, "call_link.html", page))


routes = [Route("/calls/{id:int}/where/{token}", where, methods=["GET"])]
