"""The HTML pages' foundation: signing in and out, CSRF, rate limiting, the CSP, the group page,
and the accessibility basics (labelled controls, one h1, landmarks)."""

import pytest

from federation.itemterms import Kind
from federation.visibility import Visibility
from models import actors, posting
from models.posting import Draft
from tests.instances import Instance
from tests.web import GENERIC_ERROR, PASSWORD, Page, set_password, sign_in, signed_in_as


async def test_signing_in_sets_an_httponly_lax_session_cookie_and_signs_the_member_in(
    instance: Instance,
) -> None:
    await set_password(instance)

    response = await sign_in(instance.http, "ana", PASSWORD)

    assert response.status_code == 303 and response.headers["location"] == "/@food"  # her group
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith("ayni_session=") and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # served over http in this test
    assert await signed_in_as(instance.http) == "ana"


async def test_a_wrong_password_and_an_unknown_user_get_the_same_generic_error(
    instance: Instance,
) -> None:
    await set_password(instance)

    wrong = await sign_in(instance.http, "ana", "not the password at all")
    unknown = await sign_in(instance.http, "nobody", "not the password at all")
    group = await sign_in(instance.http, "food", PASSWORD)

    for response in (wrong, unknown, group):
        assert response.status_code == 400
        assert GENERIC_ERROR in response.text
    assert await signed_in_as(instance.http) is None


async def test_a_member_without_a_password_cannot_sign_in(instance: Instance) -> None:
    response = await sign_in(instance.http, "ana", "")

    assert response.status_code == 400
    assert await signed_in_as(instance.http) is None


async def test_the_sixth_failure_in_a_row_is_refused_even_with_the_right_password(
    instance: Instance,
) -> None:
    await set_password(instance)
    for _ in range(5):
        assert (await sign_in(instance.http, "ana", "guess guess guess")).status_code == 400

    sixth = await sign_in(instance.http, "ana", PASSWORD)

    assert sixth.status_code == 429
    assert await signed_in_as(instance.http) is None


@pytest.mark.parametrize("token", [None, "forged-token"])
async def test_a_post_without_the_sessions_csrf_token_is_refused(
    instance: Instance, token: str | None
) -> None:
    await set_password(instance)
    await instance.http.get("/login")  # the session now holds a token the attacker does not know
    data = {"username": "ana", "password": PASSWORD} | ({"csrf_token": token} if token else {})

    response = await instance.http.post("/login", data=data)

    assert response.status_code == 403
    assert await signed_in_as(instance.http) is None


async def test_sign_out_needs_the_csrf_token_and_then_ends_the_session(instance: Instance) -> None:
    await set_password(instance)
    await sign_in(instance.http, "ana", PASSWORD)
    home = Page((await instance.http.get("/")).text)
    assert home.csrf

    forged = await instance.http.post("/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 403 and await signed_in_as(instance.http) == "ana"

    response = await instance.http.post("/logout", data={"csrf_token": home.csrf})

    assert response.status_code == 303
    assert await signed_in_as(instance.http) is None


@pytest.mark.parametrize("path", ["/", "/login", "/@food", "/@ana"])
async def test_html_pages_have_a_strict_csp_one_h1_landmarks_and_labelled_controls(
    instance: Instance, path: str
) -> None:
    response = await instance.http.get(path)

    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    page = Page(response.text)
    assert page.h1 == 1
    assert page.landmarks == {"header", "nav", "main", "footer"}
    assert not page.unlabelled()
    if path in {"/login", "/@food"}:
        assert page.controls  # the forms these pages exist for were really checked


async def test_the_stylesheet_is_served(instance: Instance) -> None:
    response = await instance.http.get("/static/ayni.css")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")


async def test_json_responses_do_not_get_a_session_cookie(instance: Instance) -> None:
    response = await instance.http.get(
        "/actors/food", headers={"Accept": "application/activity+json"}
    )

    assert "set-cookie" not in response.headers


async def test_the_group_page_lists_public_items_only_and_names_no_member_for_group_posts(
    instance: Instance,
) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        ana.name = "Ana Quispe"
        uris = instance.runtime.uris
        await posting.create_item(
            session, uris, group, ana, Draft(Kind.ASK, "Nappies for a newborn", as_group=True)
        )
        await posting.create_item(
            session,
            uris,
            group,
            ana,
            Draft(
                Kind.ASK,
                "Rent support for the Flores family",
                visibility=Visibility.MEMBERS,
                as_group=True,
            ),
        )
        await posting.create_item(session, uris, group, ana, Draft(Kind.OFFER, "Soup on Fridays"))

    page = (await instance.http.get("/@food")).text

    assert "@food@127.0.0.1:8101" in page
    assert "Nappies for a newborn" in page
    assert "Rent support" not in page
    assert "Soup on Fridays" in page
    assert page.count("Ana Quispe") == 1  # her own offer names her; the group's ask does not
    asks_only = (await instance.http.get("/@food?kind=ask")).text
    assert "Nappies for a newborn" in asks_only and "Soup on Fridays" not in asks_only
    fulfilled = (await instance.http.get("/@food?status=fulfilled")).text
    assert "Nappies for a newborn" not in fulfilled


async def test_the_home_page_lists_the_instances_groups(instance: Instance) -> None:
    page = (await instance.http.get("/")).text

    assert 'href="/@food"' in page and "Food Share" in page
    assert "/@ana" not in page
