"""Delivery signing: the body digested once per activity, each inbox signed at send time."""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from ipaddress import ip_address

import httpx
import pytest

from federation import keys
from federation.addresses import IPAddress
from federation.client import Client
from federation.errors import SignatureError
from federation.keys import SigningKey, VerificationKey
from federation.sender import Answer, Sender, Target
from federation.signatures import SchemeMemory, SigningAuth, verify
from outbox.deliver import CONTENT_TYPE, DeliveryAuth, Payload, deliver
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
    flow = DeliveryAuth(key, payload, SchemeMemory(), lambda: datetime.now(UTC)).auth_flow(request(payload))
    signed = next(flow)
    assert 'headers="(request-target) host date digest"' in signed.headers["signature"]
    assert signed.headers["digest"] == payload.digest
    assert await verify("POST", str(signed.url), signed.headers, payload.body, lookup(key)) == KEY_ID


async def test_a_401_gets_a_second_knock_in_rfc_9421_and_the_origin_is_remembered(key: SigningKey) -> None:
    payload = Payload.of({"id": "https://us.example/activities/2"})
    schemes = SchemeMemory()
    flow = DeliveryAuth(key, payload, schemes, lambda: datetime.now(UTC)).auth_flow(request(payload))
    first = next(flow)
    second = flow.send(httpx.Response(401, request=first))
    assert "signature-input" in second.headers and "digest" not in second.headers
    assert await verify("POST", str(second.url), second.headers, payload.body, lookup(key)) == KEY_ID
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(202, request=second))
    assert schemes.first("https://them.example/users/ana") == "rfc9421"


async def test_a_tampered_body_does_not_verify(key: SigningKey) -> None:
    payload = Payload.of({"id": "https://us.example/activities/3"})
    signed = next(DeliveryAuth(key, payload, SchemeMemory(), lambda: datetime.now(UTC)).auth_flow(request(payload)))
    with pytest.raises(SignatureError, match="[Dd]igest"):
        await verify("POST", str(signed.url), signed.headers, payload.body + b" ", lookup(key))


# One scheme memory for fetches and deliveries -----------------------------------------------


def knocked_with(headers: Iterable[str]) -> str:
    return "rfc9421" if "signature-input" in {name.lower() for name in headers} else "cavage"


def wants_rfc9421(seen: list[str]) -> httpx.MockTransport:
    """A server that answers 401 to draft-cavage, as one that accepts only RFC 9421 does."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(knocked_with(request.headers))
        return httpx.Response(401 if seen[-1] == "cavage" else 202)

    return httpx.MockTransport(handle)


class WantsRfc9421(Sender):
    """The delivery road's Sender with the network swapped for that server."""

    def __init__(self, seen: list[str]) -> None:
        super().__init__("Ayni/test")
        self.seen = seen

    async def post(self, target: Target, body: bytes, headers: Sequence[tuple[str, str]]) -> Answer:
        self.seen.append(knocked_with(name for name, _ in headers))
        return Answer(401 if self.seen[-1] == "cavage" else 202)


async def public(host: str, port: int) -> list[IPAddress]:
    return [ip_address("93.184.215.99")]


async def signed_get(url: str, key: SigningKey, schemes: SchemeMemory, seen: list[str]) -> None:
    auth = SigningAuth(key, schemes=schemes)
    async with httpx.AsyncClient(transport=wants_rfc9421(seen), auth=auth) as client:
        assert (await client.get(url)).status_code == 202


async def delivered(url: str, key: SigningKey, schemes: SchemeMemory, seen: list[str], road: str) -> None:
    payload = Payload.of({"id": "https://us.example/activities/4", "type": "Create"})
    if road == "sender":
        outcome = await deliver(WantsRfc9421(seen), url, payload, key, schemes)
    else:
        async with Client("Ayni/test", transport=wants_rfc9421(seen), resolve=public) as client:
            outcome = await deliver(client, url, payload, key, schemes)
    assert outcome.status == 202


@pytest.mark.parametrize("road", ["sender", "client"])
@pytest.mark.parametrize(
    ("fetched", "inbox"),
    [("https://picky.example/users/ana", "https://picky.example:443/inbox"),
     ("https://picky.example:443/users/ana", "https://picky.example/inbox")],
)
async def test_a_server_wanting_rfc_9421_learned_by_a_fetch_gets_it_on_the_first_delivery(
    key: SigningKey, road: str, fetched: str, inbox: str
) -> None:
    seen: list[str] = []
    schemes = SchemeMemory()
    await signed_get(fetched, key, schemes, seen)
    assert seen == ["cavage", "rfc9421"]
    await delivered(inbox, key, schemes, seen, road)
    assert seen[2:] == ["rfc9421"]


@pytest.mark.parametrize("road", ["sender", "client"])
@pytest.mark.parametrize(
    ("inbox", "fetched"),
    [("https://picky.example/inbox", "https://PICKY.example:443/users/ana"),
     ("https://picky.example:443/inbox", "https://picky.example/users/ana")],
)
async def test_a_server_wanting_rfc_9421_learned_by_a_delivery_gets_it_on_the_first_fetch(
    key: SigningKey, road: str, inbox: str, fetched: str
) -> None:
    seen: list[str] = []
    schemes = SchemeMemory()
    await delivered(inbox, key, schemes, seen, road)
    assert seen == ["cavage", "rfc9421"]
    await signed_get(fetched, key, schemes, seen)
    assert seen[2:] == ["rfc9421"]
