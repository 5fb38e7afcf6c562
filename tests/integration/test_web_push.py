"""Web Push from the settings page: the key and (un)subscribe routes need a signed-in member
and the page's CSRF token, say plainly what is wrong with a subscription, and the service
worker is served from the root as JavaScript."""

import base64
import os
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from models import push
from models.push import PushSubscription
from tests.instances import Instance, start_instance
from tests.web import PASSWORD, Page, set_password, sign_in

BASE_URL = "http://127.0.0.1:8031"
ENDPOINT = "https://push.example/send/abc"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def browser_keys() -> dict[str, str]:
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {"p256dh": b64(point), "auth": b64(os.urandom(16))}


@pytest.fixture
async def instance(database_url: str) -> AsyncIterator[Instance]:
    async with start_instance(BASE_URL, database_url) as running:
        await set_password(running)
        yield running


async def signed_in(instance: Instance) -> str:
    """Signs ana in and returns the CSRF token of her settings page's push form."""
    await sign_in(instance.http, "ana", PASSWORD)
    token = Page((await instance.http.get("/my/account")).text).csrf
    assert token
    return token


async def stored(instance: Instance) -> list[str]:
    async with instance.runtime.sessions() as session:
        return list(await session.scalars(select(PushSubscription.endpoint)))


async def test_the_settings_page_offers_push_hidden_until_the_script_shows_it(
    instance: Instance,
) -> None:
    await signed_in(instance)

    page = await instance.http.get("/my/account")

    assert page.status_code == 200
    assert '<section id="push" aria-labelledby="push-heading" hidden>' in page.text
    assert "Turn on notifications on this device" in page.text
    assert '<script src="/static/push.js" defer></script>' in page.text
    policy = page.headers["content-security-policy"]
    assert "worker-src 'self'" in policy and "unsafe-inline" not in policy
    script = await instance.http.get("/static/push.js")
    assert script.status_code == 200 and "pushManager.subscribe" in script.text


async def test_the_service_worker_is_served_from_the_root_as_javascript(
    instance: Instance,
) -> None:
    answer = await instance.http.get("/sw.js")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/javascript")
    assert "showNotification" in answer.text and "notificationclick" in answer.text
    assert answer.headers["cache-control"] == "no-cache"


async def test_signed_out_nothing_is_given_or_kept(instance: Instance) -> None:
    key = await instance.http.get("/my/push/key")
    answer = await instance.http.post(
        "/my/push/subscribe", data={"endpoint": ENDPOINT, **browser_keys()}
    )

    assert key.status_code == 401 and answer.status_code == 401
    assert answer.json() == {"error": "Sign in first."}
    assert await stored(instance) == []


async def test_subscribing_without_the_csrf_token_is_refused(instance: Instance) -> None:
    token = await signed_in(instance)

    missing = await instance.http.post(
        "/my/push/subscribe", data={"endpoint": ENDPOINT, **browser_keys()}
    )
    wrong = await instance.http.post(
        "/my/push/subscribe",
        data={"csrf_token": token + "x", "endpoint": ENDPOINT, **browser_keys()},
    )

    assert missing.status_code == 403 and wrong.status_code == 403
    assert await stored(instance) == []


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("p256dh", b64(b"\x04" + bytes(64)), "p256dh is not a point on P-256"),
        ("p256dh", b64(b"short"), "p256dh is not an uncompressed P-256 public key"),
        ("auth", b64(b"12345678"), "auth is not a 16-byte secret"),
        ("endpoint", "ftp://push.example/x", "the endpoint is not an https URL"),
    ],
)
async def test_a_subscription_with_bad_keys_is_a_clear_400(
    instance: Instance, field: str, value: str, reason: str
) -> None:
    token = await signed_in(instance)
    form = {"csrf_token": token, "endpoint": ENDPOINT, **browser_keys(), field: value}

    answer = await instance.http.post("/my/push/subscribe", data=form)

    assert answer.status_code == 400
    assert answer.json() == {
        "error": "This browser's subscription could not be used.",
        "reason": reason,
    }
    assert await stored(instance) == []


async def test_a_member_turns_push_on_and_off_for_her_browser(instance: Instance) -> None:
    token = await signed_in(instance)
    keys = browser_keys()

    key = await instance.http.get("/my/push/key")
    on = await instance.http.post(
        "/my/push/subscribe", data={"csrf_token": token, "endpoint": ENDPOINT, **keys}
    )

    assert key.status_code == 200 and on.status_code == 200
    async with instance.runtime.sessions() as session, session.begin():
        assert key.json() == {"key": await push.public_key(session)}
    assert on.json() == {"subscribed": True}
    assert await stored(instance) == [ENDPOINT]

    off = await instance.http.post(
        "/my/push/unsubscribe", data={"csrf_token": token, "endpoint": ENDPOINT}
    )
    assert off.status_code == 200 and off.json() == {"subscribed": False}
    assert await stored(instance) == []


async def test_the_push_texts_are_in_spanish_too(instance: Instance) -> None:
    await signed_in(instance)

    page = await instance.http.get("/my/account", headers={"Accept-Language": "es"})

    assert "Notificaciones en este dispositivo" in page.text
    assert "Activar las notificaciones en este dispositivo" in page.text
