"""A server that never answers delays only the activities that need something from it.

The silent server is a real socket on 127.0.0.2 that accepts connections and says nothing; the
instance reaches it over its real network road (127.0.0.1 is routed in-process to the peers),
with a 2 s fetch deadline instead of production's 30 s.
"""

import asyncio
import contextlib
import ipaddress
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from federation import retry, vocab
from inbox import worker
from inbox.handlers import Context
from models import actors
from models.base import utcnow
from models.follows import Direction, Follow, FollowState
from models.queue import Activity, Incoming
from outbox import worker as outbox_worker
from tests.instances import Instance, Loopback, settings_for, start_instance
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
DEADLINE = 2.0


class SilentServer:
    """Accepts every connection and never answers; counts the connections."""

    def __init__(self) -> None:
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        await reader.read()  # until the client gives up and closes

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._accept, "127.0.0.2", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.2:{port}"
        finally:
            server.close()
            for writer in self._writers:
                writer.close()
            await server.wait_closed()


@dataclass
class World:
    instance: Instance
    alice: MastodonPeer  # followed by the group; announces objects that live on the silent server
    bob: MastodonPeer  # a stranger who follows the group
    silent: SilentServer
    silent_url: str

    @property
    def runtime(self) -> Any:
        return self.instance.runtime

    async def announce_silent_object(self, n: int) -> dict[str, Any]:
        announce = {
            "id": self.alice.new_id(),
            "type": "Announce",
            "actor": self.alice.actor_uri,
            "to": [vocab.PUBLIC],
            "object": f"{self.silent_url}/notes/{n}",
        }
        assert (await self.alice.send(f"{BASE}/inbox", announce)).status_code == 202
        return announce

    async def accept_produced(self) -> bool:
        async with self.runtime.sessions() as session:
            return (
                await session.scalar(select(Activity.id).where(Activity.type == "Accept"))
                is not None
            )

    async def row(self, activity: dict[str, Any]) -> Incoming:
        async with self.runtime.sessions() as session:
            found = await session.scalar(
                select(Incoming).where(Incoming.activity_uri == activity["id"])
            )
            assert found is not None
            return found


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    network = Loopback()
    alice = MastodonPeer("http://127.0.0.1:8201", network)
    bob = MastodonPeer("http://127.0.0.1:8203", network, username="bob")
    network.add(alice.host, alice.app)
    network.add(bob.host, bob.app)
    silent = SilentServer()
    settings = settings_for(
        BASE,
        database_url,
        fetch_deadline=DEADLINE,
        allow_private_addresses=(
            ipaddress.ip_network("127.0.0.1/32"),
            ipaddress.ip_network("127.0.0.2/32"),
        ),
    )
    async with (
        silent.serving() as silent_url,
        start_instance(BASE, database_url, network, settings=settings) as instance,
    ):
        runtime = instance.runtime
        remote = await Context(runtime).actor(alice.actor_uri)
        async with runtime.sessions() as session, session.begin():
            group = await actors.find_actor(session, "food")
            assert group is not None
            session.add(
                Follow(
                    activity_uri=f"{BASE}/activities/f-alice",
                    direction=Direction.OUTBOUND,
                    local_actor_id=group.id,
                    remote_actor_id=remote.id,
                    state=FollowState.ACCEPTED,
                )
            )
        yield World(instance, alice, bob, silent, silent_url)
    await alice.aclose()
    await bob.aclose()


async def test_a_follow_is_accepted_within_seconds_behind_eight_activities_stuck_on_a_silent_server(
    world: World,
) -> None:
    # Given eight activities queued first, each pointing at an object on a server that never answers
    for n in range(8):
        await world.announce_silent_object(n)
    # And then a Follow of the group from another server
    follow = world.bob.follow(GROUP)
    assert (await world.bob.send(f"{GROUP}/inbox", follow)).status_code == 202

    # When the workers run as `ayni serve` runs them
    stop = asyncio.Event()
    started = time.monotonic()
    workers = [
        asyncio.create_task(worker.run(world.runtime, stop)),
        asyncio.create_task(outbox_worker.run(world.runtime, stop)),
    ]
    produced_after = None
    try:
        while not any(vocab.has_type(a, "Accept") for a in world.bob.received):
            assert time.monotonic() - started < 5.0, "no Accept within 5 s"
            if produced_after is None and await world.accept_produced():
                produced_after = time.monotonic() - started
            await asyncio.sleep(0.02)
        accepted_after = time.monotonic() - started
    finally:
        stop.set()
        await asyncio.gather(*workers)

    # Then bob had his Accept well within the time one stuck fetch takes
    print(
        f"\nAccept produced after {produced_after or accepted_after:.2f} s, "
        f"delivered after {accepted_after:.2f} s"
    )
    assert accepted_after < DEADLINE
    assert world.silent.connections >= 1  # the announces really did wait on the silent server
    # And the worker stopped cleanly: every row recorded or its lease given back
    async with world.runtime.sessions() as session:
        assert (
            list(
                await session.scalars(select(Incoming.id).where(Incoming.locked_until.is_not(None)))
            )
            == []
        )


