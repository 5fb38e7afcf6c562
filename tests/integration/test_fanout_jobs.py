"""Fan-out jobs: recipients are looked up outside any transaction, and a lookup that keeps
failing is counted on every pass and ends `failed` at the ceiling, with its error kept."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from federation import retry
from federation.visibility import Visibility
from models import actors
from models.publish import publish
from models.queue import Activity
from models.transactions import NetworkInTransaction
from outbox.deliver import Payload, deliver
from outbox.worker import DeliveryWorker, sender
from tests.instances import Instance, Loopback, start_instance
from tests.integration.delivery_setup import Clock
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"
NOBODY = "http://127.0.0.1:8299/users/nobody"  # nothing serves this host: connection refused


@dataclass
class World:
    instance: Instance
    alice: MastodonPeer
    clock: Clock
    worker: DeliveryWorker

    async def direct_note(self, to: str) -> dict[str, Any]:
        runtime = self.instance.runtime
        group_uri = runtime.uris.actor("food")
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": runtime.uris.activity(str(uuid.uuid4())),
            "type": "Create",
            "actor": group_uri,
            "object": {
                "id": runtime.uris.object(str(uuid.uuid4())),
                "type": "Note",
                "attributedTo": group_uri,
                "content": "Soup at 6",
            },
        }
        async with runtime.sessions() as session, session.begin():
            group = await actors.find_actor(session, "food")
            assert group is not None
            await publish(session, group, activity, Visibility.DIRECT, to_actors=[to])
        return activity

    async def job(self) -> Activity:
        async with self.instance.runtime.sessions() as session:
            row: Activity | None = await session.scalar(select(Activity))
            assert row is not None
            return row


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    network = Loopback()
    alice = MastodonPeer("http://127.0.0.1:8201", network)
    network.add(alice.host, alice.app)
    async with start_instance(BASE, database_url, network) as instance:
        clock = Clock()
        worker = DeliveryWorker(instance.runtime, now=clock.now, random_unit=lambda: 0.5)
        yield World(instance, alice, clock, worker)
    await alice.aclose()


async def test_a_fetch_inside_an_open_transaction_raises_and_nothing_is_fetched(
    world: World,
) -> None:
    runtime = world.instance.runtime
    async with runtime.sessions() as session, session.begin():
        with pytest.raises(NetworkInTransaction):
            await runtime.fetch(world.alice.actor_uri)
    async with runtime.sessions() as session:
        await session.scalar(select(Activity.id))  # a read opens a transaction too (autobegin)
        with pytest.raises(NetworkInTransaction):
            await runtime.fetch(world.alice.actor_uri)
    assert world.alice.requests == []
    # Once the session is closed, the same task may use the network again.
    assert (await runtime.fetch(world.alice.actor_uri))["id"] == world.alice.actor_uri


async def test_a_transaction_held_by_another_task_does_not_stop_this_ones_fetch(
    world: World,
) -> None:
    # The delivery worker records results while its sends are in flight in other tasks.
    runtime = world.instance.runtime
    opened, done = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with runtime.sessions() as session, session.begin():
            await session.scalar(select(Activity.id))
            opened.set()
            await done.wait()

    holder = asyncio.create_task(hold())
    await opened.wait()
    try:
        assert (await runtime.fetch(world.alice.actor_uri))["id"] == world.alice.actor_uri
    finally:
        done.set()
        await holder


async def test_a_direct_note_to_an_actor_never_seen_is_fetched_then_delivered(world: World) -> None:
    # Given alice is unknown to us, her actor document must be fetched to find her inbox
    activity = await world.direct_note(to=world.alice.actor_uri)
    # When the worker runs (its lookup is guarded: no fetch may happen inside a transaction)
    await world.worker.run_once()
    # Then she has it, and the job is done
    assert [a["id"] for a in world.alice.received] == [activity["id"]]
    job = await world.job()
    assert (job.fanout_state, job.attempts, job.last_error) == ("done", 1, None)


async def test_a_lookup_on_a_server_that_is_down_is_counted_and_fails_at_the_ceiling(
    world: World,
) -> None:
    await world.direct_note(to=NOBODY)
    await world.worker.run_once()
    job = await world.job()
    assert (job.fanout_state, job.attempts) == ("pending", 1)
    assert "resolving recipients" in (job.last_error or "") and "Unavailable" in (
        job.last_error or ""
    )
    assert job.next_attempt_at > world.clock.now(), "retried with a backoff, not at once"
    for attempt in range(2, retry.DELIVERY.attempts + 1):
        world.clock.advance(hours=13)  # past the longest backoff
        await world.worker.run_once()
        assert (await world.job()).attempts == attempt
    job = await world.job()
    assert (job.fanout_state, job.attempts) == ("failed", retry.DELIVERY.attempts)
    assert "Unavailable" in (job.last_error or "")
    world.clock.advance(days=30)
    await world.worker.run_once()
    assert (await world.job()).attempts == retry.DELIVERY.attempts, (
        "a failed job is never tried again"
    )


async def test_a_lookup_that_raises_unexpectedly_is_counted_and_fails_at_the_ceiling(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(url: str) -> dict[str, Any]:
        raise RuntimeError("a bug in the lookup")

    monkeypatch.setattr(world.instance.runtime, "fetch", broken)
    await world.direct_note(to=world.alice.actor_uri)
    for attempt in range(1, retry.DELIVERY.attempts + 1):
        await world.worker.run_once()
        job = await world.job()
        assert job.attempts == attempt
        world.clock.advance(hours=13)
    assert job.fanout_state == "failed"
    assert job.last_error == "RuntimeError: a bug in the lookup"


async def test_a_delivery_inside_an_open_transaction_raises_and_nothing_is_sent(
    world: World,
) -> None:
    runtime = world.instance.runtime
    async with runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        with pytest.raises(NetworkInTransaction):
            async with sender(runtime) as posts:
                await deliver(
                    posts,
                    f"{world.alice.base_url}/inbox",
                    Payload.of({"type": "Create"}),
                    runtime.signer(group).key,
                    runtime.schemes,
                )
    assert world.alice.requests == []
