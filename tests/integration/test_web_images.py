"""A group's avatar and banner: its admins upload them on the members page; what comes back is
re-encoded without any metadata, at a fixed size, under an address holding its hash, and the
Group names it as `icon` and `image` for Mastodon. Too big, too many pixels or not an image is
refused, and only the group's admins may upload.

People: ana (admin of food), mo (moderator of food), ben (member of food)."""

import io
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from ayni import following
from models import actors, group_settings, profiles
from models.remote import RemoteActor
from tests.instances import Instance, settle
from tests.integration.test_web_moderation import add_people, browser
from tests.web import csrf

GROUP = "http://127.0.0.1:8101/actors/food"
AS2 = {"Accept": "application/activity+json"}


def photo_with_gps(size: tuple[int, int] = (800, 600)) -> bytes:
    """A JPEG as a phone takes it: EXIF with a camera and the GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0132] = "2026:01:02 03:04:05"  # DateTime
    exif[0x8825] = {1: "N", 2: (40.0, 25.0, 1.0), 3: "W", 4: (3.0, 42.0, 2.0)}  # GPSInfo
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 40)).save(out, "JPEG", exif=exif, comment=b"secret")
    return out.getvalue()


def png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("L", size).save(out, "PNG")
    return out.getvalue()


async def upload(http: httpx.AsyncClient, role: str, data: bytes, **fields: str) -> Any:
    token = await csrf(http, "/groups/food/members") if "csrf_token" not in fields else None
    form = {"csrf_token": token, **fields} if token else fields
    return await http.post(
        f"/groups/food/images/{role}",
        data=form,
        files={"image": ("photo.jpg", data, "image/jpeg")},
    )


@pytest.fixture
async def food(instance: Instance) -> Instance:
    await add_people(instance)
    return instance


async def test_an_admin_uploads_an_avatar_that_comes_back_without_any_metadata(
    food: Instance,
) -> None:
    sent = photo_with_gps()
    assert Image.open(io.BytesIO(sent)).getexif().get_ifd(0x8825)  # the fixture has a position

    async with browser(food, "ana") as ana:
        response = await upload(ana, "avatar", sent)
        assert response.status_code == 303
        assert response.headers["location"] == "/groups/food/members#images"
        page = (await ana.get("/groups/food/members")).text
    assert "The group&#39;s avatar was saved." in page

    document = (await food.http.get("/actors/food", headers=AS2)).json()
    icon = document["icon"]
    assert icon["type"] == "Image" and icon["mediaType"] == "image/jpeg"
    assert icon["name"] == "Food Share" and "image" not in document
    assert icon["url"].startswith("http://127.0.0.1:8101/images/")
    served = await food.http.get(icon["url"].removeprefix("http://127.0.0.1:8101"))
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert "immutable" in served.headers["cache-control"]
    assert "max-age=31536000" in served.headers["cache-control"]
    got = Image.open(io.BytesIO(served.content))
    assert got.size == (400, 400)
    assert len(got.getexif()) == 0 and not got.getexif().get_ifd(0x8825)
    assert "exif" not in got.info and "comment" not in got.info
    assert b"PhoneMaker" not in served.content and b"secret" not in served.content


async def test_the_banner_is_the_groups_image_and_both_show_on_its_page(food: Instance) -> None:
    async with browser(food, "ana") as ana:
        assert (await upload(ana, "banner", photo_with_gps((3000, 1200)))).status_code == 303
        assert (await upload(ana, "avatar", png((500, 500)))).status_code == 303

    document = (await food.http.get("/actors/food", headers=AS2)).json()
    banner = document["image"]
    assert banner["type"] == "Image" and banner["mediaType"] == "image/jpeg"
    served = await food.http.get(banner["url"].removeprefix("http://127.0.0.1:8101"))
    assert Image.open(io.BytesIO(served.content)).size == (1500, 500)
    page = (await food.http.get("/@food")).text
    assert f'<img class="banner" src="{banner["url"]}" alt="Food Share"' in page
    assert f'<img class="avatar" src="{document["icon"]["url"]}" alt="Food Share"' in page


async def test_a_new_avatar_gets_a_new_address_and_the_old_one_is_gone(food: Instance) -> None:
    async with browser(food, "ana") as ana:
        await upload(ana, "avatar", photo_with_gps())
        first = (await food.http.get("/actors/food", headers=AS2)).json()["icon"]["url"]
        await upload(ana, "avatar", png((300, 300)))
    second = (await food.http.get("/actors/food", headers=AS2)).json()["icon"]["url"]

    assert first != second
    assert (await food.http.get(first.removeprefix("http://127.0.0.1:8101"))).status_code == 404
    assert (await food.http.get("/images/not-a-digest.jpg")).status_code == 404


async def test_a_file_over_the_cap_is_refused_with_413(food: Instance) -> None:
    async with browser(food, "ana") as ana:
        response = await upload(ana, "avatar", b"\xff" * (9 * 1024 * 1024))

    assert response.status_code == 413
    assert "icon" not in (await food.http.get("/actors/food", headers=AS2)).json()


async def test_a_decompression_bomb_is_refused_with_a_clear_400(food: Instance) -> None:
    bomb = png((10_000, 10_000))  # 100 megapixels of zeros: a few kilobytes compressed
    assert len(bomb) < 200_000

    async with browser(food, "ana") as ana:
        response = await upload(ana, "avatar", bomb)

    assert response.status_code == 400
    assert "The image has too many pixels" in response.text
    assert "icon" not in (await food.http.get("/actors/food", headers=AS2)).json()


@pytest.mark.parametrize("data", [b"GIF89a not really", b"<svg onload=alert(1)>", b""])
async def test_a_file_that_is_not_an_image_is_refused_with_a_400(
    food: Instance, data: bytes
) -> None:
    async with browser(food, "ana") as ana:
        response = await upload(ana, "avatar", data)

    assert response.status_code == 400
    assert "not an image we can use" in response.text or "Choose an image file" in response.text


@pytest.mark.parametrize("who, status", [("mo", 403), ("ben", 403), (None, 303)])
async def test_only_the_groups_admins_upload(food: Instance, who: str | None, status: int) -> None:
    async with browser(food, who) as http:
        token = await csrf(http, "/login")
        response = await http.post(
            "/groups/food/images/avatar",
            data={"csrf_token": token},
            files={"image": ("a.jpg", photo_with_gps(), "image/jpeg")},
        )

    assert response.status_code == status
    assert "icon" not in (await food.http.get("/actors/food", headers=AS2)).json()


async def test_an_upload_without_the_forms_token_is_refused(food: Instance) -> None:
    async with browser(food, "ana") as ana:
        response = await upload(ana, "avatar", photo_with_gps(), csrf_token="forged")

    assert response.status_code == 403
    assert "icon" not in (await food.http.get("/actors/food", headers=AS2)).json()


async def test_a_new_avatar_and_area_reach_the_servers_that_follow_the_group(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    await add_people(a)
    await following.follow_handle(b.runtime, "food", "@food@127.0.0.1:8101")
    await settle(a, b)

    async with browser(a, "ana") as ana:
        assert (await upload(ana, "avatar", photo_with_gps())).status_code == 303
    await settle(a, b)
    icon = (await a.http.get("/actors/food", headers=AS2)).json()["icon"]["url"]
    assert (await copy_at(b)).document["icon"]["url"] == icon

    async with a.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        group_settings.change(food, service=("40.4168,-3.7038", 12))
        await profiles.announce(session, a.runtime, food)
    await settle(a, b)

    copy = await copy_at(b)
    assert (copy.area_latitude, copy.area_longitude, copy.area_radius_km) == (40.415, -3.7, 12)


async def copy_at(instance: Instance) -> RemoteActor:
    """The instance's copy of A's food group."""
    async with instance.runtime.sessions() as session:
        copy = await session.scalar(select(RemoteActor).where(RemoteActor.uri == GROUP))
    assert copy is not None
    return copy