async def test_a_host_that_timed_out_is_backed_off_and_its_activities_retried_with_attempts_counted(
    world: World,
) -> None:
    # Given two activities whose objects the silent server never delivered
    first = [await world.announce_silent_object(n) for n in range(2)]
    await worker.run_once(world.runtime)
    for announce in first:
        row = await world.row(announce)
        assert (row.state, row.attempts) == ("pending", 1)
        assert "no complete answer within 2 s" in (row.last_error or "")
    connections = world.silent.connections

    # When a further activity points at the same server
    later = await world.announce_silent_object(3)
    started = time.monotonic()
    assert await worker.run_once(world.runtime) == 1
    elapsed = time.monotonic() - started

    # Then it fails at once, without a new connection, and is rescheduled with its attempt counted
    print(f"\nan activity for the backed-off host took {elapsed * 1000:.0f} ms")
    assert elapsed < DEADLINE / 4
    assert world.silent.connections == connections
    row = await world.row(later)
    assert (row.state, row.attempts) == ("pending", 1)
    assert "did not answer 2 fetches in a row" in (row.last_error or "")
    assert row.next_attempt_at > utcnow() + timedelta(seconds=20)

    # And its retries keep their ceiling: the last allowed attempt ends it for good
    async with world.runtime.sessions() as session, session.begin():
        await session.execute(
            update(Incoming)
            .where(Incoming.id == row.id)
            .values(attempts=retry.INBOX.attempts - 1, next_attempt_at=utcnow())
        )
    assert await worker.run_once(world.runtime) == 1
    row = await world.row(later)
    assert (row.state, row.attempts) == ("failed", retry.INBOX.attempts)


async def test_a_running_job_is_not_claimed_again_by_another_worker(world: World) -> None:
    # Given a worker whose job waits on the silent server
    announce = await world.announce_silent_object(1)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(world.runtime, stop))
    try:
        while world.silent.connections == 0:
            await asyncio.sleep(0.01)
        # When a second worker claims meanwhile
        claimed = await worker.InboxWorker(world.runtime).claim()
    finally:
        stop.set()
        await running
    # Then it gets nothing: the row is leased to the first
    assert claimed == []
    assert (await world.row(announce)).attempts == 1


def queued(actor_uri: str, n: int) -> Incoming:
    return Incoming(
        activity_uri=f"{actor_uri}/activities/{n}",
        activity_type="Like",
        actor_uri=actor_uri,
        document={"id": f"{actor_uri}/activities/{n}", "type": "Like", "actor": actor_uri},
    )


async def test_a_claim_takes_a_few_jobs_per_host_and_one_per_actor_leaving_the_rest_due(
    instance: Instance,
) -> None:
    # Given six actors of one busy host with a row each, a second row of one of them, and one
    # elsewhere
    busy = [f"https://busy.example/users/{n}" for n in range(6)]
    async with instance.runtime.sessions() as session, session.begin():
        session.add_all([queued(uri, 1) for uri in busy])
        session.add(queued(busy[0], 2))
        session.add(queued("https://quiet.example/users/q", 1))
    # When one worker claims
    first = worker.InboxWorker(instance.runtime)
    jobs = await first.claim()
    # Then it holds four of the busy host's actors, one row each, and the other host's row
    assert sorted(job.actor_uri for job in jobs) == sorted(
        [*busy[:4], "https://quiet.example/users/q"]
    )
    # And the rest stay due for the next claim, which leaves out what is still running
    first.start(jobs, asyncio.Semaphore(0))  # held, not run
    assert await first.claim() == []
    again = await worker.InboxWorker(instance.runtime, now=lambda: utcnow() + worker.LEASE).claim()
    assert (
        len(again) == 5
    )  # once the leases run out, another worker may take them (within the limits)
    held = list(first._tasks)
    for task in held:
        task.cancel()
    await asyncio.gather(*held, return_exceptions=True)
