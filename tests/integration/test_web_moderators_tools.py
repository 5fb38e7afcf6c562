"""Moderators' tools: the navigation's count of what waits for them, reports (from other servers
and from members) with the reported person and the post, resolved, the item removed or the
sender blocked; members reporting an item or a member; relaying from the board in one button.

People (see test_web_moderation): ana (admin of food), mo (moderator of food), ben (member of
food), bo (moderator of books). The scene holds a pending follow, a submission and a report
from bob about food and its item "Nappies", and "Soup for all" on the board."""

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from models import actors
from models.content import RemoteObject, RemoteObjectKind
from models.items import Item
from models.moderation import ActorBlock, MemberReport, Relay
from tests.integration.test_web_moderation import BOARD_ITEM, Scene, browser, scene
from tests.web import csrf, sign_in

__all__ = ["scene"]


def badge(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)">To moderate <span class="badge">(\d+) waiting', page)
    return f"{found[1]} {found[2]}" if found else None


async def post(http: httpx.AsyncClient, path: str, **data: str) -> Any:
    token = await csrf(http, "/groups")
    return await http.post(path, data={"csrf_token": token, **data})


async def report_id(scene: Scene) -> int:
    async with scene.instance.runtime.sessions() as session:
        found = await session.scalar(
            select(RemoteObject.id).where(RemoteObject.kind == RemoteObjectKind.REPORT)
        )
    assert found is not None
    return found


# --- the badge ---


async def test_moderators_see_how_many_things_wait_and_where(scene: Scene) -> None:
    async with (
        browser(scene.instance, "mo") as mo,
        browser(scene.instance, "ben") as ben,
        browser(scene.instance, "bo") as bo,
    ):
        as_moderator = (await mo.get("/board")).text
        as_member = (await ben.get("/board")).text
        elsewhere = (await bo.get("/board")).text

    # a follow request, a submission, a report
    assert badge(as_moderator) == "/groups/food/moderation 3"
    assert badge(as_member) is None and badge(elsewhere) is None


async def test_the_badge_goes_down_as_reports_are_resolved(scene: Scene) -> None:
    async with browser(scene.instance, "mo") as mo:
        response = await post(
            mo, f"/groups/food/moderation/reports/{await report_id(scene)}/resolve"
        )
        assert response.status_code == 303
        page = (await mo.get("/groups/food/moderation")).text
        assert badge(page) == "/groups/food/moderation 2"
    assert "The report is marked resolved." in page and "Reports (0)" in page
    assert "Spam from this group" not in page


async def test_an_instance_admin_with_several_groups_waiting_is_sent_to_the_list(
    scene: Scene,
) -> None:
    async with browser(scene.instance, "ben") as ben:  # ben reports an item of books too
        async with scene.instance.runtime.sessions() as session:
            nappies = await session.scalar(select(Item.uuid).where(Item.title == "Nappies"))
        await post(ben, "/report", item=str(nappies), comment="rude")
    async with scene.instance.runtime.sessions() as session, session.begin():
        root = await actors.create_member(session, "root", "a long enough password", is_admin=True)
        books = await actors.find_actor(session, "books")
        assert books is not None and root is not None
        session.add(MemberReport(group_id=books.id, member_id=root.id, comment="test"))
    async with browser(scene.instance) as root_browser:
        await sign_in(root_browser, "root", "a long enough password")
        page = (await root_browser.get("/board")).text

    assert badge(page) == "/groups 5"  # food: 4, books: 1


# --- reports from other servers ---


async def test_a_report_shows_the_reported_person_and_the_post_with_its_buttons(
    scene: Scene,
) -> None:
    async with browser(scene.instance, "mo") as mo:
        page = (await mo.get("/groups/food/moderation")).text

    section = page[page.index('id="reports"') : page.index('id="blocks"')]
    assert "Spam from this group" in section and "@bob@social.example" in section
    assert "Reported: Food Share" in section and "Nappies" in section  # posted as the group
    assert f"/groups/food/moderation/items/{scene.item_uuid}/delete" in section
    assert "Block the sender" in section and "Mark resolved" in section


async def test_blocking_the_sender_of_a_report_blocks_it_and_resolves_the_report(
    scene: Scene,
) -> None:
    async with scene.instance.runtime.sessions() as session, session.begin():
        await session.execute(ActorBlock.__table__.delete())  # bob is not blocked yet
    async with browser(scene.instance, "mo") as mo:
        response = await post(mo, f"/groups/food/moderation/reports/{await report_id(scene)}/block")
    assert response.status_code == 303
    async with scene.instance.runtime.sessions() as session:
        blocked = list(await session.scalars(select(ActorBlock.remote_actor_id)))
        report = await session.get(RemoteObject, await report_id(scene))
    assert blocked == [scene.bob_id] and report is not None and report.resolved_at is not None


async def test_removing_the_reported_item_from_the_report_asks_then_removes(
    scene: Scene,
) -> None:
    path = f"/groups/food/moderation/items/{scene.item_uuid}/delete"
    async with browser(scene.instance, "mo") as mo:
        asked = await post(mo, path)
        assert asked.status_code == 200 and "Remove it" in asked.text
        assert (await post(mo, path, confirm="yes")).status_code == 303
        page = (await mo.get("/groups/food/moderation")).text
    async with scene.instance.runtime.sessions() as session:
        item = await session.scalar(select(Item).where(Item.uuid == scene.item_uuid))
    assert item is not None and item.deleted_at is not None
    section = page[page.index('id="reports"') : page.index('id="blocks"')]
    assert "Nappies" in section and path not in section  # still listed, nothing left to remove


