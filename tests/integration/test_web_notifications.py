"""Notifications: new responses to a member's own items, local and from other servers, newest
first; marking them seen."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from federation.itemterms import Kind
from models import actors, alerts, items, posting
from models.actors import LocalActor, Role
from models.content import RemoteObject, RemoteObjectKind
from models.items import ItemResponse, ResponseKind
from models.posting import Draft
from models.remote import RemoteActor
from tests.instances import Instance
from tests.web import PASSWORD, Page, csrf, set_password, sign_in


async def _story(instance: Instance) -> None:
    """Ana asks; Bea (a member here) can help; someone on another server replies; Ana's answer
    to Carl's ask is Carl's news, not hers."""
    async with instance.runtime.sessions() as session, session.begin():
        uris = instance.runtime.uris
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        bea = await actors.create_member(session, "bea", None, "Bea Mamani")
        carl = await actors.create_member(session, "carl", None, "Carl")
        for member in (bea, carl):
            await actors.join_group(session, group, member, Role.MEMBER)
        ask = await posting.create_item(
            session, uris, group, ana, Draft(Kind.ASK, "A pram for twins", as_group=True)
        )
        carls = await posting.create_item(
            session, uris, group, carl, Draft(Kind.ASK, "Carl's ladder")
        )
        await posting.respond(session, uris, ask, bea)
        await posting.respond(session, uris, carls, ana)
        remote = RemoteActor(
            uri="https://elsewhere.example/users/dora",
            host="elsewhere.example",
            username="dora",
            name="Dora",
            inbox_uri="https://elsewhere.example/users/dora/inbox",
        )
        session.add(remote)
        await session.flush()
        reply = RemoteObject(
            uri="https://elsewhere.example/notes/1",
            type="Note",
            kind=RemoteObjectKind.RESPONSE,
            remote_actor_id=remote.id,
            local_actor_id=group.id,
            in_reply_to_uri=ask.uri,
            content_html="<p>I have one in the garage</p>",
            public=True,
            document={},
        )
        session.add(reply)
        await session.flush()
        await items.link_response(session, [ask.uri], reply.id, ResponseKind.REPLY)


async def _seen_at(instance: Instance) -> object:
    async with instance.runtime.sessions() as session:
        ana = await actors.find_actor(session, "ana")
        assert isinstance(ana, LocalActor)
        return ana.notifications_seen_at


async def test_anonymous_visitors_are_sent_to_sign_in(instance: Instance) -> None:
    response = await instance.http.get("/notifications")

    assert (
        response.status_code == 303 and response.headers["location"] == "/login?next=/notifications"
    )


async def test_a_member_sees_new_responses_to_her_items_newest_first(instance: Instance) -> None:
    await _story(instance)
    await set_password(instance)
    await sign_in(instance.http, "ana", PASSWORD)

    response = await instance.http.get("/notifications")

    page = response.text
    assert response.status_code == 200
    assert "2 new notifications." in page
    assert "Bea Mamani can help with" in page and "Dora replied to" in page
    assert "I have one in the garage" in page
    assert page.index("Dora replied to") < page.index("Bea Mamani can help with")  # newest first
    assert page.count('class="new"') == 2
    assert (
        "Carl&#39;s ladder" not in page and "Carl's ladder" not in page
    )  # her own response is not news to her
    html = Page(page)
    assert (
        html.h1 == 1
        and html.unlabelled() == []
        and html.landmarks == {"header", "nav", "main", "footer"}
    )


async def test_marking_seen_clears_the_new_marks(instance: Instance) -> None:
    await _story(instance)
    await set_password(instance)
    await sign_in(instance.http, "ana", PASSWORD)
    token = await csrf(instance.http, "/notifications")

    response = await instance.http.post("/notifications/seen", data={"csrf_token": token})
    page = (await instance.http.get("/notifications")).text

    assert response.status_code == 303 and response.headers["location"] == "/notifications"
    assert await _seen_at(instance) is not None
    assert "0 new notifications." in page and 'class="new"' not in page
    assert "Bea Mamani can help with" in page  # still listed, no longer new


@pytest.mark.parametrize("token", [None, "forged-token"])
async def test_marking_seen_without_the_csrf_token_is_refused(
    instance: Instance, token: str | None
) -> None:
    await _story(instance)
    await set_password(instance)
    await sign_in(instance.http, "ana", PASSWORD)

    response = await instance.http.post(
        "/notifications/seen", data={"csrf_token": token} if token else {}
    )

    assert response.status_code == 403
    assert await _seen_at(instance) is None


def nav_link(page: str, href: str) -> str | None:
    """The text of the site navigation's link to `href`, or None when there is none."""
    nav = page[page.index("<nav") : page.index("</nav>")]
    start = nav.find(f'<a href="{href}">')
    if start < 0:
        return None
    return re.sub(r"<[^>]+>", "", nav[start : nav.index("</a>", start)]).strip()


