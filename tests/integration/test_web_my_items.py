"""A member's own items: the list, editing, closing and deleting, and who else may do so (the
group's moderators, nobody else)."""

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from federation.itemterms import Kind
from federation.places import Place
from federation.visibility import Visibility
from models import actors, posting
from models.actors import Role
from models.items import Item
from models.posting import Draft
from tests.instances import Instance
from tests.web import PASSWORD, Page, csrf, set_password, sign_in


async def people(instance: Instance) -> None:
    """ben and dani are members of food, carol its moderator; tess moderates another group."""
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        tools = await actors.create_group(session, "tools", "Tool Library", "Borrow a drill.")
        for name, group, role in (
            ("ben", food, Role.MEMBER),
            ("dani", food, Role.MEMBER),
            ("carol", food, Role.MODERATOR),
            ("tess", tools, Role.MODERATOR),
        ):
            member = await actors.create_member(session, name, PASSWORD, name.title())
            await actors.join_group(session, group, member, role)


async def posted(instance: Instance, draft: Draft, author: str = "ben") -> Item:
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        member = await actors.find_actor(session, author)
        assert food is not None and member is not None
        return await posting.create_item(
            session, instance.runtime.uris, food, member, draft, seal=instance.runtime.seal
        )


async def stored(instance: Instance, item: Item) -> Item:
    async with instance.runtime.sessions() as session:
        found = await session.get(Item, item.id)
    assert found is not None
    return found


@contextlib.asynccontextmanager
async def browser(instance: Instance, username: str | None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=instance.app)
    async with httpx.AsyncClient(transport=transport, base_url=instance.settings.base_url) as http:
        if username:
            assert (await sign_in(http, username, PASSWORD)).status_code == 303
        yield http


def fields_of(item: Item, **changes: str) -> dict[str, str]:
    return {
        "title": item.title,
        "body": item.body_markdown,
        "category": "food",
        "visibility": str(item.visibility),
        "timezone": "UTC",
        "place_name": item.place_name or "",
    } | changes


async def test_my_items_lists_every_status_newest_first_with_its_facts_and_actions(
    instance: Instance,
) -> None:
    await people(instance)
    soup = await posted(instance, Draft(Kind.OFFER, "Soup on Fridays", category="food"))
    lift = await posted(
        instance,
        Draft(Kind.ASK, "A lift to the clinic", visibility=Visibility.FOLLOWERS, as_group=True),
    )
    await posted(instance, Draft(Kind.ASK, "Dani's own ask"), author="dani")
    async with instance.runtime.sessions() as session, session.begin():
        soup_row, dani = await session.get(Item, soup.id), await actors.find_actor(session, "dani")
        assert soup_row is not None and dani is not None
        await posting.respond(session, instance.runtime.uris, soup_row, dani)
        await posting.close_item(session, instance.runtime.uris, soup_row, "fulfilled")

    async with browser(instance, "ben") as http:
        response = await http.get("/my/items")

    assert response.status_code == 200
    text = response.text
    assert text.index("A lift to the clinic") < text.index("Soup on Fridays")
    assert "Dani&#39;s own ask" not in text and "Dani's own ask" not in text
    assert "Status: Fulfilled" in text and "Status: Open" in text
    assert "Followers only" in text and "posted as the group" in text and "1 response" in text
    assert f'action="/items/{lift.uuid}/close"' in text and 'value="withdrawn"' in text
    assert f'href="/items/{lift.uuid}/edit"' in text
    assert f'action="/items/{soup.uuid}/close"' not in text  # closed: nothing left to close
    assert f'href="/items/{soup.uuid}/delete"' in text
    page = Page(text)
    assert (
        page.h1 == 1
        and page.unlabelled() == []
        and page.landmarks == {"header", "nav", "main", "footer"}
    )


async def test_a_call_closes_as_done_or_cancelled_and_not_as_fulfilled(instance: Instance) -> None:
    await people(instance)
    call = await posted(
        instance,
        Draft(
            Kind.CALL,
            "Unload the van",
            place=Place("Market hall"),
            people_wanted=3,
            starts_at=datetime(2026, 12, 5, 10, tzinfo=UTC),
        ),
    )

    async with browser(instance, "ben") as http:
        listed = (await http.get("/my/items")).text
        token = await csrf(http, "/my/items")
        wrong = await http.post(
            f"/items/{call.uuid}/close", data={"csrf_token": token, "status": "fulfilled"}
        )
        right = await http.post(
            f"/items/{call.uuid}/close",
            data={"csrf_token": token, "status": "cancelled", "confirm": "yes"},
        )

    assert (
        'value="done"' in listed
        and 'value="cancelled"' in listed
        and 'value="fulfilled"' not in listed
    )
    assert wrong.status_code == 400
    assert right.status_code == 303 and (await stored(instance, call)).status == "cancelled"


