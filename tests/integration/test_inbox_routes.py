"""The inbox route refuses what it must, before storing anything, on both databases."""

import asyncio
import json
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select, text

from ayni.app import create_app
from federation import cavage, keys, vocab
from federation.keys import SigningKey
from inbox import worker
from models import actors
from models.follows import Direction, Follow, FollowState
from models.queue import DomainBlock, Incoming
from models.remote import RemoteActor, RemoteKey
from models.runtime import Runtime
from tests.instances import Instance, Loopback
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
INBOX = f"{BASE}/inbox"


@dataclass
class World:
    instance: Instance
    peer: MastodonPeer
    mallory: MastodonPeer
    network: Loopback

    async def stored(self) -> int:
        async with self.instance.runtime.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Incoming)) or 0)

    async def states(self) -> list[tuple[str, str | None]]:
        async with self.instance.runtime.sessions() as session:
            return [
                (r.state, r.last_error)
                for r in await session.execute(
                    select(Incoming.state, Incoming.last_error).order_by(Incoming.id)
                )
            ]


@pytest.fixture
async def world(net: Net) -> World:
    peer, mallory = net.peer("http://127.0.0.1:8201"), net.peer("http://127.0.0.1:8202", "mallory")
    return World(await net.instance(BASE), peer, mallory, net.loopback)


async def test_a_body_over_one_megabyte_is_refused_with_413(world: World) -> None:
    body = b'{"a": "' + b"x" * (1024 * 1024) + b'"}'
    response = await world.instance.http.post("/inbox", content=body)
    assert response.status_code == 413
    assert await world.stored() == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"[" * 100 + b"]" * 100,
        b'{"type": "Follow"}',
        b'{"actor": "x"}',
        b'{"a": 1, "a": 2}',
    ],
)
async def test_garbage_deep_nesting_and_non_objects_are_refused_with_400(
    world: World, body: bytes
) -> None:
    response = await world.instance.http.post("/inbox", content=body)
    assert response.status_code == 400
    assert await world.stored() == 0


async def test_an_unsigned_post_is_refused_with_401(world: World) -> None:
    response = await world.instance.http.post(
        "/inbox", content=json.dumps(world.peer.follow(GROUP))
    )
    assert response.status_code == 401
    assert await world.stored() == 0


async def test_a_body_that_does_not_match_its_digest_is_refused_with_401(world: World) -> None:
    body, headers = world.peer.signed(INBOX, world.peer.follow(GROUP))
    tampered = body.replace(b"Follow", b"Block")
    response = await world.instance.http.post("/inbox", content=tampered, headers=headers)
    assert response.status_code == 401
    assert await world.stored() == 0


async def test_a_signature_by_another_key_is_refused_with_401(world: World) -> None:
    body = json.dumps(world.peer.follow(GROUP)).encode()
    impostor = SigningKey(world.peer.key_id, keys.generate_private_key())
    headers = cavage.sign_cavage("POST", INBOX, impostor, body)
    response = await world.instance.http.post("/inbox", content=body, headers=headers)
    assert response.status_code == 401
    assert await world.stored() == 0


async def test_a_signer_speaking_for_another_actor_is_refused_with_401(world: World) -> None:
    forged = {**world.mallory.follow(GROUP), "actor": world.peer.actor_uri}
    response = await world.mallory.send(INBOX, forged)
    assert response.status_code == 401
    assert "signer and actor do not match" in response.text
    assert await world.stored() == 0