async def test_every_page_shows_a_member_her_new_responses_in_the_navigation(
    instance: Instance,
) -> None:
    await _story(instance)
    await set_password(instance)
    await sign_in(instance.http, "ana", PASSWORD)

    before = (await instance.http.get("/my/items")).text
    await instance.http.post(
        "/notifications/seen", data={"csrf_token": await csrf(instance.http, "/notifications")}
    )
    after = (await instance.http.get("/my/items")).text

    assert nav_link(before, "/notifications") == "Notifications 2 new"
    assert nav_link(after, "/notifications") == "Notifications"


async def test_only_instance_admins_get_the_admin_link(instance: Instance) -> None:
    await set_password(instance)
    async with instance.runtime.sessions() as session, session.begin():
        await actors.create_member(session, "root", PASSWORD, "Root", is_admin=True)
    await sign_in(instance.http, "ana", PASSWORD)
    member_page = (await instance.http.get("/groups")).text
    await instance.http.post("/logout", data={"csrf_token": await csrf(instance.http, "/groups")})
    await sign_in(instance.http, "root", PASSWORD)
    admin_page = (await instance.http.get("/groups")).text

    assert nav_link(member_page, "/admin") is None
    assert nav_link(admin_page, "/admin") == "Instance administration"


async def test_times_are_relative_with_the_local_time_in_her_zone(instance: Instance) -> None:
    await _story(instance)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    async with instance.runtime.sessions() as session, session.begin():
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        await session.execute(ItemResponse.__table__.update().values(created_at=at))
        switches = alerts.defaults(ana.id)
        switches.timezone = "America/Lima"
        await alerts.save(session, switches)
    await set_password(instance)
    await sign_in(instance.http, "ana", PASSWORD)
    lima = at.astimezone(ZoneInfo("America/Lima"))

    english = (await instance.http.get("/notifications")).text
    instance.http.cookies.set("ayni_lang", "es")
    spanish = (await instance.http.get("/notifications")).text

    local = f"{lima.day} {lima.strftime('%b %Y, %H:%M')} (America/Lima)"
    assert f'<time datetime="{at.isoformat()}" title="{local}">3 hours ago</time>' in english
    assert ">hace 3 horas</time>" in spanish and "(America/Lima)" in spanish
    assert "UTC</time>" not in english


async def test_every_page_shows_times_in_her_zone_as_soon_as_she_changes_it(
    instance: Instance,
) -> None:
    await _story(instance)
    await set_password(instance)
    await sign_in(instance.http, "ana", PASSWORD)
    before = (await instance.http.get("/my/items")).text
    page = Page((await instance.http.get("/my/account")).text)
    form = {"csrf_token": page.csrf or "", "responses": "now", "digest": "weekly"}
    saved = await instance.http.post(
        "/my/account/alerts", data={**form, "timezone": "America/Lima", "language": "en"}
    )
    assert saved.status_code == 303

    after = (await instance.http.get("/my/items")).text
    assert "A pram for twins" in before and "(UTC)" in before and "(America/Lima)" not in before
    assert "(America/Lima)" in after and "(UTC)" not in after
    await instance.http.post("/logout", data={"csrf_token": await csrf(instance.http, "/groups")})
    await sign_in(instance.http, "ana", PASSWORD)  # and from her next sign-in on
    assert "(America/Lima)" in (await instance.http.get("/my/items")).text
