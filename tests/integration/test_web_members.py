"""A group's members page: roles, removal, the last-admin rule, invitation links shown once, and
who may open it (the group's admins and the instance's, nobody else); and `ayni invite`.

People: ana (admin of food), mo (moderator of food), ben (member of food), bo (moderator of
books), bea (admin of books)."""

from typing import Any

import pytest
from sqlalchemy import select

from models import actors, db, invitations, passwords
from models.actors import LocalActor, Membership, Role
from models.invitations import Invitation, InvitationInvalid
from tests.instances import Instance
from tests.integration.test_cli import cli_env, init, run
from tests.integration.test_web_moderation import add_people, browser, snapshot
from tests.web import PASSWORD, Page, csrf

__all__ = ["cli_env"]

LINK_PREFIX = "http://127.0.0.1:8101/invite/"


@pytest.fixture
async def food(instance: Instance) -> Instance:
    await add_people(instance)
    async with instance.runtime.sessions() as session, session.begin():
        books = await actors.find_actor(session, "books")
        assert books is not None
        bea = await actors.create_member(session, "bea", PASSWORD)
        await actors.join_group(session, books, bea, Role.ADMIN)
    return instance


async def member_ids(instance: Instance) -> dict[str, int]:
    async with instance.runtime.sessions() as session:
        return {a.username: a.id for a in await session.scalars(select(LocalActor))}


async def roles_in_food(instance: Instance) -> dict[str, str]:
    async with instance.runtime.sessions() as session:
        food = await actors.find_actor(session, "food")
        assert food is not None
        rows = await session.execute(
            select(LocalActor.username, Membership.role)
            .join(Membership, Membership.member_id == LocalActor.id)
            .where(Membership.group_id == food.id)
        )
        return {username: role for username, role in rows.all()}


async def invitation_ids(instance: Instance, group: str) -> list[int]:
    async with instance.runtime.sessions() as session:
        found = await actors.find_actor(session, group)
        assert found is not None
        return [i.id for i in await invitations.pending(session, found)]


async def forms(instance: Instance, group: str = "food") -> list[tuple[str, dict[str, str]]]:
    """Every form of the members page of `group`, naming food's people and invitations."""
    ids = await member_ids(instance)
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        await invitations.invite(session, food)
    [invitation_id] = await invitation_ids(instance, "food")
    return [
        (f"/groups/{group}/members/{ids['ben']}/role", {"role": "admin"}),
        (f"/groups/{group}/members/{ids['ben']}/delete", {}),
        (f"/groups/{group}/invitations", {"role": "admin"}),
        (f"/groups/{group}/invitations/{invitation_id}/delete", {}),
    ]


async def post(http: Any, path: str, **data: str) -> Any:
    token = await csrf(http, "/groups")
    return await http.post(path, data={"csrf_token": token, **data})


async def test_an_admin_sees_the_members_with_their_roles(food: Instance) -> None:
    async with browser(food, "ana") as ana:
        response = await ana.get("/groups/food/members")

    assert response.status_code == 200
    for username in ("ana", "mo", "ben"):
        assert f"@{username}" in response.text
    assert "@bo" not in response.text and "@bea" not in response.text
    assert "Members (3)" in response.text and '<option value="moderator" selected>' in response.text


async def test_an_admin_changes_a_role_and_removes_a_member(food: Instance) -> None:
    ids = await member_ids(food)
    async with browser(food, "ana") as ana:
        promoted = await post(ana, f"/groups/food/members/{ids['ben']}/role", role="moderator")
        removed = await post(ana, f"/groups/food/members/{ids['mo']}/delete")
        page = (await ana.get("/groups/food/members")).text

    assert promoted.status_code == removed.status_code == 303
    assert promoted.headers["location"] == "/groups/food/members"
    assert "@mo is no longer a member of the group." in page
    assert await roles_in_food(food) == {"ana": "admin", "ben": "moderator"}


