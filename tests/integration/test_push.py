"""Web Push against a push service on a loopback port, as a browser's would be: it checks each
message's VAPID signature against the instance's public key and decrypts the payload with the
subscriber's private key and authentication secret (`http_ece`, aes128gcm), then answers as
told: 201, or a 410, a 500, a 403. The worker reaches it over a real socket, through the
guarded Sender."""

import asyncio
import base64
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import http_ece
import pytest
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ayni.cli import main
from federation.itemterms import Kind
from federation.places import Place
from federation.sender import network
from models import actors, alerts, db, posting, push
from models.actors import Instance as InstanceRow
from models.actors import Role
from models.base import utcnow
from models.push import PushSubscription
from models.queue import MailState, PushMessage
from outbox import alerts as telling
from outbox import push as sending
from outbox.status import queue_status
from outbox.worker import sender
from tests.calls import SECRET, STARTS
from tests.instances import Instance, start_instance

BASE_URL = "http://127.0.0.1:8030"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A subscriber: the key pair and secret a browser makes when it subscribes."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )


@dataclass
class Received:
    token: str
    payload: dict[str, Any]
    plaintext: int  # bytes
    encrypted: int  # bytes
    headers: dict[str, str]
    claims: dict[str, Any]
    vapid_key: str


def verified_vapid(header: str) -> tuple[dict[str, Any], str]:
    """RFC 8292: `vapid t=<JWT>, k=<public key>`; the JWT's ES256 signature checked with k.
    Raises InvalidSignature (or ValueError) for anything else."""
    scheme, _, rest = header.partition(" ")
    if scheme != "vapid":
        raise ValueError(f"not a vapid Authorization: {header!r}")
    parts = dict(part.strip().split("=", 1) for part in rest.split(","))
    token, key_text = parts["t"], parts["k"]
    signed, _, signature = token.rpartition(".")
    raw = unb64(signature)
    if len(raw) != 64:
        raise InvalidSignature
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(key_text))
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    public.verify(der, signed.encode(), ec.ECDSA(hashes.SHA256()))
    header_part, _, claims_part = signed.partition(".")
    assert json.loads(unb64(header_part)) == {"typ": "JWT", "alg": "ES256"}
    return json.loads(unb64(claims_part)), key_text


@dataclass
class PushService:
    port: int
    browsers: dict[str, Browser] = field(default_factory=dict)
    answers: list[int] = field(default_factory=list)  # given in turn, then 201
    requests: int = 0
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def subscriber(self, token: str) -> tuple[str, Browser]:
        self.browsers[token] = Browser()
        return f"http://127.0.0.1:{self.port}/push/{token}", self.browsers[token]

    async def post(self, request: Request) -> Response:
        self.requests += 1
        token = request.path_params["token"]
        browser = self.browsers.get(token)
        if browser is None:
            return Response(status_code=404)
        body = await request.body()
        try:
            claims, vapid_key = verified_vapid(request.headers.get("authorization", ""))
        except (InvalidSignature, ValueError, KeyError) as e:
            self.refused.append(f"{type(e).__name__}: {e}")
            return Response(status_code=401)
        if self.answers:
            return Response(status_code=self.answers.pop(0))
        assert request.headers["content-encoding"] == "aes128gcm"
        plaintext = http_ece.decrypt(
            body, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm"
        )
        self.received.append(
            Received(
                token,
                json.loads(plaintext),
                len(plaintext),
                len(body),
                dict(request.headers),
                claims,
                vapid_key,
            )
        )
        return Response(status_code=201)


class QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: Ctrl-C still stops pytest, not just the server."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


@pytest.fixture
async def service() -> AsyncIterator[PushService]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    pushes = PushService(listener.getsockname()[1])
    app = Starlette(routes=[Route("/push/{token}", pushes.post, methods=["POST"])])
    server = QuietServer(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.02)
        yield pushes
    finally:
        server.should_exit = True
        await serving
        listener.close()


@pytest.fixture
async def instance(database_url: str) -> AsyncIterator[Instance]:
    async with start_instance(BASE_URL, database_url) as running:
        yield running


