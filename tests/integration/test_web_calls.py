"""A call's pages: the count in words, "I'm coming" and "I can't come after all", a full or closed
call said plainly, what only the call's managers see (who, by which channel, the escalation
steps, the escrow audit), and the personal link page behind `/calls/<id>/where/<token>`."""

import logging
import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from ayni.access_log import AccessLog
from federation.itemterms import Kind, Status
from federation.places import Place
from models import actors, commitments, escrow, notices, posting
from models.calls import Channel, Escalation
from models.content import RemoteObject
from models.escrow import EscrowLink, EscrowView
from models.items import Item, RemoteItem
from models.notices import NoticeKind
from models.posting import Draft
from models.queue import Activity
from models.remote import RemoteActor
from tests.instances import Instance
from tests.integration.test_web_my_items import anonymous_get, browser, people, posted
from tests.web import Page

PEER = "https://social.example"
PLACE = "Portal 3, Calle del Olivar 12"


def soon() -> datetime:
    return (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)


async def a_call(instance: Instance, needed: int = 2, capacity: int | None = None) -> Item:
    return await posted(
        instance,
        Draft(
            Kind.CALL,
            "Stop the eviction",
            place=Place("Lavapiés"),
            people_wanted=needed,
            capacity=capacity,
            meeting_point=PLACE,
            starts_at=soon(),
            timezone="Europe/Madrid",
        ),
    )


async def remote(instance: Instance, username: str, name: str | None = None) -> RemoteActor:
    async with instance.runtime.sessions() as session, session.begin():
        actor = RemoteActor(
            uri=f"{PEER}/users/{username}",
            host="social.example",
            username=username,
            name=name,
            inbox_uri=f"{PEER}/users/{username}/inbox",
            document={},
        )
        session.add(actor)
    return actor


async def commit_remote(
    instance: Instance,
    call: Item,
    actor: RemoteActor,
    state: str = "coming",
    channel: Channel = Channel.DM,
    on_behalf: str | None = None,
) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        item = await session.get(Item, call.id)
        found = await session.get(RemoteActor, actor.id)
        assert item is not None and found is not None
        person = commitments.Person.remote_actor(found, on_behalf=on_behalf)
        await commitments.commit(session, instance.runtime, item, person, state, channel)


async def link_sent_to(instance: Instance, actor: RemoteActor) -> str:
    """The path of the personal link in the newest DM to this actor."""
    async with instance.runtime.sessions() as session:
        rows = await session.scalars(select(Activity).order_by(Activity.id.desc()))
        for row in rows:
            if row.type == "Create" and actor.uri in row.document.get("to", []):
                found = re.search(r"/calls/\d+/where/[A-Za-z0-9_-]+", str(row.document))
                assert found, row.document
                return found.group(0)
    raise AssertionError("no DM")


async def answer(http: httpx.AsyncClient, call: Item, action: str) -> str:
    """Press a button on the call's page; the page it lands on."""
    page = await http.get(f"/items/{call.uuid}")
    sent = await http.post(
        f"/items/{call.uuid}/{action}", data={"csrf_token": Page(page.text).csrf or ""}
    )
    assert sent.status_code == 303, sent.text
    return (await http.get(f"/items/{call.uuid}")).text


async def test_a_member_commits_and_withdraws_and_the_count_is_said_in_words(
    instance: Instance,
) -> None:
    await people(instance)
    call = await a_call(instance, needed=2)

    anonymous = (await anonymous_get(instance, f"/items/{call.uuid}")).text
    async with browser(instance, "dani") as dani:
        before = (await dani.get(f"/items/{call.uuid}")).text
        coming = await answer(dani, call, "respond")
        withdrawn = await answer(dani, call, "withdraw")
        again = await answer(dani, call, "respond")
    async with browser(instance, "carol") as carol:
        reached = await answer(carol, call, "respond")

    assert "0 of 2 coming: 2 more needed" in anonymous and "0 of 2 coming" in before
    assert "1 of 2 coming: 1 more needed" in coming and "You said you are coming." in coming
    assert "come after all" in coming and "Thank you: you are counted" in coming
    assert "0 of 2 coming: 2 more needed" in withdrawn and "no longer counted" in withdrawn
    assert "You said you are coming." not in withdrawn and "1 of 2 coming" in again
    assert "2 of 2 coming: thank you" in reached
    # The sealed meeting point: only while she is coming (and for the managers), never public.
    assert PLACE not in anonymous and PLACE not in before and PLACE not in withdrawn
    assert PLACE in coming and PLACE in again and PLACE in reached
    async with instance.runtime.sessions() as session:
        views = list(await session.scalars(select(EscrowView).order_by(EscrowView.id)))
        dani_id = (await actors.find_actor(session, "dani")).id  # type: ignore[union-attr]
    # One view per page that showed it (each press reads the page first): dani's three while
    # she was coming, carol's two (a moderator sees it always); none through a link.
    assert [v.member_id for v in views].count(dani_id) == 3 and len(views) == 5
    assert all(v.link_id is None for v in views)