async def test_an_admin_sets_the_groups_retention_and_country(food: Instance) -> None:
    async with browser(food, "ana") as ana:
        saved = await post(ana, "/groups/food/settings", retention_days="7", region="es")
        page = (await ana.get("/groups/food/members")).text
        wrong = await post(ana, "/groups/food/settings", retention_days="-1", region="es")
        unknown = await post(ana, "/groups/food/settings", retention_days="9", region="XY")
    async with browser(food, "mo") as mo:
        moderator = await post(mo, "/groups/food/settings", retention_days="0", region="")

    assert saved.status_code == 303 and "settings were saved." in page
    assert 'name="retention_days" type="number"' in page and 'value="7"' in page
    assert 'value="ES"' in page
    assert wrong.status_code == unknown.status_code == 400 and moderator.status_code == 403
    assert "a whole number from 0 to 3650" in wrong.text and 'value="-1"' in wrong.text
    assert "two letters, like ES or MX" in unknown.text and 'value="XY"' in unknown.text
    async with food.runtime.sessions() as session:
        group = await actors.find_actor(session, "food")
        assert group is not None
        assert (group.retention_days, group.region) == (7, "ES")


async def test_an_unknown_role_is_refused_with_a_clear_error(food: Instance) -> None:
    ids = await member_ids(food)
    async with browser(food, "ana") as ana:
        response = await post(ana, f"/groups/food/members/{ids['ben']}/role", role="owner")

    assert response.status_code == 400 and "Choose member, moderator or admin." in response.text
    assert (await roles_in_food(food))["ben"] == "member"


async def test_the_last_admin_can_be_neither_demoted_nor_removed(food: Instance) -> None:
    ids = await member_ids(food)
    async with browser(food, "ana") as ana:
        demoted = await post(ana, f"/groups/food/members/{ids['ana']}/role", role="member")
        removed = await post(ana, f"/groups/food/members/{ids['ana']}/delete")
        for response in (demoted, removed):
            assert response.status_code == 400
            assert (
                "The group needs at least one admin" in response.text
                and 'role="alert"' in response.text
            )
        assert (await roles_in_food(food))["ana"] == "admin"

        # Once someone else is an admin, ana may step down
        assert (
            await post(ana, f"/groups/food/members/{ids['mo']}/role", role="admin")
        ).status_code == 303
        stepped_down = await post(ana, f"/groups/food/members/{ids['ana']}/role", role="member")

    assert stepped_down.status_code == 303 and stepped_down.headers["location"] == "/groups"
    assert await roles_in_food(food) == {"ana": "member", "mo": "admin", "ben": "member"}


async def test_an_invitation_link_is_shown_once_works_and_can_be_revoked(food: Instance) -> None:
    async with browser(food, "ana") as ana:
        created = await post(ana, "/groups/food/invitations", role="moderator")
        shown = (await ana.get("/groups/food/members")).text
        again = (await ana.get("/groups/food/members")).text

        assert created.status_code == 303 and created.headers["location"] == "/groups/food/members"
        assert shown.count(LINK_PREFIX) == 1 and LINK_PREFIX not in again
        token = shown.split(LINK_PREFIX, 1)[1].split('"', 1)[0]
        assert f'readonly value="{LINK_PREFIX}{token}"' in shown
        assert "works once and expires in 7 days" in shown
        assert "Pending invitations (1)" in again and "Role: Moderator" in again
        async with food.runtime.sessions() as session:
            stored = await invitations.usable(session, token)
            assert stored.role == "moderator" and stored.token_hash != token
            assert token not in {i.token_hash for i in await session.scalars(select(Invitation))}

        async with browser(food) as invitee:
            assert (await invitee.get(f"/invite/{token}")).status_code == 200

        revoked = await post(ana, f"/groups/food/invitations/{stored.id}/delete")
        assert revoked.status_code == 303
        assert "Pending invitations (0)" in (await ana.get("/groups/food/members")).text
    async with food.runtime.sessions() as session:
        with pytest.raises(InvitationInvalid):
            await invitations.usable(session, token)


async def test_an_instance_admin_manages_any_groups_members(food: Instance) -> None:
    async with food.runtime.sessions() as session, session.begin():
        await actors.create_member(session, "root", PASSWORD, is_admin=True)

    async with browser(food, "root") as root:
        response = await root.get("/groups/books/members")
        invited = await post(root, "/groups/books/invitations", role="member")

    assert response.status_code == 200 and "@bea" in response.text
    assert invited.status_code == 303 and len(await invitation_ids(food, "books")) == 1


