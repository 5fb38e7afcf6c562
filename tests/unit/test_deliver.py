"""Delivery signing: the body digested once per activity, each inbox signed at send time."""

from datetime import UTC, datetime

import httpx
import pytest

from federation import keys
from federation.errors import SignatureError
from federation.keys import SigningKey, VerificationKey
from federation.signatures import verify
from outbox.deliver import CONTENT_TYPE, DeliveryAuth, Payload
from tests.receiver import StaticKeys

KEY_ID = "https://us.example/actors/food#main-key"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(KEY_ID, keys.generate_private_key())


def lookup(key: SigningKey) -> StaticKeys:
    return StaticKeys({KEY_ID: VerificationKey(KEY_ID, KEY_ID.split("#")[0], key.private_key.public_key())})


def request(payload: Payload, url: str = "https://them.example/inbox") -> httpx.Request:
    return httpx.Request("POST", url, content=payload.body, headers={"Content-Type": CONTENT_TYPE})


async def test_the_first_knock_is_draft_cavage_covering_what_mastodon_requires(key: SigningKey) -> None:
    payload = Payload.of({"id": "https://us.example/activities/1", "type": "Create", "content": "ñ"})
    flow = DeliveryAuth(key, payload, {}, lambda: datetime.now(UTC)).auth_flow(request(payload))
    signed = next(flow)
    assert 'headers="(request-target) host date digest"' in signed.headers["signature"]
    assert signed.headers["digest"] == payload.digest
    assert await verify("POST", str(signed.url), signed.headers, payload.body, lookup(key)) == KEY_ID


async def test_a_401_gets_a_second_knock_in_rfc_9421_and_the_origin_is_remembered(key: SigningKey) -> None:
    payload = Payload.of({"id": "https://us.example/activities/2"})
    schemes: dict[str, str] = {}
    flow = DeliveryAuth(key, payload, schemes, lambda: datetime.now(UTC)).auth_flow(request(payload))  # type: ignore[arg-type]
    first = next(flow)
    second = flow.send(httpx.Response(401, request=first))
    assert "signature-input" in second.headers and "digest" not in second.headers
    assert await verify("POST", str(second.url), second.headers, payload.body, lookup(key)) == KEY_ID
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(202, request=second))
    assert schemes == {"https://them.example": "rfc9421"}


async def test_a_tampered_body_does_not_verify(key: SigningKey) -> None:
    payload = Payload.of({"id": "https://us.example/activities/3"})
    signed = next(DeliveryAuth(key, payload, {}, lambda: datetime.now(UTC)).auth_flow(request(payload)))
    with pytest.raises(SignatureError, match="[Dd]igest"):
        await verify("POST", str(signed.url), signed.headers, payload.body + b" ", lookup(key))
