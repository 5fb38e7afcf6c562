"""A call's "Add to calendar" file: the call in its time zone, its coarse place and its page, never
its meeting point; only for those who may see the call."""

from icalendar import Calendar

from federation.itemterms import Kind
from federation.visibility import Visibility
from models import actors, posting
from models.posting import Draft
from tests.calls import SECRET, STARTS, post_call
from tests.instances import Instance
from tests.web import PASSWORD, set_password, sign_in


async def test_a_call_s_calendar_file_has_its_time_place_and_page_and_never_its_meeting_point(
    instance: Instance,
) -> None:
    call = await post_call(instance, timezone="Europe/Madrid")

    page = (await instance.http.get(f"/items/{call.uuid}")).text
    answer = await instance.http.get(f"/items/{call.uuid}/calendar.ics")

    assert f'href="/items/{call.uuid}/calendar.ics"' in page
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    assert SECRET not in answer.text and "thermos" not in answer.text
    [event] = Calendar.from_ical(answer.content).walk("VEVENT")
    assert str(event["summary"]) == call.title
    assert str(event["location"]) == "Lavapiés"
    assert str(event["uid"]) == call.uri
    assert str(event["url"]) == f"{instance.settings.base_url}/items/{call.uuid}"
    start = event.decoded("dtstart")
    assert start == STARTS and str(start.tzinfo) == "Europe/Madrid"
    assert event["dtstart"].params["TZID"] == "Europe/Madrid"
    assert b"BEGIN:VTIMEZONE" in answer.content and b"TZID:Europe/Madrid" in answer.content


async def test_members_only_calls_and_asks_have_no_calendar_file_for_strangers(
    instance: Instance,
) -> None:
    hidden = await post_call(instance, visibility=Visibility.MEMBERS)
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        ask = await posting.create_item(
            session, instance.runtime.uris, group, ana, Draft(Kind.ASK, "Nappies, size 4")
        )

    # signed out: "Sign in to see this", as on the call's page
    assert (await instance.http.get(f"/items/{hidden.uuid}/calendar.ics")).status_code == 403
    assert (await instance.http.get(f"/items/{ask.uuid}/calendar.ics")).status_code == 404
    await set_password(instance)
    await sign_in(instance.http, "ana", PASSWORD)
    assert (await instance.http.get(f"/items/{hidden.uuid}/calendar.ics")).status_code == 200