async def test_a_full_or_closed_call_says_so_and_never_fails(instance: Instance) -> None:
    await people(instance)
    call = await a_call(instance, needed=3, capacity=1)

    async with browser(instance, "dani") as dani:
        await answer(dani, call, "respond")
    async with browser(instance, "carol") as carol:
        page = (await carol.get(f"/items/{call.uuid}")).text
        refused = await answer(carol, call, "respond")
    async with instance.runtime.sessions() as session, session.begin():
        item = await session.get(Item, call.id)
        assert item is not None
        await posting.close_item(session, instance.runtime.uris, item, Status.CANCELLED)
    async with browser(instance, "carol") as carol:
        token = Page((await carol.get("/my/items")).text).csrf or ""
        closed = await carol.post(f"/items/{call.uuid}/respond", data={"csrf_token": token})
        closed_page = (await carol.get(f"/items/{call.uuid}")).text

    assert "already has as many people as it can take" in page
    assert "already has as many people as it can take" in refused and "1 of 3 coming" in refused
    assert "People at most" in page
    assert closed.status_code == 303 and "over or cancelled" in closed_page


async def test_only_the_managers_see_who_is_coming_how_the_escalation_and_the_escrow_audit(
    instance: Instance,
) -> None:
    await people(instance)
    call = await a_call(instance, needed=5)
    lucia = await remote(instance, "lucia", "Lucía")
    group_b = await remote(instance, "mutualaid")
    async with browser(instance, "dani") as dani:
        await answer(dani, call, "respond")
    await commit_remote(instance, call, lucia)
    await commit_remote(instance, call, group_b, channel=Channel.JOIN, on_behalf=f"{PEER}/joins/1")
    path = await link_sent_to(instance, lucia)
    assert (await anonymous_get(instance, path)).status_code == 200
    async with instance.runtime.sessions() as session, session.begin():
        session.add(Escalation(item_id=call.id, step=1, detail="Told 4 members in the app"))

    async with browser(instance, "ben") as author:
        author_view = (await author.get(f"/items/{call.uuid}")).text
    async with browser(instance, "carol") as moderator:
        moderator_view = (await moderator.get(f"/items/{call.uuid}")).text
    async with browser(instance, "dani") as member:
        member_view = (await member.get(f"/items/{call.uuid}")).text
    async with browser(instance, "tess") as outsider:
        outsider_view = (await outsider.get(f"/items/{call.uuid}")).text
    anonymous_view = (await anonymous_get(instance, f"/items/{call.uuid}")).text

    for view in (author_view, moderator_view):
        assert "Dani (@dani)" in view and "the button on this page" in view
        assert "Lucía (@lucia@social.example)" in view and "a direct message" in view
        assert "someone via @mutualaid@social.example" in view
        assert "a Join from another server" in view
        assert "Told 4 members in the app" in view
        assert "link sent" in view and "opened 1 time:" in view
        assert "Dani (@dani) saw it on this page" in view
    for view in (member_view, outsider_view, anonymous_view):
        for secret in ("Lucía", "lucia@", "mutualaid", "Told 4", "link sent", "Who answered"):
            assert secret not in view, secret
    assert PLACE in member_view and PLACE not in outsider_view and PLACE not in anonymous_view
    assert "3 coming" not in anonymous_view and "3 of 5 coming: 2 more needed" in anonymous_view