async def subscribe(instance: Instance, service: PushService, token: str) -> int:
    endpoint, browser = service.subscriber(token)
    async with instance.runtime.sessions() as session, session.begin():
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        row = await push.subscribe(
            session, ana, endpoint, browser.p256dh, b64(browser.auth), allow_http=True
        )
        return row.id


async def enqueue(instance: Instance, payload: dict[str, str], **options: Any) -> int:
    async with instance.runtime.sessions() as session, session.begin():
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        return await push.enqueue(session, ana.id, payload, **options)


async def push_once(instance: Instance, **options: Any) -> int:
    """One pass of the worker, its Sender on the network (the instance's own connector routes
    to in-process apps only)."""
    async with sender(instance.runtime, connector=network) as posts:
        return await sending.run_once(instance.runtime, sender=posts, **options)


async def queued(instance: Instance) -> list[PushMessage]:
    async with instance.runtime.sessions() as session:
        return list(await session.scalars(select(PushMessage).order_by(PushMessage.id)))


async def subscriptions(instance: Instance) -> list[str]:
    async with instance.runtime.sessions() as session:
        return list(await session.scalars(select(PushSubscription.endpoint)))


CALL = {"title": "Urgent call: Food Share", "body": "People are needed tonight.", "url": "/x/1"}


async def test_a_message_arrives_encrypted_and_signed_and_a_long_one_is_cut_under_4_kb(
    instance: Instance, service: PushService
) -> None:
    await subscribe(instance, service, "phone")
    long = {"title": "A response", "body": "ñ" * 5000 + "end", "url": "/my/items"}
    assert await enqueue(instance, {**CALL, "tag": "call-1"}, urgency="high") == 1
    assert await enqueue(instance, long) == 1

    assert await push_once(instance) == 2
    assert await push_once(instance) == 0

    assert service.refused == []
    first, second = sorted(service.received, key=lambda r: r.payload["title"] != CALL["title"])
    assert first.payload == {**CALL, "tag": "call-1"}
    assert first.headers["urgency"] == "high" and second.headers["urgency"] == "normal"
    assert int(first.headers["ttl"]) > 0
    async with instance.runtime.sessions() as session:
        assert first.vapid_key == await push.public_key(session)
    assert first.claims["aud"] == f"http://127.0.0.1:{service.port}"
    assert first.claims["sub"] == BASE_URL  # e-mail is off: the site is the contact
    now = datetime.now(UTC).timestamp()
    assert now < first.claims["exp"] <= now + 24 * 3600

    assert second.payload["title"] == "A response" and second.payload["url"] == "/my/items"
    assert second.payload["body"].startswith("ñ" * 100) and second.payload["body"].endswith("…")
    assert second.plaintext <= 4096 and second.encrypted <= 4096
    assert second.encrypted > 4000  # cut to fit, not to nothing
    assert all(row.state == MailState.SENT and row.sent_at for row in await queued(instance))


async def test_a_subscription_answered_410_is_dropped_with_what_was_queued_for_it(
    instance: Instance, service: PushService
) -> None:
    await subscribe(instance, service, "old-laptop")
    await enqueue(instance, CALL)
    await enqueue(instance, CALL, not_before=utcnow() + timedelta(hours=1))
    service.answers = [410]

    assert await push_once(instance) == 0

    assert service.requests == 1
    assert await subscriptions(instance) == []
    assert await queued(instance) == []
    assert await enqueue(instance, CALL) == 0


async def test_a_server_error_is_tried_again_later_and_the_message_arrives_once(
    instance: Instance, service: PushService
) -> None:
    await subscribe(instance, service, "phone")
    await enqueue(instance, CALL)
    service.answers = [500]

    assert await push_once(instance) == 0
    [row] = await queued(instance)
    assert row.state == MailState.PENDING and row.attempts == 1
    assert row.last_error == "HTTP 500" and row.next_attempt_at > utcnow() + timedelta(seconds=10)
    assert await push_once(instance) == 0  # not due yet
    assert service.requests == 1

    later = utcnow() + timedelta(hours=1)
    assert await push_once(instance, now=later) == 1
    assert await push_once(instance, now=later) == 0
    assert service.requests == 2
    assert [r.payload for r in service.received] == [CALL]
    [row] = await queued(instance)
    assert row.state == MailState.SENT and row.attempts == 2


