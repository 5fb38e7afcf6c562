"""What every page builds on: invitation tokens, role checks, sign-in redirects, the language
choice and the error pages."""

import html
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from starlette.exceptions import HTTPException

from ayni.web import access
from models import actors, invitations, passwords
from models.actors import Role
from models.base import utcnow
from models.invitations import Invitation, InvitationInvalid
from tests.instances import Instance
from tests.web import PASSWORD, csrf, set_password, sign_in, signed_in_as


async def test_an_invitation_joins_the_new_member_with_its_role_once(instance: Instance) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        token = await invitations.invite(session, food, Role.MODERATOR)

    async with instance.runtime.sessions() as session, session.begin():
        carla = await invitations.accept(
            session, token, "carla", passwords.hash_password(PASSWORD), "Carla"
        )
        assert await actors.role_in(session, food, carla) == Role.MODERATOR
        stored = await session.scalar(select(Invitation))
        assert stored is not None and stored.token_hash != token and stored.used_by_id == carla.id

    async with instance.runtime.sessions() as session:
        with pytest.raises(InvitationInvalid):
            await invitations.accept(session, token, "dani", passwords.hash_password(PASSWORD))
        assert await actors.find_actor(session, "dani") is None


async def test_an_expired_or_unknown_invitation_is_refused(instance: Instance) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        token = await invitations.invite(session, food, valid_for=timedelta(seconds=-1))

    async with instance.runtime.sessions() as session:
        for attempt in (token, "made-up"):
            with pytest.raises(InvitationInvalid):
                await invitations.usable(session, attempt, now=utcnow())


async def test_roles_rank_and_an_instance_admin_acts_in_every_group(instance: Instance) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert food is not None and ana is not None
        ben = await actors.create_member(session, "ben", PASSWORD)
        root = await actors.create_member(session, "root", PASSWORD, is_admin=True)
        await actors.join_group(session, food, ben, Role.MEMBER)

        assert await access.group(session, "food", ben, Role.MEMBER) == food
        with pytest.raises(HTTPException) as refused:
            await access.group(session, "food", ben, Role.MODERATOR)
        assert refused.value.status_code == 403
        assert await access.group(session, "food", root, Role.ADMIN) == food
        with pytest.raises(HTTPException) as missing:
            await access.group(session, "nothing", root, Role.MEMBER)
        assert missing.value.status_code == 404
        assert [g.username for g in await access.groups_of(session, ben, Role.MODERATOR)] == []
        assert [g.username for g in await access.groups_of(session, root, Role.ADMIN)] == ["food"]


@pytest.mark.parametrize(
    "next_path, lands_on",
    [
        ("/my/items", "/my/items"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil", "/"),
    ],
)
async def test_signing_in_returns_only_to_a_page_of_this_site(
    instance: Instance, next_path: str, lands_on: str
) -> None:
    await set_password(instance)
    token = await csrf(instance.http)

    response = await instance.http.post(
        "/login",
        data={"csrf_token": token, "username": "ana", "password": PASSWORD, "next": next_path},
    )

    assert response.status_code == 303 and response.headers["location"] == lands_on


async def test_the_login_form_carries_where_to_go_next(instance: Instance) -> None:
    page = await instance.http.get("/login", params={"next": "/post?kind=ask"})

    assert 'name="next" value="/post?kind=ask"' in page.text


async def test_a_chosen_language_is_remembered_and_only_known_languages_are_accepted(
    instance: Instance,
) -> None:
    chosen = await instance.http.get("/language/es", params={"next": "/login"})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/login"
    assert instance.http.cookies.get("ayni_lang") == "es"
    assert '<html lang="es">' in (await instance.http.get("/login")).text

    await instance.http.get("/language/xx")
    assert instance.http.cookies.get("ayni_lang") == "es"


async def test_the_browsers_language_is_used_when_none_was_chosen(instance: Instance) -> None:
    page = await instance.http.get(
        "/login", headers={"Accept-Language": "fr;q=1, es-AR;q=0.8, en;q=0.5"}
    )

    assert '<html lang="es">' in page.text


async def test_an_error_is_a_page_for_browsers_and_text_for_programs(instance: Instance) -> None:
    await set_password(instance)
    await sign_in(instance.http, "ana", PASSWORD)
    assert await signed_in_as(instance.http) == "ana"

    browser = await instance.http.post(
        "/logout", data={"csrf_token": "forged"}, headers={"Accept": "text/html"}
    )
    program = await instance.http.post("/logout", data={"csrf_token": "forged"})

    assert browser.status_code == program.status_code == 403
    assert browser.headers["content-type"].startswith("text/html") and "<h1>" in browser.text
    assert program.headers["content-type"].startswith("text/plain")
    assert "form expired" in program.text


async def test_the_language_links_come_back_to_the_same_page_and_query(instance: Instance) -> None:
    page = (await instance.http.get("/@food", params={"kind": "ask"})).text
    link = re.search(r'href="(/language/es\?next=[^"]+)"', page)
    assert link is not None

    chosen = await instance.http.get(html.unescape(link.group(1)))

    assert chosen.headers["location"] == "/@food?kind=ask"


async def test_after_signing_in_a_member_lands_on_her_group(instance: Instance) -> None:
    await set_password(instance)  # ana, admin of food
    token = await csrf(instance.http)

    response = await instance.http.post(
        "/login", data={"csrf_token": token, "username": "ana", "password": PASSWORD}
    )

    assert response.status_code == 303 and response.headers["location"] == "/@food"


async def test_an_instance_admin_with_no_group_lands_on_the_admin_pages(instance: Instance) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        await actors.create_member(session, "root", PASSWORD, is_admin=True)
        await actors.create_member(session, "newcomer", PASSWORD)
    landings = []
    for name in ("root", "newcomer"):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=instance.app), base_url=instance.settings.base_url
        ) as http:
            landings.append((await sign_in(http, name, PASSWORD)).headers["location"])

    assert landings == ["/admin", "/"]