async def test_the_link_page_shows_the_place_records_the_view_and_ends_with_the_commitment(
    instance: Instance,
) -> None:
    await people(instance)
    call = await a_call(instance)
    lucia = await remote(instance, "lucia")
    await commit_remote(instance, call, lucia)
    path = await link_sent_to(instance, lucia)

    shown = await anonymous_get(instance, path)
    unknown = await anonymous_get(instance, f"/calls/{call.id}/where/not-a-token")
    elsewhere = await anonymous_get(instance, path.replace(f"/calls/{call.id}/", "/calls/9999/"))
    await commit_remote(instance, call, lucia, state="withdrawn")
    revoked = await anonymous_get(instance, path)

    assert shown.status_code == 200
    assert PLACE in shown.text and "Stop the eviction" in shown.text
    assert "Europe/Madrid" in shown.text
    for response in (shown, revoked):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-robots-tag"] == "noindex"
    assert unknown.status_code == 404 and elsewhere.status_code == 404
    assert revoked.status_code == 410 and "This link no longer works" in revoked.text
    assert PLACE not in revoked.text and PLACE not in unknown.text
    async with instance.runtime.sessions() as session:
        views = list(await session.scalars(select(EscrowView)))
        link = await session.scalar(select(EscrowLink))
    assert len(views) == 1 and link is not None and views[0].link_id == link.id
    assert views[0].member_id is None


async def test_a_link_to_a_deleted_or_expired_call_is_gone(instance: Instance) -> None:
    await people(instance)
    deleted, expired = await a_call(instance), await a_call(instance)
    lucia = await remote(instance, "lucia")
    await commit_remote(instance, deleted, lucia)
    to_deleted = await link_sent_to(instance, lucia)
    await commit_remote(instance, expired, lucia)
    to_expired = await link_sent_to(instance, lucia)
    async with instance.runtime.sessions() as session, session.begin():
        item = await session.get(Item, deleted.id)
        assert item is not None
        await posting.delete_item(session, instance.runtime.uris, item)
        link = await session.scalar(select(EscrowLink).where(EscrowLink.item_id == expired.id))
        assert link is not None
        link.expires_at = datetime.now(UTC) - timedelta(minutes=1)

    for path in (to_deleted, to_expired):
        gone = await anonymous_get(instance, path)
        assert gone.status_code == 410 and PLACE not in gone.text, path


def test_a_link_request_never_reaches_the_access_log() -> None:
    def record(path: str) -> logging.LogRecord:
        return logging.LogRecord(
            "uvicorn.access",
            logging.INFO,
            __file__,
            1,
            '%s - "%s %s HTTP/%s" %d',
            ("203.0.113.9:5555", "GET", path, "1.1", 200),
            None,
        )

    quiet = AccessLog()
    assert not quiet.filter(record("/calls/3/where/secret-token"))
    assert quiet.filter(record("/items/abc"))


def call_fields(csrf: str, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "group": "food",
        "kind": "call",
        "title": "Stop the eviction",
        "category": "housing",
        "visibility": "public",
        "timezone": "Europe/Madrid",
        "place_name": "Lavapiés",
        "starts_at": soon().strftime("%Y-%m-%dT%H:%M"),
        "people_wanted": "10",
        "capacity": "12",
        "meeting_point": PLACE,
    } | changes


async def test_the_form_seals_the_meeting_point_takes_a_capacity_and_edits_keep_or_remove_it(
    instance: Instance,
) -> None:
    await people(instance)
    async with browser(instance, "ben") as ben:
        form = (await ben.get("/post?kind=call")).text
        token = Page(form).csrf or ""
        assert (await ben.post("/post", data=call_fields(token))).status_code == 303
        async with instance.runtime.sessions() as session:
            call = await session.scalar(select(Item))
        assert call is not None and call.capacity == 12
        public = (await anonymous_get(instance, f"/items/{call.uuid}")).text
        edit_page = await ben.get(f"/items/{call.uuid}/edit")
        async with instance.runtime.sessions() as session, session.begin():
            row = await escrow.meeting_point_row(session, call)
            assert row is not None
            row.reveal_before_s = 7200  # set from the command line
        kept = await ben.post(
            f"/items/{call.uuid}/edit", data=call_fields(token, meeting_point="", capacity="")
        )
        after_keep = await sealed(instance, call)
        changed = await ben.post(
            f"/items/{call.uuid}/edit", data=call_fields(token, meeting_point="The bakery")
        )
        after_change = await sealed(instance, call)
        async with instance.runtime.sessions() as session:
            reveal = (await escrow.meeting_point_row(session, call)).reveal_before_s  # type: ignore[union-attr]
        removed = await ben.post(
            f"/items/{call.uuid}/edit",
            data=call_fields(token, meeting_point="", remove_meeting_point="yes"),
        )
        after_remove = await sealed(instance, call)
        edit_without = (await ben.get(f"/items/{call.uuid}/edit")).text
    async with browser(instance, "dani") as dani:
        not_hers = await dani.get(f"/items/{call.uuid}/edit")

    assert "Never published" in form and "People at most (optional)" in form
    assert "Published with the call" not in form and "remove_meeting_point" not in form
    assert PLACE not in public and "People at most" in public
    assert edit_page.status_code == 200 and f'value="{PLACE}"' in edit_page.text
    assert "Remove the meeting point" in edit_page.text
    assert edit_page.headers["cache-control"] == "private, no-store"
    assert Page(edit_page.text).unlabelled() == []
    assert kept.status_code == 303 and after_keep == PLACE
    assert changed.status_code == 303 and after_change == "The bakery" and reveal == 7200
    assert removed.status_code == 303 and after_remove is None
    assert "Remove the meeting point" not in edit_without
    assert not_hers.status_code == 403 and PLACE not in not_hers.text