async def test_another_4xx_is_a_final_failure_shown_by_queue_status(
    instance: Instance, service: PushService
) -> None:
    await subscribe(instance, service, "phone")
    await enqueue(instance, CALL)
    service.answers = [403]

    assert await push_once(instance, now=utcnow()) == 0
    assert await push_once(instance, now=utcnow() + timedelta(days=1)) == 0

    assert service.requests == 1
    [row] = await queued(instance)
    assert row.state == MailState.FAILED and row.last_error == "HTTP 403"
    assert len(await subscriptions(instance)) == 1  # only 404 and 410 say it is gone
    async with instance.runtime.sessions() as session:
        lines = (await queue_status(session)).lines()
    assert "push: failed 1" in lines
    assert f"  failed push {row.id}: HTTP 403" in lines


async def test_two_workers_at_once_send_each_message_once(
    instance: Instance, service: PushService
) -> None:
    for token in ("phone", "laptop", "tablet"):
        await subscribe(instance, service, token)
    for n in range(3):
        assert await enqueue(instance, {**CALL, "body": f"message {n}"}) == 3

    sent = await asyncio.gather(push_once(instance, limit=5), push_once(instance, limit=5))
    sent_again = await push_once(instance, limit=20)

    assert sum(sent) + sent_again == 9
    delivered = sorted((r.token, r.payload["body"]) for r in service.received)
    assert delivered == sorted(
        (token, f"message {n}") for token in ("phone", "laptop", "tablet") for n in range(3)
    )
    assert service.requests == 9


async def test_an_endpoint_on_a_private_address_is_never_posted_to(instance: Instance) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        browser = Browser()
        await push.subscribe(
            session, ana, "https://10.0.0.7/push/x", browser.p256dh, b64(browser.auth)
        )
    await enqueue(instance, CALL)

    assert await push_once(instance) == 0

    [row] = await queued(instance)
    assert row.state == MailState.FAILED
    assert row.last_error is not None and row.last_error.startswith("refused: ")
    assert "private" in row.last_error


async def test_a_browser_another_member_had_turned_on_is_hers_now_without_their_messages(
    instance: Instance, service: PushService
) -> None:
    endpoint, browser = service.subscriber("shared")
    async with instance.runtime.sessions() as session, session.begin():
        ben = await actors.create_member(session, "ben", None, "Ben")
        await push.subscribe(
            session, ben, endpoint, browser.p256dh, b64(browser.auth), allow_http=True
        )
        await push.enqueue(session, ben.id, {"title": "For Ben", "body": "", "url": "/"})
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        await push.subscribe(
            session, ana, endpoint, browser.p256dh, b64(browser.auth), allow_http=True
        )
        assert await push.enqueue(session, ben.id, CALL) == 0
    await enqueue(instance, CALL)

    assert await push_once(instance) == 1
    assert [r.payload["title"] for r in service.received] == [CALL["title"]]


async def test_a_member_keeps_at_most_ten_browsers_the_oldest_going_first(
    instance: Instance, service: PushService
) -> None:
    for n in range(push.MAX_SUBSCRIPTIONS + 2):
        await subscribe(instance, service, f"browser-{n}")

    kept = await subscriptions(instance)
    assert len(kept) == push.MAX_SUBSCRIPTIONS
    assert not any(e.endswith(("/browser-0", "/browser-1")) for e in kept)


async def test_the_vapid_key_is_made_once_and_kept(instance: Instance) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        first = await push.public_key(session)
    async with instance.runtime.sessions() as session, session.begin():
        assert await push.public_key(session) == first
        row = await session.scalar(select(InstanceRow))
        assert row is not None and row.vapid_private_key is not None
    assert len(unb64(first)) == 65 and unb64(first)[0] == 4


