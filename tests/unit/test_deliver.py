"""Delivery signing: the body digested once per activity, each inbox signed at send time."""

import base64
import hashlib
from collections.abc import Iterable, Sequence

import httpx
import pytest

from federation import keys
from federation.errors import SignatureError
from federation.http1 import Answer
from federation.keys import SigningKey, VerificationKey
from federation.sender import Sender, Target
from federation.signatures import SchemeMemory, SigningAuth, verify
from outbox.deliver import CONTENT_TYPE, Outcome, Payload, deliver
from tests.receiver import StaticKeys

KEY_ID = "https://us.example/actors/food#main-key"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(KEY_ID, keys.generate_private_key())


def lookup(key: SigningKey) -> StaticKeys:
    return StaticKeys(
        {KEY_ID: VerificationKey(KEY_ID, KEY_ID.split("#")[0], key.private_key.public_key())}
    )


class Recording(Sender):
    """The delivery road's Sender with the network swapped for a server that answers
    `statuses` in turn and keeps what it was sent."""

    def __init__(self, *statuses: int) -> None:
        super().__init__("Ayni/test")
        self.statuses = list(statuses)
        self.sent: list[dict[str, str]] = []

    async def post(self, target: Target, body: bytes, headers: Sequence[tuple[str, str]]) -> Answer:
        self.sent.append(
            {name.lower(): value for name, value in headers} | {"host": target.authority}
        )
        return Answer(self.statuses.pop(0))


URL = "https://them.example/inbox"


async def test_the_first_knock_is_draft_cavage_covering_what_mastodon_requires(
    key: SigningKey,
) -> None:
    payload = Payload.of(
        {"id": "https://us.example/activities/1", "type": "Create", "content": "ñ"}
    )
    server = Recording(202)
    outcome = await deliver(server, URL, payload, key, SchemeMemory())
    [signed] = server.sent
    assert outcome == Outcome(202)
    assert 'headers="(request-target) host date digest"' in signed["signature"]
    assert (
        signed["digest"]
        == "SHA-256=" + base64.b64encode(hashlib.sha256(payload.body).digest()).decode()
    )
    assert signed["content-type"] == CONTENT_TYPE
    assert await verify("POST", URL, signed, payload.body, lookup(key)) == KEY_ID


async def test_a_401_gets_a_second_knock_in_rfc_9421_and_the_origin_is_remembered(
    key: SigningKey,
) -> None:
    payload = Payload.of({"id": "https://us.example/activities/2"})
    schemes = SchemeMemory()
    server = Recording(401, 202)
    outcome = await deliver(server, URL, payload, key, schemes)
    first, second = server.sent
    assert outcome.status == 202
    assert "signature-input" not in first
    assert "signature-input" in second and "digest" not in second
    assert await verify("POST", URL, second, payload.body, lookup(key)) == KEY_ID
    assert schemes.first("https://them.example/users/ana") == "rfc9421"


async def test_two_refusals_are_the_outcome_and_nothing_is_remembered(key: SigningKey) -> None:
    schemes = SchemeMemory()
    server = Recording(401, 401)
    outcome = await deliver(
        server, URL, Payload.of({"id": "https://us.example/activities/5"}), key, schemes
    )
    assert (outcome.status, outcome.error, len(server.sent)) == (401, "HTTP 401", 2)
    assert schemes.first(URL) == "cavage"


async def test_a_tampered_body_does_not_verify(key: SigningKey) -> None:
    payload = Payload.of({"id": "https://us.example/activities/3"})
    server = Recording(202)
    await deliver(server, URL, payload, key, SchemeMemory())
    with pytest.raises(SignatureError, match="[Dd]igest"):
        await verify("POST", URL, server.sent[0], payload.body + b" ", lookup(key))


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


async def signed_get(url: str, key: SigningKey, schemes: SchemeMemory, seen: list[str]) -> None:
    auth = SigningAuth(key, schemes=schemes)
    async with httpx.AsyncClient(transport=wants_rfc9421(seen), auth=auth) as client:
        assert (await client.get(url)).status_code == 202


async def delivered(url: str, key: SigningKey, schemes: SchemeMemory, seen: list[str]) -> None:
    payload = Payload.of({"id": "https://us.example/activities/4", "type": "Create"})
    outcome = await deliver(WantsRfc9421(seen), url, payload, key, schemes)
    assert outcome.status == 202


@pytest.mark.parametrize(
    ("fetched", "inbox"),
    [
        ("https://picky.example/users/ana", "https://picky.example:443/inbox"),
        ("https://picky.example:443/users/ana", "https://picky.example/inbox"),
    ],
)
async def test_a_server_wanting_rfc_9421_learned_by_a_fetch_gets_it_on_the_first_delivery(
    key: SigningKey, fetched: str, inbox: str
) -> None:
    seen: list[str] = []
    schemes = SchemeMemory()
    await signed_get(fetched, key, schemes, seen)
    assert seen == ["cavage", "rfc9421"]
    await delivered(inbox, key, schemes, seen)
    assert seen[2:] == ["rfc9421"]


@pytest.mark.parametrize(
    ("inbox", "fetched"),
    [
        ("https://picky.example/inbox", "https://PICKY.example:443/users/ana"),
        ("https://picky.example:443/inbox", "https://picky.example/users/ana"),
    ],
)
async def test_a_server_wanting_rfc_9421_learned_by_a_delivery_gets_it_on_the_first_fetch(
    key: SigningKey, inbox: str, fetched: str
) -> None:
    seen: list[str] = []
    schemes = SchemeMemory()
    await delivered(inbox, key, schemes, seen)
    assert seen == ["cavage", "rfc9421"]
    await signed_get(fetched, key, schemes, seen)
    assert seen[2:] == ["rfc9421"]