async def sealed(instance: Instance, call: Item) -> str | None:
    async with instance.runtime.sessions() as session:
        return await escrow.meeting_point(session, instance.runtime.seal, call)


async def test_notifications_name_who_comes_to_my_calls_and_show_my_notices_to_me_alone(
    instance: Instance,
) -> None:
    await people(instance)
    call = await a_call(instance, needed=5)
    lucia = await remote(instance, "lucia", "Lucía")
    group_b = await remote(instance, "mutualaid")
    async with browser(instance, "dani") as dani:
        await answer(dani, call, "respond")
    await commit_remote(instance, call, lucia)
    await commit_remote(instance, call, lucia, state="withdrawn")
    await commit_remote(instance, call, group_b, channel=Channel.JOIN, on_behalf=f"{PEER}/j/1")
    async with instance.runtime.sessions() as session, session.begin():
        dani_row = await actors.find_actor(session, "dani")
        food = await actors.find_actor(session, "food")
        assert dani_row is not None and food is not None
        message = RemoteObject(
            uri=f"{PEER}/notes/where",
            type="Note",
            kind="private",
            remote_actor_id=group_b.id,
            local_actor_id=dani_row.id,
            content_html='<p>Meet at <a href="https://peer.example/calls/1/where/t">your link</a>'
            "<script>alert(1)</script></p>",
            public=False,
            document={},
        )
        elsewhere = RemoteItem(
            uri=f"{PEER}/items/9",
            remote_actor_id=group_b.id,
            kind="call",
            title="Their picket",
            status="scheduled",
            visibility="public",
            document={},
        )
        session.add_all([message, elsewhere])
        await session.flush()
        await notices.notify(session, [dani_row.id], NoticeKind.CALL_SHORT, item_id=call.id)
        await notices.notify(
            session,
            [dani_row.id],
            NoticeKind.MEETING_POINT,
            remote_item_id=elsewhere.id,
            remote_object_id=message.id,
        )

    async with browser(instance, "ben") as ben:
        author = (await ben.get("/notifications")).text
    async with browser(instance, "dani") as dani:
        hers = await dani.get("/notifications")
    async with browser(instance, "carol") as carol:
        other = (await carol.get("/notifications")).text

    assert "Dani is coming to" in author or "Dani (@dani) is coming to" in author
    assert "Lucía (@lucia@social.example) can no longer come to" in author
    assert "Someone via @mutualaid@social.example is coming to" in author
    assert "your link" not in author and "still needs" not in author
    assert hers.status_code == 200
    assert "still needs 3 people" in hers.text and f"/items/{call.uuid}" in hers.text
    assert "sent you, privately, where to meet" in hers.text and "Their picket" in hers.text
    assert 'href="https://peer.example/calls/1/where/t"' in hers.text
    assert "<script>" not in hers.text
    assert "your link" not in other and "still needs" not in other
    assert "is coming to" not in hers.text  # not her call
    # The navigation counts them as new: three answers to Ben's call; Dani's two notices
    assert "3 new notifications." in author and '<span class="badge">3 new</span>' in author
    assert '<span class="badge">2 new</span>' in hers.text
