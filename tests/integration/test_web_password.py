"""A member changes her own password on `/my/account`."""

import re

import httpx

from tests.instances import Instance
from tests.web import PASSWORD, csrf, set_password, sign_in, signed_in_as

NEW = "a much newer passphrase"


def error_of(page: str, field: str) -> str | None:
    """The error shown next to a field, as the page ties it to the field."""
    found = re.search(rf'<p class="error" role="alert" id="{field}-error">([^<]*)</p>', page)
    return found.group(1) if found else None


async def change(http: httpx.AsyncClient, current: str, new: str, again: str) -> httpx.Response:
    return await http.post(
        "/my/account/password",
        data={
            "csrf_token": await csrf(http, "/my/account"),
            "current_password": current,
            "new_password": new,
            "new_password_again": again,
        },
    )


async def test_she_changes_her_password_and_her_other_browsers_are_signed_out(
    instance: Instance,
) -> None:
    await set_password(instance)
    http = instance.http
    elsewhere = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=instance.app), base_url=instance.settings.base_url
    )
    async with elsewhere:
        assert (await sign_in(http, "ana", PASSWORD)).status_code == 303
        assert (await sign_in(elsewhere, "ana", PASSWORD)).status_code == 303

        changed = await change(http, PASSWORD, NEW, NEW)

        assert changed.status_code == 303
        page = (await http.get("/my/account")).text
        assert "Your password is changed." in page
        assert await signed_in_as(http) == "ana"
        assert await signed_in_as(elsewhere) is None
    assert (await sign_in(http, "ana", PASSWORD)).status_code == 400
    assert (await sign_in(http, "ana", NEW)).status_code == 303


async def test_each_mistake_is_shown_next_to_its_field_and_changes_nothing(
    instance: Instance,
) -> None:
    await set_password(instance)
    http = instance.http
    assert (await sign_in(http, "ana", PASSWORD)).status_code == 303

    wrong = await change(http, "not my password", NEW, NEW)
    differ = await change(http, PASSWORD, NEW, NEW + "!")
    short = await change(http, PASSWORD, "short", "short")
    forged = await http.post(
        "/my/account/password",
        data={"current_password": PASSWORD, "new_password": NEW, "new_password_again": NEW},
    )

    assert [r.status_code for r in (wrong, differ, short)] == [400, 400, 400]
    assert error_of(wrong.text, "current_password") == "That is not your current password."
    assert error_of(differ.text, "new_password_again") == "The two new passwords differ."
    assert error_of(short.text, "new_password") == "A password needs at least 10 characters."
    assert error_of(differ.text, "current_password") is None
    assert forged.status_code == 403
    assert await signed_in_as(http) == "ana"
    assert (await sign_in(http, "ana", PASSWORD)).status_code == 303


async def test_the_form_speaks_spanish(instance: Instance) -> None:
    await set_password(instance)
    http = instance.http
    assert (await sign_in(http, "ana", PASSWORD)).status_code == 303

    wrong = await http.post(
        "/my/account/password",
        headers={"Accept-Language": "es"},
        data={
            "csrf_token": await csrf(http, "/my/account"),
            "current_password": "no es la mía",
            "new_password": NEW,
            "new_password_again": NEW,
        },
    )

    assert "Contraseña actual" in wrong.text
    assert error_of(wrong.text, "current_password") == "Esa no es tu contraseña actual."