def test_init_makes_the_vapid_key(
    clean_environ: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("AYNI_CONFIG", str(clean_environ / "ayni.toml"))
    args = ["init", "--base-url", "https://aid.example.org", "--database-url", database_url]
    assert main([*args, "--admin", "root"]) == 0

    async def stored_key() -> str | None:
        engine = db.create_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.scalar(select(InstanceRow.vapid_private_key))
        finally:
            await engine.dispose()

    key = asyncio.run(stored_key())
    assert key is not None and key.startswith("-----BEGIN PRIVATE KEY-----")


@pytest.mark.parametrize(
    "payload",
    [
        {"title": "T" * 9000, "body": "B" * 9000, "url": "/"},
        {"title": "x", "body": '"\n\\' * 3000, "url": "/"},  # escapes: JSON longer than the text
        {"title": "x", "body": "😀" * 3000, "url": "/", "tag": "t"},
    ],
)
def test_a_payload_is_capped_at_the_size_every_push_service_takes(
    payload: dict[str, str],
) -> None:
    capped = push.capped(payload)

    assert len(push.encoded(capped)) <= push.MAX_PAYLOAD
    assert len(push.encoded(capped)) >= push.MAX_PAYLOAD - 8
    assert capped["url"] == payload["url"] and capped.get("tag") == payload.get("tag")
    assert capped["body"].endswith("…") or capped["body"] == ""


def test_a_payload_that_cannot_be_capped_is_refused() -> None:
    with pytest.raises(ValueError):
        push.capped({"title": "x", "body": "y", "url": "/" + "u" * 5000})
    assert push.capped(CALL) == CALL


@contextlib.contextmanager
def refused(reason: str) -> Iterator[None]:
    with pytest.raises(push.InvalidSubscription, match=reason):
        yield


def test_a_subscription_must_have_an_https_endpoint_and_keys_of_the_right_size() -> None:
    good = Browser()
    p256dh, auth = good.p256dh, b64(good.auth)
    assert push.checked_keys(p256dh + "=", auth) == (p256dh, auth)
    assert push.checked_endpoint("https://push.example/x") == "https://push.example/x"
    assert push.checked_endpoint("http://127.0.0.1:1/x", allow_http=True)
    with refused("https"):
        push.checked_endpoint("http://push.example/x")
    with refused("https"):
        push.checked_endpoint("javascript:alert(1)")
    with refused("https"):
        push.checked_endpoint("https://user:pw@push.example/x")
    with refused("p256dh"):
        push.checked_keys(b64(b"\x04" + b"\x01" * 64), auth)  # not on the curve
    with refused("p256dh"):
        push.checked_keys(p256dh[:-4], auth)
    with refused("p256dh"):
        push.checked_keys("not base64!", auth)
    with refused("auth"):
        push.checked_keys(p256dh, b64(os.urandom(8)))


async def test_an_urgent_call_reaches_her_phone_at_once_even_in_her_quiet_hours(
    instance: Instance, service: PushService
) -> None:
    await subscribe(instance, service, "phone")
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        switches = alerts.defaults(ana.id)
        switches.quiet_from, switches.quiet_until = 0, 23 * 60 + 59
        await alerts.save(session, switches)
        bea = await actors.create_member(session, "bea", None, "Bea Quispe")
        await actors.join_group(session, group, bea, Role.MEMBER)
        call = await posting.create_item(
            session,
            instance.runtime.uris,
            group,
            bea,
            posting.Draft(
                Kind.CALL,
                "Stop the eviction tonight",
                "Bring a thermos.",
                "housing",
                starts_at=STARTS,
                people_wanted=10,
                place=Place("Lavapiés"),
                meeting_point=SECRET,
            ),
            confirm=True,
            seal=instance.runtime.seal,
        )

    await telling.run_once(instance.runtime)
    assert await push_once(instance) == 1

    [received] = service.received
    assert received.headers["urgency"] == "high"
    assert received.payload["title"] == "Solidarity call in Food Share: Stop the eviction tonight"
    assert received.payload["url"] == f"{BASE_URL}/items/{call.uuid}"
    for secret in (SECRET, "Lavapiés", "thermos", "Bea"):
        assert secret not in json.dumps(received.payload, ensure_ascii=False)