@pytest.mark.parametrize("who, status", [("ben", 403), ("bo", 403), (None, 303)])
async def test_only_the_groups_moderators_act_on_its_reports(
    scene: Scene, who: str | None, status: int
) -> None:
    number = await report_id(scene)
    async with browser(scene.instance, who) as http:
        for action in ("resolve", "block"):
            token = await csrf(http, "/login")
            response = await http.post(
                f"/groups/food/moderation/reports/{number}/{action}", data={"csrf_token": token}
            )
            assert response.status_code == status
    async with scene.instance.runtime.sessions() as session:
        report = await session.get(RemoteObject, number)
    assert report is not None and report.resolved_at is None


async def test_another_groups_report_or_a_missing_token_changes_nothing(scene: Scene) -> None:
    number = await report_id(scene)
    async with browser(scene.instance, "bo") as bo:
        assert (
            await post(bo, f"/groups/books/moderation/reports/{number}/resolve")
        ).status_code == 404
    async with browser(scene.instance, "mo") as mo:
        await mo.get("/groups/food/moderation")
        forged = await mo.post(
            f"/groups/food/moderation/reports/{number}/resolve", data={"csrf_token": "x"}
        )
        assert forged.status_code == 403
    async with scene.instance.runtime.sessions() as session:
        report = await session.get(RemoteObject, number)
    assert report is not None and report.resolved_at is None


# --- members report ---


async def test_a_member_reports_an_item_and_its_moderators_resolve_it(scene: Scene) -> None:
    async with browser(scene.instance, "ben") as ben:
        item_page = (await ben.get(f"/items/{scene.item_uuid}")).text
        assert f'href="/report?item={scene.item_uuid}"' in item_page
        form = await ben.get(f"/report?item={scene.item_uuid}")
        assert form.status_code == 200 and "Nappies" in form.text
        sent = await post(ben, "/report", item=scene.item_uuid, comment="Selling, not sharing")
        assert sent.status_code == 303 and sent.headers["location"] == f"/items/{scene.item_uuid}"
    async with browser(scene.instance, "mo") as mo:
        page = (await mo.get("/groups/food/moderation")).text
        section = page[page.index('id="reports"') : page.index('id="blocks"')]
        assert "Selling, not sharing" in section and "From the member" in section
        assert "@ben" in section and "Reported: Food Share" in section
        async with scene.instance.runtime.sessions() as session:
            number = await session.scalar(select(MemberReport.id))
        assert number is not None
        assert (
            await post(mo, f"/groups/food/moderation/reports/{number}/resolve", member="yes")
        ).status_code == 303
        after = (await mo.get("/groups/food/moderation")).text
    assert "Selling, not sharing" not in after


async def test_a_member_reports_a_member_to_the_moderators_of_her_groups(scene: Scene) -> None:
    async with browser(scene.instance, "bo") as bo:  # bo is in books, ben in food
        profile = (await bo.get("/@ben")).text
        assert 'href="/report?member=ben"' in profile
        sent = await post(bo, "/report", member="ben", comment="Harassing me")
        assert sent.status_code == 303 and sent.headers["location"] == "/@ben"
        assert "Thank you" in (await bo.get("/@ben")).text
    async with browser(scene.instance, "mo") as mo:
        page = (await mo.get("/groups/food/moderation")).text
    assert "Harassing me" in page and 'href="/@ben"' in page


async def test_reports_need_a_signed_in_member_a_token_and_something_to_report(
    scene: Scene,
) -> None:
    async with browser(scene.instance) as anonymous:
        assert (await anonymous.get(f"/report?item={scene.item_uuid}")).status_code == 303
        token = await csrf(anonymous, "/login")
        refused = await anonymous.post("/report", data={"csrf_token": token, "member": "ben"})
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    async with browser(scene.instance, "ben") as ben:
        assert (await post(ben, "/report", item="no-such-item")).status_code == 404
        assert (await post(ben, "/report", member="food")).status_code == 404  # not a person
        assert (await post(ben, "/report", member="ben")).status_code == 404  # herself
        await ben.get("/groups")
        forged = await ben.post("/report", data={"csrf_token": "x", "member": "mo"})
        assert forged.status_code == 403
    async with scene.instance.runtime.sessions() as session:
        assert list(await session.scalars(select(MemberReport))) == []


# --- relaying from the board ---


async def test_a_moderator_relays_a_board_item_with_one_button(scene: Scene) -> None:
    async with browser(scene.instance, "mo") as mo, browser(scene.instance, "ben") as ben:
        board = (await mo.get("/board")).text
        assert "Share with Food Share's followers" in board
        assert f'name="object" value="{BOARD_ITEM}"' in board
        assert "/moderation/relay" not in (await ben.get("/board")).text
        response = await post(mo, "/groups/food/moderation/relay", object=BOARD_ITEM, back="board")
        assert response.status_code == 303 and response.headers["location"] == "/board"
        assert (
            "The group shared “Soup for all” with its followers." in (await mo.get("/board")).text
        )
        refused = await post(ben, "/groups/food/moderation/relay", object=BOARD_ITEM, back="board")
        assert refused.status_code == 403
    async with scene.instance.runtime.sessions() as session:
        assert list(await session.scalars(select(Relay.object_uri))) == [BOARD_ITEM]
