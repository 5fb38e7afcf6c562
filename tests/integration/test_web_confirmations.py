"""No one-tap destruction: closing, deleting, a moderator's removal and allowlist mode with an
empty list ask first (the first POST changes nothing and answers with a page whose form posts
again with confirm=yes); fulfilled and withdrawn asks and offers reopen."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from federation.itemterms import Kind
from federation.places import Place
from models.actors import Instance as InstanceRow
from models.items import Item
from models.posting import Draft
from models.queue import Activity, DomainAllow
from tests.instances import Instance
from tests.integration.test_web_admin import add_admin
from tests.integration.test_web_item_page import accessible
from tests.integration.test_web_my_items import browser, people, posted, stored
from tests.web import Page, csrf


def confirmation_form(html: str, action: str) -> bool:
    """The page's form posts to `action` again, with the CSRF token and confirm=yes."""
    page = Page(html)
    return (
        f'action="{action}"' in html
        and page.csrf is not None
        and '<input type="hidden" name="confirm" value="yes">' in html
        and 'class="danger"' in html
    )


async def updates(instance: Instance, item: Item) -> int:
    async with instance.runtime.sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(Activity)
            .where(Activity.type == "Update", Activity.object_uri == item.uri)
        )
    return found or 0


@pytest.mark.parametrize("status", ["fulfilled", "withdrawn"])
async def test_closing_asks_first_and_only_the_confirmed_post_closes(
    instance: Instance, status: str
) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies", category="goods"))
    action = f"/items/{item.uuid}/close"

    async with browser(instance, "ben") as http:
        token = await csrf(http, "/my/items")
        asked = await http.post(action, data={"csrf_token": token, "status": status})
        unchanged = (await stored(instance, item)).status
        forged = await http.post(
            action, data={"csrf_token": "forged", "status": status, "confirm": "yes"}
        )
        confirmed = await http.post(
            action, data={"csrf_token": token, "status": status, "confirm": "yes"}
        )

    assert asked.status_code == 200 and unchanged == "open"
    assert confirmation_form(asked.text, action) and f'name="status" value="{status}"' in asked.text
    accessible(asked.text)
    assert forged.status_code == 403
    assert confirmed.status_code == 303 and (await stored(instance, item)).status == status


async def test_deleting_asks_first_and_the_delete_button_looks_dangerous(
    instance: Instance,
) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.OFFER, "Soup on Fridays", category="food"))
    action = f"/items/{item.uuid}/delete"

    async with browser(instance, "ben") as http:
        token = await csrf(http, "/my/items")
        shown = await http.get(action)
        asked = await http.post(action, data={"csrf_token": token})
        kept = (await stored(instance, item)).deleted_at
        confirmed = await http.post(action, data={"csrf_token": token, "confirm": "yes"})

    assert confirmation_form(shown.text, action) and confirmation_form(asked.text, action)
    assert asked.status_code == 200 and kept is None
    assert confirmed.status_code == 303 and (await stored(instance, item)).deleted_at is not None


async def test_a_moderators_removal_asks_first(instance: Instance) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Spam, spam", category="goods"))
    action = f"/groups/food/moderation/items/{item.uuid}/delete"

    async with browser(instance, "dani") as http:  # a plain member: not even with confirm=yes
        refused = await http.post(
            action, data={"csrf_token": await csrf(http, "/my/items"), "confirm": "yes"}
        )
    async with browser(instance, "carol") as http:
        token = await csrf(http, "/groups/food/moderation")
        asked = await http.post(action, data={"csrf_token": token})
        kept = (await stored(instance, item)).deleted_at
        confirmed = await http.post(action, data={"csrf_token": token, "confirm": "yes"})

    assert refused.status_code == 403
    assert asked.status_code == 200 and kept is None and confirmation_form(asked.text, action)
    assert "Remove “Spam, spam”?" in asked.text
    accessible(asked.text)
    assert confirmed.status_code == 303 and (await stored(instance, item)).deleted_at is not None


async def mode(instance: Instance) -> str:
    async with instance.runtime.sessions() as session:
        found = await session.scalar(select(InstanceRow.federation_mode))
    return str(found)