async def test_anonymous_visitors_are_sent_to_sign_in(food: Instance) -> None:
    async with browser(food) as anonymous:
        response = await anonymous.get("/groups/food/members")

    assert (
        response.status_code == 303
        and response.headers["location"] == "/login?next=/groups/food/members"
    )


@pytest.mark.parametrize("who", ["ben", "mo", "bea"])
async def test_only_the_groups_admins_open_the_page_or_act_and_nothing_changes(
    food: Instance, who: str
) -> None:
    """A member, a moderator (moderators do not manage members), and another group's admin."""
    actions = await forms(food)
    before = await snapshot(food)
    async with browser(food, who) as http:
        page = await http.get("/groups/food/members", headers={"Accept": "text/html"})
        assert page.status_code == 403 and "@ben" not in page.text
        for path, data in actions:
            assert (await post(http, path, **data)).status_code == 403, path

    assert await snapshot(food) == before


async def test_another_groups_admin_cannot_reach_food_through_their_own_group(
    food: Instance,
) -> None:
    actions = await forms(food, group="books")
    before = await snapshot(food)
    async with browser(food, "bea") as bea:
        for path, data in actions:
            response = await post(bea, path, **data)
            if path.endswith("/invitations"):
                assert response.status_code == 303  # an invitation to books itself
                continue
            assert response.status_code == 404, path

    after = await snapshot(food)
    invitation_count = 4
    assert [p for i, p in enumerate(after) if i != invitation_count] == [
        p for i, p in enumerate(before) if i != invitation_count
    ]
    assert (
        len(await invitation_ids(food, "food")) == 1
        and len(await invitation_ids(food, "books")) == 1
    )


async def test_every_members_form_refuses_a_missing_or_forged_csrf_token(food: Instance) -> None:
    actions = await forms(food)
    before = await snapshot(food)
    async with browser(food, "ana") as ana:
        await ana.get("/groups/food/members")
        for path, data in actions:
            for forged in ({}, {"csrf_token": "forged"}):
                assert (await ana.post(path, data={**data, **forged})).status_code == 403, path

    assert await snapshot(food) == before


async def test_the_members_page_has_one_h1_landmarks_and_labelled_controls(food: Instance) -> None:
    async with browser(food, "ana") as ana:
        await post(ana, "/groups/food/invitations", role="member")
        response = await ana.get("/groups/food/members")  # with the new link's readonly input

    page = Page(response.text)
    assert page.h1 == 1 and page.landmarks == {"header", "nav", "main", "footer"}
    assert page.unlabelled() == []
    assert sum(1 for c in page.controls if "readonly" in c) == 1
    assert (
        sum(1 for c in page.controls if c.get("name") == "role") == 4
    )  # three members and the invite form


async def test_ayni_invite_prints_a_link_that_works_once(
    cli_env: dict[str, str], database_url: str
) -> None:
    assert init(cli_env, database_url, "http://127.0.0.1:8997").returncode == 0
    assert run(["group", "create", "food", "--title", "Food Share"], cli_env).returncode == 0

    printed = run(["invite", "food", "--role", "moderator"], cli_env)
    unknown = run(["invite", "nothing"], cli_env)

    assert printed.returncode == 0, printed.stderr
    link = printed.stdout.strip()
    assert (
        link.startswith("http://127.0.0.1:8997/invite/") and "expires in 7 days" in printed.stderr
    )
    assert unknown.returncode == 1 and "no group named 'nothing'" in unknown.stderr
    engine = db.create_engine(database_url)
    try:
        async with db.sessionmaker(engine)() as session, session.begin():
            member = await invitations.accept(
                session, link.rsplit("/", 1)[1], "carla", passwords.hash_password(PASSWORD)
            )
            food = await actors.find_actor(session, "food")
            assert food is not None
            role = await session.scalar(
                select(Membership.role).where(
                    Membership.group_id == food.id, Membership.member_id == member.id
                )
            )
        assert role == Role.MODERATOR
    finally:
        await engine.dispose()
