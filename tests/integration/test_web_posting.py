"""From an invitation link to a published ask: joining with a password, the post form and what it
refuses (personal data, groups one is not in, forged forms)."""

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import actors, invitations, passwords
from models.actors import Role
from models.items import Item
from outbox.items import role_in
from tests.instances import Instance
from tests.web import Page, csrf, signed_in_as

NEW_PASSWORD = "lentils and rice for all"


async def invitation(instance: Instance, role: Role = Role.MEMBER, valid_for: timedelta | None = None) -> str:
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        if valid_for is None:
            return await invitations.invite(session, food, role)
        return await invitations.invite(session, food, role, valid_for=valid_for)


async def join(http: httpx.AsyncClient, token: str, **fields: str) -> httpx.Response:
    data = {"username": "carla", "display_name": "Carla Mamani", "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD} | fields
    return await http.post(f"/invite/{token}", data={"csrf_token": await csrf(http, f"/invite/{token}"), **data})


async def item_count(instance: Instance) -> int:
    async with instance.runtime.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Item)) or 0


# --- the invitation page ---

async def test_the_invitation_page_names_the_group_and_role_and_explains_the_username(instance: Instance) -> None:
    token = await invitation(instance, Role.MODERATOR)

    response = await instance.http.get(f"/invite/{token}")

    assert response.status_code == 200
    assert "Food Share" in response.text and "moderator" in response.text
    assert "@name@127.0.0.1:8101" in response.text and "anonymously as the group" in response.text
    page = Page(response.text)
    assert page.h1 == 1 and page.landmarks == {"header", "nav", "main", "footer"}
    assert page.unlabelled() == [] and len(page.controls) == 4


async def test_accepting_an_invitation_creates_the_member_signs_her_in_and_goes_to_the_post_form(
    instance: Instance,
) -> None:
    token = await invitation(instance)

    response = await join(instance.http, token)

    assert response.status_code == 303 and response.headers["location"] == "/post"
    assert await signed_in_as(instance.http) == "carla"
    async with instance.runtime.sessions() as session:
        carla = await actors.find_actor(session, "carla")
        food = await actors.find_actor(session, "food")
        assert carla is not None and food is not None and carla.name == "Carla Mamani"
        assert carla.password_hash and passwords.verify_password(carla.password_hash, NEW_PASSWORD)
        assert await role_in(session, food, carla) == Role.MEMBER
    # The link is used up
    again = await instance.http.get(f"/invite/{token}", headers={"Accept": "text/html"})
    assert again.status_code == 404 and "unknown, was already used or has expired" in again.text


@pytest.mark.parametrize("fields, message", [
    ({"username": "ana"}, "That username is taken"),
    ({"username": "FOOD"}, "That username is taken"),
    ({"username": "carla mamani"}, "lowercase letters, digits or _"),
    ({"password_again": "something else entirely"}, "The two passwords are not the same."),
    ({"password": "short", "password_again": "short"}, "at least 10 characters"),
])
async def test_a_bad_username_or_password_is_refused_and_the_fields_are_kept(
    instance: Instance, fields: dict[str, str], message: str
) -> None:
    token = await invitation(instance)

    response = await join(instance.http, token, **fields)

    assert response.status_code == 400
    assert message in response.text and 'role="alert"' in response.text
    assert 'value="Carla Mamani"' in response.text
    assert NEW_PASSWORD not in response.text  # passwords are never echoed back
    assert await signed_in_as(instance.http) is None
    async with instance.runtime.sessions() as session:
        assert await actors.find_actor(session, "carla") is None
        assert [i.used_at for i in await invitations.pending(session, await _food(session))] == [None]


async def _food(session: AsyncSession) -> actors.LocalActor:
    found = await actors.find_actor(session, "food")
    assert found is not None
    return found


@pytest.mark.parametrize("kind", ["unknown", "expired"])
async def test_an_unknown_or_expired_link_gets_one_not_found_page(instance: Instance, kind: str) -> None:
    token = "made-up-token" if kind == "unknown" else await invitation(instance, valid_for=timedelta(seconds=-1))

    page = await instance.http.get(f"/invite/{token}", headers={"Accept": "text/html"})
    posted = await instance.http.post(f"/invite/{token}", headers={"Accept": "text/html"}, data={
        "csrf_token": await csrf(instance.http, "/login"), "username": "carla",
        "password": NEW_PASSWORD, "password_again": NEW_PASSWORD,
    })

    for response in (page, posted):
        assert response.status_code == 404
        assert "unknown, was already used or has expired" in response.text
    async with instance.runtime.sessions() as session:
        assert await actors.find_actor(session, "carla") is None


async def test_accepting_an_invitation_needs_the_csrf_token(instance: Instance) -> None:
    token = await invitation(instance)
    await instance.http.get(f"/invite/{token}")

    response = await instance.http.post(f"/invite/{token}", data={
        "csrf_token": "forged", "username": "carla", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD,
    })

    assert response.status_code == 403
    async with instance.runtime.sessions() as session:
        assert await actors.find_actor(session, "carla") is None