async def test_allowlist_mode_with_an_empty_list_asks_first(instance: Instance) -> None:
    await add_admin(instance)
    action = "/admin/federation/mode"
    async with browser(instance, "root") as http:
        token = await csrf(http, "/admin/federation")
        asked = await http.post(action, data={"csrf_token": token, "mode": "allowlist"})
        still = await mode(instance)
        confirmed = await http.post(
            action, data={"csrf_token": token, "mode": "allowlist", "confirm": "yes"}
        )

    assert asked.status_code == 200 and still == "open"
    assert confirmation_form(asked.text, action) and "empty list" in asked.text
    accessible(asked.text)
    assert confirmed.status_code == 303 and await mode(instance) == "allowlist"


async def test_allowlist_mode_with_domains_on_the_list_switches_at_once(
    instance: Instance,
) -> None:
    await add_admin(instance)
    async with instance.runtime.sessions() as session, session.begin():
        session.add(DomainAllow(domain="friends.example"))
    async with browser(instance, "root") as http:
        token = await csrf(http, "/admin/federation")
        switched = await http.post(
            "/admin/federation/mode", data={"csrf_token": token, "mode": "allowlist"}
        )
    assert switched.status_code == 303 and await mode(instance) == "allowlist"


@pytest.mark.parametrize(
    ("who", "status"),
    [("ben", 303), ("carol", 303), ("dani", 403), ("tess", 403), (None, 303)],
)
async def test_the_author_and_the_groups_moderators_reopen_a_fulfilled_ask(
    instance: Instance, who: str | None, status: int
) -> None:
    await people(instance)
    item = await posted(instance, Draft(Kind.ASK, "Nappies", category="goods"))
    async with browser(instance, "ben") as http:
        token = await csrf(http, "/my/items")
        await http.post(
            f"/items/{item.uuid}/close",
            data={"csrf_token": token, "status": "fulfilled", "confirm": "yes"},
        )
        listed = (await http.get("/my/items")).text
        shown = (await http.get(f"/items/{item.uuid}")).text
    sent_before = await updates(instance, item)

    async with browser(instance, who) as http:
        token = await csrf(http, "/my/items" if who else "/login")
        reopened = await http.post(f"/items/{item.uuid}/reopen", data={"csrf_token": token})

    assert f'action="/items/{item.uuid}/reopen"' in listed + shown
    assert reopened.status_code == status
    if who in ("ben", "carol"):
        assert reopened.headers["location"] == f"/items/{item.uuid}"
        assert (await stored(instance, item)).status == "open"
        assert await updates(instance, item) == sent_before + 1
    else:  # refused, or (signed out) sent to sign in
        assert who is not None or reopened.headers["location"].startswith("/login")
        assert (await stored(instance, item)).status == "fulfilled"
        assert await updates(instance, item) == sent_before


async def test_a_call_done_an_open_ask_and_an_ask_past_its_date_do_not_reopen(
    instance: Instance,
) -> None:
    await people(instance)
    call = await posted(
        instance,
        Draft(
            Kind.CALL,
            "Unload the van",
            place=Place("Market hall"),
            people_wanted=3,
            starts_at=datetime(2030, 12, 5, 10, tzinfo=UTC),
        ),
    )
    open_ask = await posted(instance, Draft(Kind.ASK, "Still open", category="goods"))
    past = await posted(instance, Draft(Kind.ASK, "Past its date", category="goods"))
    async with instance.runtime.sessions() as session, session.begin():
        await session.execute(update(Item).where(Item.id == call.id).values(status="cancelled"))
        await session.execute(
            update(Item)
            .where(Item.id == past.id)
            .values(status="withdrawn", needed_by=datetime.now(UTC) - timedelta(days=1))
        )

    async with browser(instance, "ben") as http:
        token = await csrf(http, "/my/items")
        answers = [
            await http.post(f"/items/{item.uuid}/reopen", data={"csrf_token": token})
            for item in (call, open_ask, past)
        ]

    assert [a.status_code for a in answers] == [400, 400, 400]
    assert "can be reopened" in answers[2].text
    assert [(await stored(instance, i)).status for i in (call, open_ask, past)] == [
        "cancelled",
        "open",
        "withdrawn",
    ]