async def test_the_author_edits_closes_and_deletes_her_item_and_sees_a_confirmation(
    instance: Instance,
) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies", category="goods", place=None))

    async with browser(instance, "ben") as http:
        form = await http.get(f"/items/{item.uuid}/edit")
        token = await csrf(http, f"/items/{item.uuid}/edit")
        edited = await http.post(
            f"/items/{item.uuid}/edit",
            data={
                "csrf_token": token,
                **fields_of(
                    item, title="Nappies, size 4", quantity="3", kind="offer", as_group="yes"
                ),
            },
        )
        after_edit = await http.get("/my/items")
        closed = await http.post(
            f"/items/{item.uuid}/close",
            data={"csrf_token": token, "status": "fulfilled", "confirm": "yes"},
        )
        after_close = await http.get("/my/items")
        confirm = await http.get(f"/items/{item.uuid}/delete")
        deleted = await http.post(
            f"/items/{item.uuid}/delete", data={"csrf_token": token, "confirm": "yes"}
        )
        after_delete = await http.get("/my/items")

    assert form.status_code == 200 and 'value="Nappies"' in form.text
    page = Page(form.text)
    assert page.h1 == 1 and page.unlabelled() == []
    assert edited.status_code == 303 and edited.headers["location"] == "/my/items"
    assert "Saved: “Nappies, size 4”." in after_edit.text
    assert "Saved" not in (await anonymous_get(instance, "/")).text
    assert closed.status_code == 303 and "is now: Fulfilled." in after_close.text
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    assert Page(confirm.text).h1 == 1 and Page(confirm.text).unlabelled() == []
    assert deleted.status_code == 303 and "Deleted: “Nappies, size 4”." in after_delete.text
    final = await stored(instance, item)
    assert (final.title, final.quantity, final.status) == ("Nappies, size 4", 3, "fulfilled")
    assert (final.kind, final.as_group) == (
        "ask",
        False,
    )  # fixed once posted, whatever the form says
    assert final.deleted_at is not None


async def anonymous_get(instance: Instance, path: str) -> httpx.Response:
    async with browser(instance, None) as http:
        return await http.get(path)


async def test_an_edit_with_personal_data_is_refused_keeping_the_fields_and_changing_nothing(
    instance: Instance,
) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies", category="goods"))

    async with browser(instance, "ben") as http:
        token = await csrf(http, f"/items/{item.uuid}/edit")
        response = await http.post(
            f"/items/{item.uuid}/edit",
            data={
                "csrf_token": token,
                **fields_of(item, title="Nappies, size 4", body="Write to ben@example.org"),
            },
        )

    assert response.status_code == 400 and 'role="alert"' in response.text
    assert "an e-mail address" in response.text
    assert (
        'value="Nappies, size 4"' in response.text
        and "Write to ben@example.org</textarea>" in response.text
    )
    assert (await stored(instance, item)).title == "Nappies"


@pytest.mark.parametrize(
    "who, allowed", [("dani", False), ("tess", False), ("carol", True), ("ana", True)]
)
async def test_only_the_author_and_the_groups_moderators_and_admins_change_an_item(
    instance: Instance, who: str, allowed: bool
) -> None:
    await people(instance)
    if who == "ana":
        await set_password(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies", category="goods"))

    async with browser(instance, who) as http:
        token = await csrf(http, "/post")
        shown = await http.get(f"/items/{item.uuid}/edit")
        edited = await http.post(
            f"/items/{item.uuid}/edit",
            data={"csrf_token": token, **fields_of(item, title="Changed")},
        )
        closed = await http.post(
            f"/items/{item.uuid}/close",
            data={"csrf_token": token, "status": "withdrawn", "confirm": "yes"},
        )
        confirm = await http.get(f"/items/{item.uuid}/delete")
        deleted = await http.post(
            f"/items/{item.uuid}/delete", data={"csrf_token": token, "confirm": "yes"}
        )

    final = await stored(instance, item)
    if allowed:
        assert [r.status_code for r in (shown, edited, closed, confirm, deleted)] == [
            200,
            303,
            303,
            200,
            303,
        ]
        assert (final.title, final.status) == (
            "Changed",
            "withdrawn",
        ) and final.deleted_at is not None
    else:
        assert [r.status_code for r in (shown, edited, closed, confirm, deleted)] == [403] * 5
        assert (final.title, final.status, final.deleted_at) == ("Nappies", "open", None)


@pytest.mark.parametrize("action", ["edit", "close", "delete"])
async def test_changing_an_item_needs_the_csrf_token(instance: Instance, action: str) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies", category="goods"))

    async with browser(instance, "ben") as http:
        await http.get("/my/items")
        response = await http.post(
            f"/items/{item.uuid}/{action}",
            data={
                "csrf_token": "forged",
                "status": "withdrawn",
                **fields_of(item, title="Changed"),
            },
        )

    assert response.status_code == 403
    final = await stored(instance, item)
    assert (final.title, final.status, final.deleted_at) == ("Nappies", "open", None)


@pytest.mark.parametrize("path", ["/my/items", "/items/{uuid}/edit", "/items/{uuid}/delete"])
async def test_anonymous_visitors_are_sent_to_sign_in(instance: Instance, path: str) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies", category="goods"))
    path = path.format(uuid=item.uuid)

    response = await anonymous_get(instance, path)

    assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}"


async def test_a_deleted_or_unknown_item_cannot_be_edited(instance: Instance) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies", category="goods"))
    async with instance.runtime.sessions() as session, session.begin():
        row = await session.get(Item, item.id)
        assert row is not None
        await posting.delete_item(session, instance.runtime.uris, row)

    async with browser(instance, "ben") as http:
        deleted = await http.get(f"/items/{item.uuid}/edit")
        unknown = await http.get("/items/0123456789abcdef/edit")
        listed = await http.get("/my/items")

    assert deleted.status_code == 404 and unknown.status_code == 404
    assert "Nappies" not in listed.text
    async with instance.runtime.sessions() as session:
        assert len(list(await session.scalars(select(Item)))) == 1
