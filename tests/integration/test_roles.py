"""One `role_in` for the pages, the CLI and the domain functions: an instance admin counts as every
group's admin, a plain member stays a member, and someone outside a group has no role in it."""

from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from federation.itemterms import Kind, Status
from models import actors, posting
from models.actors import LocalActor, Role, role_in
from models.items import Item, ResponseKind
from models.posting import Draft, NotAllowed
from tests.instances import Instance
from tests.integration.test_web_my_items import browser, people, posted, stored
from tests.web import PASSWORD, Page

ASK = Draft(Kind.ASK, "Nappies, size 4", category="goods")


async def instance_admin(instance: Instance) -> None:
    """iris runs the instance and has joined no group."""
    async with instance.runtime.sessions() as session, session.begin():
        await actors.create_member(session, "iris", PASSWORD, "Iris", is_admin=True)


async def found(session: AsyncSession, *names: str) -> list[LocalActor]:
    rows = [await actors.find_actor(session, name) for name in names]
    return (
        [row for row in rows if row is not None]
        if all(rows)
        else pytest.fail(f"missing one of {names}")
    )


async def test_an_instance_admin_is_every_groups_admin_and_a_member_stays_a_member(
    instance: Instance,
) -> None:
    await people(instance)
    await instance_admin(instance)

    async with instance.runtime.sessions() as session:
        food, tools, iris, ben, carol, tess = await found(
            session, "food", "tools", "iris", "ben", "carol", "tess"
        )
        roles = {
            "iris in food": await role_in(session, food, iris),
            "iris in tools": await role_in(session, tools, iris),
            "ben in food": await role_in(session, food, ben),
            "carol in food": await role_in(session, food, carol),
            "tess in food": await role_in(session, food, tess),
        }

    assert roles == {
        "iris in food": Role.ADMIN,
        "iris in tools": Role.ADMIN,
        "ben in food": Role.MEMBER,
        "carol in food": Role.MODERATOR,
        "tess in food": None,
    }


async def test_an_instance_admin_posts_answers_and_changes_items_in_a_group_she_has_not_joined(
    instance: Instance,
) -> None:
    await people(instance)
    await instance_admin(instance)
    item = await posted(instance, ASK)
    uris = instance.runtime.uris

    async with instance.runtime.sessions() as session, session.begin():
        food, iris = await found(session, "food", "iris")
        row = await session.get(Item, item.id)
        assert row is not None
        answer = await posting.respond(session, uris, row, iris)
        answered = [r.member_id for r in await posting.responses(session, row, iris)]
        await posting.edit_item(session, uris, row, replace(ASK, title="Nappies, size 5"), by=iris)
        await posting.close_item(session, uris, row, Status.FULFILLED, by=iris)
        as_group = await posting.create_item(session, uris, food, iris, replace(ASK, as_group=True))

    assert answer.kind == ResponseKind.HELP and answered == [iris.id]
    after = await stored(instance, item)
    assert (after.title, after.status) == ("Nappies, size 5", Status.FULFILLED)
    assert as_group.as_group and as_group.author_id == iris.id


async def test_a_plain_member_still_may_not_change_anothers_item_and_an_outsider_may_not_answer(
    instance: Instance,
) -> None:
    await people(instance)
    item = await posted(instance, ASK)
    uris = instance.runtime.uris

    async with instance.runtime.sessions() as session, session.begin():
        food, dani, tess = await found(session, "food", "dani", "tess")
        row = await session.get(Item, item.id)
        assert row is not None
        with pytest.raises(NotAllowed):
            await posting.edit_item(session, uris, row, replace(ASK, title="Taken over"), by=dani)
        with pytest.raises(NotAllowed):
            await posting.close_item(session, uris, row, Status.WITHDRAWN, by=dani)
        with pytest.raises(NotAllowed):
            await posting.delete_item(session, uris, row, by=dani)
        with pytest.raises(NotAllowed):
            await posting.responses(session, row, dani)
        with pytest.raises(NotAllowed):
            await posting.respond(session, uris, row, tess)
        with pytest.raises(NotAllowed):
            await posting.create_item(session, uris, food, tess, ASK)

    after = await stored(instance, item)
    assert (after.title, after.status, after.deleted_at) == (ASK.title, Status.OPEN, None)


async def test_on_the_pages_an_instance_admin_answers_edits_and_removes_as_the_domain_lets_her(
    instance: Instance,
) -> None:
    await people(instance)
    await instance_admin(instance)
    item = await posted(instance, ASK)
    other = await posted(instance, Draft(Kind.OFFER, "Soup on Fridays", category="food"))

    async with browser(instance, "iris") as iris:
        page = await iris.get(f"/items/{item.uuid}")
        token = Page(page.text).csrf or ""
        answered = await iris.post(f"/items/{item.uuid}/respond", data={"csrf_token": token})
        after = await iris.get(f"/items/{item.uuid}")
        edit_form = await iris.get(f"/items/{item.uuid}/edit")
        removed = await iris.post(
            f"/groups/food/moderation/items/{other.uuid}/delete",
            data={"csrf_token": token, "confirm": "yes"},
        )
    async with browser(instance, "dani") as dani:
        refused = await dani.get(f"/items/{item.uuid}/edit")

    assert 'action="/items/' + item.uuid + '/respond"' in page.text
    assert answered.status_code == 303 and "You said you can help." in after.text
    assert edit_form.status_code == 200 and "Nappies, size 4" in edit_form.text
    assert removed.status_code == 303 and (await stored(instance, other)).deleted_at is not None
    assert refused.status_code == 403
