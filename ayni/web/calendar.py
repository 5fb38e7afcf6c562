"""A call's "Add to calendar" file (`/items/{uuid}/calendar.ics`, RFC 5545): its title, start and
end in its own time zone (with the VTIMEZONE calendars need), its coarse place and a link to its
page. Never the meeting point: that is for the people who say they are coming, on the page.
Visible to whoever may see the call."""

from datetime import timedelta

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ayni import __version__
from ayni.web import item_page
from ayni.web.item_page import NO_ITEM
from federation.itemterms import Kind, Status
from models.alerts import zone
from models.base import utcnow
from models.runtime import Runtime


async def calendar(request: Request) -> Response:
    # icalendar (and dateutil) are loaded by the first calendar file asked for: 3 MB.
    from icalendar import Calendar, Event

    runtime: Runtime = request.app.state.runtime
    async with runtime.sessions() as session:
        item, _, _, _ = await item_page.visible_item(request, session)
    if item.kind != Kind.CALL or item.starts_at is None:
        raise HTTPException(404, NO_ITEM)
    tz = zone(item.timezone)
    page = f"{runtime.settings.base_url}/items/{item.uuid}"
    event = Event()
    event.add("uid", item.uri)
    event.add("dtstamp", utcnow())
    event.add("dtstart", item.starts_at.astimezone(tz))
    event.add("dtend", (item.ends_at or item.starts_at + timedelta(hours=1)).astimezone(tz))
    event.add("summary", item.title)
    if item.place_name:
        event.add("location", item.place_name)
    event.add("url", page)
    event.add("description", page)
    event.add("status", "CANCELLED" if item.status == Status.CANCELLED else "CONFIRMED")
    ics = Calendar()
    ics.add("prodid", f"-//Ayni {__version__}//{runtime.settings.host}//")
    ics.add("version", "2.0")
    ics.add_component(event)
    ics.add_missing_timezones()
    return Response(
        ics.to_ical(),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="call-{item.uuid[:8]}.ics"'},
    )


routes = [Route("/items/{uuid}/calendar.ics", calendar, methods=["GET"])]