async def test_a_blocked_domain_gets_403_and_nothing_is_fetched(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[str] = []
    real_fetch = world.instance.runtime.client.fetch

    async def counting(url: str, auth: httpx.Auth | None = None) -> dict[str, object]:
        fetched.append(url)
        return await real_fetch(url, auth)

    monkeypatch.setattr(world.instance.runtime.client, "fetch", counting)
    async with world.instance.runtime.sessions() as session, session.begin():
        session.add(DomainBlock(domain="127.0.0.1"))
    response = await world.peer.send(INBOX, world.peer.follow(GROUP))
    assert response.status_code == 403
    assert fetched == [] and world.peer.requests == []
    assert await world.stored() == 0


async def test_a_delete_of_an_actor_we_never_knew_is_accepted_without_any_fetch(
    world: World,
) -> None:
    delete = {
        "id": f"{world.peer.actor_uri}#delete",
        "type": "Delete",
        "actor": world.peer.actor_uri,
        "object": world.peer.actor_uri,
        "to": [vocab.PUBLIC],
    }
    response = await world.peer.send(INBOX, delete)
    assert response.status_code == 202
    assert world.peer.requests == []
    assert await world.stored() == 0


async def test_a_replayed_signed_post_is_processed_once(world: World) -> None:
    body, headers = world.peer.signed(INBOX, world.peer.follow(GROUP))
    first = await world.instance.http.post("/inbox", content=body, headers=headers)
    second = await world.instance.http.post("/inbox", content=body, headers=headers)
    assert (first.status_code, second.status_code) == (202, 202)
    assert await world.stored() == 1
    assert await worker.run_once(world.instance.runtime) == 1
    assert await worker.run_once(world.instance.runtime) == 0


async def test_behind_a_proxy_the_signature_is_checked_against_the_public_url(world: World) -> None:
    body, headers = world.peer.signed(INBOX, world.peer.follow(GROUP))
    transport = httpx.ASGITransport(app=world.instance.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.5:9000") as backend:
        response = await backend.post("/inbox", content=body, headers=headers)
    assert response.status_code == 202


async def test_a_personal_inbox_of_nobody_is_404(world: World) -> None:
    response = await world.peer.send(f"{BASE}/actors/nobody/inbox", world.peer.follow(GROUP))
    assert response.status_code == 404


async def _outbound_follow(world: World) -> str:
    """The group follows the peer (as the outbox would have sent it); returns the Follow id."""
    runtime = world.instance.runtime
    follow_uri = f"{BASE}/activities/follow-alice"
    async with runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        alice = RemoteActor(
            uri=world.peer.actor_uri,
            host=world.peer.host,
            inbox_uri=f"{world.peer.actor_uri}/inbox",
        )
        session.add(alice)
        await session.flush()
        session.add(
            Follow(
                activity_uri=follow_uri,
                direction=Direction.OUTBOUND,
                local_actor_id=group.id,
                remote_actor_id=alice.id,
                state=FollowState.PENDING,
            )
        )
    return follow_uri


async def _outbound_state(world: World) -> str:
    async with world.instance.runtime.sessions() as session:
        return str(
            await session.scalar(select(Follow.state).where(Follow.direction == Direction.OUTBOUND))
        )


async def test_a_forged_accept_from_someone_else_is_ignored(world: World) -> None:
    follow_uri = await _outbound_follow(world)
    forged = {
        "id": world.mallory.new_id(),
        "type": "Accept",
        "actor": world.mallory.actor_uri,
        "object": {
            "id": follow_uri,
            "type": "Follow",
            "actor": GROUP,
            "object": world.peer.actor_uri,
        },
    }
    assert (await world.mallory.send(INBOX, forged)).status_code == 202
    by_reference = {**forged, "id": world.mallory.new_id(), "object": follow_uri}
    assert (await world.mallory.send(INBOX, by_reference)).status_code == 202
    await worker.run_once(world.instance.runtime)
    assert await _outbound_state(world) == FollowState.PENDING
    assert [state for state, _ in await world.states()] == ["ignored", "ignored"]


async def test_an_accept_from_the_followed_actor_is_recorded(world: World) -> None:
    follow_uri = await _outbound_follow(world)
    accept = {
        "id": world.peer.new_id(),
        "type": "Accept",
        "actor": world.peer.actor_uri,
        "object": follow_uri,
    }
    assert (await world.peer.send(INBOX, accept)).status_code == 202
    await worker.run_once(world.instance.runtime)
    assert await _outbound_state(world) == FollowState.ACCEPTED


async def _remote_rows(runtime: Runtime) -> list[tuple[str, str]]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(RemoteKey.key_uri, RemoteActor.uri).join(
                RemoteActor, RemoteActor.id == RemoteKey.actor_id
            )
        )
        return [(key_uri, actor_uri) for key_uri, actor_uri in rows]


async def test_twenty_first_deliveries_from_a_new_actor_at_once_are_all_accepted(
    world: World,
) -> None:
    # Given an actor we never heard of; when twenty of its activities arrive at the same moment
    responses = await asyncio.gather(
        *(world.peer.send(INBOX, world.peer.follow(GROUP)) for _ in range(20))
    )
    # then all are accepted, its key was fetched once and is stored once
    assert [r.status_code for r in responses] == [202] * 20
    assert await world.stored() == 20
    assert world.peer.requests.count(("GET", "/users/alice")) == 1
    assert await _remote_rows(world.instance.runtime) == [(world.peer.key_id, world.peer.actor_uri)]


async def test_first_deliveries_racing_through_two_servers_on_one_database_are_all_accepted(
    world: World,
) -> None:
    # Given a second process of the same instance (as `ayni serve` with two workers): its own
    # key cache, the same database. Each looks the new key up and stores it at the same moment.
    settings = world.instance.settings
    second = create_app(settings, mounts={"all://127.0.0.1": world.network})
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=second), base_url=BASE
        ) as other:
            servers = [world.instance.http, other]
            sends = []
            for n in range(20):
                body, headers = world.peer.signed(INBOX, world.peer.follow(GROUP))
                sends.append(servers[n % 2].post("/inbox", content=body, headers=headers))
            responses = await asyncio.gather(*sends)
    finally:
        await second.state.runtime.close()
    assert [r.status_code for r in responses] == [202] * 20
    assert await world.stored() == 20
    # At most once per process: a process that reads the key after the other stored it fetches
    # nothing (the store's own race is pinned down in test_remote_cache_races.py).
    assert world.peer.requests.count(("GET", "/users/alice")) in (1, 2)
    assert await _remote_rows(world.instance.runtime) == [(world.peer.key_id, world.peer.actor_uri)]


async def test_a_key_that_cannot_be_read_or_stored_asks_the_sender_to_try_again_later(
    world: World,
) -> None:
    async with world.instance.runtime.engine.begin() as connection:
        await connection.execute(text("DROP TABLE remote_keys"))
    response = await world.peer.send(INBOX, world.peer.follow(GROUP))
    assert response.status_code == 503
    assert await world.stored() == 0
