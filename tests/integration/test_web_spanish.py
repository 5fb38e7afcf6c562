"""The pages in Spanish: a browser asking for Spanish gets the Spanish catalogue, on a signed-in
page, in a form's errors and in a message made in Python. Each assertion names a translated
sentence, so a broken or missing catalogue fails here."""

from tests.instances import Instance
from tests.web import PASSWORD, csrf, set_password, sign_in

SPANISH = {"Accept-Language": "es-PE,es;q=0.9,en;q=0.5"}


async def test_a_signed_in_page_and_a_form_error_are_in_spanish(instance: Instance) -> None:
    await set_password(instance)
    assert (await sign_in(instance.http, "ana", PASSWORD)).status_code == 303
    instance.http.headers.update(SPANISH)

    page = await instance.http.get("/my/items")

    assert page.status_code == 200 and '<html lang="es">' in page.text
    assert "Sesión iniciada como ana" in page.text and "Cerrar sesión" in page.text
    assert "<h1>Mis publicaciones</h1>" in page.text
    assert "Todavía no publicaste nada." in page.text
    assert "Signed in as" not in page.text

    refused = await instance.http.post(
        "/post",
        data={
            "csrf_token": await csrf(instance.http, "/post"),
            "group": "food",
            "kind": "ask",
            "title": "",
            "category": "goods",
            "timezone": "America/Lima",
            "visibility": "public",
            "as_group": "yes",
        },
    )

    assert refused.status_code == 400
    assert "Ponle un título corto." in refused.text
    assert "Give it a short title." not in refused.text


async def test_a_message_made_in_python_is_in_spanish(instance: Instance) -> None:
    await set_password(instance)

    refused = await instance.http.post(
        "/login",
        headers=SPANISH,
        data={
            "csrf_token": await csrf(instance.http),
            "username": "ana",
            "password": "not the password",
        },
    )

    assert "Ese nombre de usuario y esa contraseña no coinciden." in refused.text


async def test_the_default_category_names_are_shown_in_spanish(instance: Instance) -> None:
    await set_password(instance)
    assert (await sign_in(instance.http, "ana", PASSWORD)).status_code == 303
    instance.http.headers.update(SPANISH)

    form = await instance.http.get(
        "/post"
    )  # the group's first use of categories creates the defaults
    group_page = await instance.http.get("/@food")

    for page in (form, group_page):
        assert page.status_code == 200
        assert ">Alimentos</option>" in page.text and ">Vivienda</option>" in page.text
        assert ">Food</option>" not in page.text
