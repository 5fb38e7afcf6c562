"""Publishing and delivering to followers' servers, on both databases, with real signatures."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from federation.visibility import Visibility
from models.queue import Delivery, DomainBlock, Host
from tests.integration.delivery_setup import Sender, start_sender


@pytest.fixture
async def sender(database_url: str) -> AsyncIterator[Sender]:
    async with start_sender(database_url, deadline=0.5) as running:
        yield running


async def states(sender: Sender) -> dict[str, int]:
    async with sender.runtime.sessions() as session:
        rows = await session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
        return {state: n for state, n in rows}


async def test_three_followers_on_one_server_with_a_shared_inbox_get_one_post(
    sender: Sender,
) -> None:
    for name in ("ann", "bob", "cy"):
        await sender.add_follower("127.0.0.2:9000", name)
    activity = await sender.publish_note()
    await sender.drain()
    assert [(r.host, r.path, r.activity_id) for r in sender.receiver.received] == [
        ("127.0.0.2:9000", "/inbox", activity["id"])
    ]
    assert sender.receiver.refused == []


async def test_followers_on_five_servers_get_five_posts_signed_by_the_group(sender: Sender) -> None:
    for n in range(5):
        await sender.add_follower(f"127.0.0.{n + 2}:9000", "ann")
        await sender.add_follower(f"127.0.0.{n + 2}:9000", "bob", shared=False)
    await sender.publish_note()
    await sender.drain()
    hosts = sorted(r.host for r in sender.receiver.received if r.path == "/inbox")
    assert hosts == [f"127.0.0.{n + 2}:9000" for n in range(5)]
    # bob has no shared inbox: his own inbox gets it too, once per server
    assert sender.receiver.count() == 10
    assert {r.key_id for r in sender.receiver.received} == {
        sender.runtime.uris.key(sender.runtime.uris.actor("food"))
    }
    assert await states(sender) == {"sent": 10}


async def test_a_blocked_server_gets_nothing(sender: Sender) -> None:
    await sender.add_follower("127.0.0.2:9000", "ann")
    await sender.add_follower("127.0.0.3:9000", "bob")
    async with sender.runtime.sessions() as session, session.begin():
        session.add(DomainBlock(domain="127.0.0.3"))
    await sender.publish_note()
    await sender.drain()
    assert [r.host for r in sender.receiver.received] == ["127.0.0.2:9000"]
    assert sender.receiver.attempts == 1


async def test_followers_only_goes_only_to_servers_with_followers_and_members_only_nowhere(
    sender: Sender,
) -> None:
    await sender.add_follower("127.0.0.2:9000", "ann")
    await sender.publish_note(Visibility.FOLLOWERS)
    await sender.publish_note(Visibility.MEMBERS)
    await sender.drain()
    assert [r.host for r in sender.receiver.received] == ["127.0.0.2:9000"]


async def test_direct_goes_to_the_named_actor_only(sender: Sender) -> None:
    await sender.add_follower("127.0.0.2:9000", "ann")
    bob = await sender.add_follower("127.0.0.3:9000", "bob", shared=False)
    activity = await sender.publish_note(Visibility.DIRECT, to_actors=[bob])
    await sender.drain()
    assert [(r.host, r.path, r.activity_id) for r in sender.receiver.received] == [
        ("127.0.0.3:9000", "/users/bob/inbox", activity["id"])
    ]


async def test_a_server_down_then_back_gets_everything_after_the_retries(sender: Sender) -> None:
    await sender.add_follower("127.0.0.2:9000", "ann")
    fault = sender.receiver.fault("127.0.0.2:9000", down=True)
    sent = [await sender.publish_note() for _ in range(3)]
    await sender.drain()
    for _ in range(4):  # a few hours of retries
        sender.clock.advance(hours=1)
        await sender.drain()
    assert sender.receiver.count() == 0
    assert await states(sender) == {"pending": 3}
    fault.down = False
    sender.clock.advance(hours=13)
    await sender.drain()
    assert sorted(r.activity_id for r in sender.receiver.received) == sorted(a["id"] for a in sent)
    assert await states(sender) == {"sent": 3}


async def test_500_then_202_delivers_once(sender: Sender) -> None:
    await sender.add_follower("127.0.0.2:9000", "ann")
    sender.receiver.fault("127.0.0.2:9000", fail_first=1, fail_status=500)
    await sender.publish_note()
    await sender.drain()
    assert sender.receiver.count() == 0
    sender.clock.advance(seconds=30)
    await sender.drain()
    assert sender.receiver.count() == 0, "retried before its backoff"
    sender.clock.advance(minutes=2)
    await sender.drain()
    sender.clock.advance(hours=1)
    await sender.drain()
    assert sender.receiver.count() == 1
    async with sender.runtime.sessions() as session:
        row = await session.scalar(select(Delivery))
    assert row is not None and (row.state, row.attempts, row.last_status) == ("sent", 2, 202)


async def test_410_from_a_followers_inbox_removes_the_follower(sender: Sender) -> None:
    ann = await sender.add_follower("127.0.0.2:9000", "ann", shared=False)
    bob = await sender.add_follower("127.0.0.3:9000", "bob", shared=False)
    sender.receiver.fault("127.0.0.2:9000", status=410)
    await sender.publish_note()
    await sender.drain()
    assert await sender.followers() == [bob]
    assert ann not in await sender.followers()
    assert await states(sender) == {"gone": 1, "sent": 1}


async def test_429_with_retry_after_waits_as_asked(sender: Sender) -> None:
    await sender.add_follower("127.0.0.2:9000", "ann")
    fault = sender.receiver.fault("127.0.0.2:9000", status=429, retry_after="600")
    await sender.publish_note()
    await sender.drain()
    sender.clock.advance(minutes=9)  # well past the 1-minute backoff, short of Retry-After
    fault.status = None
    await sender.drain()
    assert sender.receiver.count() == 0
    sender.clock.advance(minutes=2)
    await sender.drain()
    assert sender.receiver.count() == 1


async def test_a_black_holed_host_does_not_delay_healthy_hosts(database_url: str) -> None:
    import time

    # A generous deadline, so a loaded CI machine cannot blur "waited for it" and "did not".
    async with start_sender(database_url, deadline=2.0) as sender:
        await _black_hole_story(sender, time.monotonic)


async def _black_hole_story(sender: Sender, clock) -> None:  # type: ignore[no-untyped-def]
    for n in range(20):
        await sender.add_follower(f"127.0.0.{n + 2}:9000", "ann")
    sender.receiver.fault("127.0.0.2:9000", black_hole=True)  # 5% of hosts
    await sender.publish_note()
    await sender.worker.fan_out_due()
    started = clock()
    await sender.worker.run_once()
    finished = clock() - started
    healthy = [r.at - started for r in sender.receiver.received]
    assert len(healthy) == 19
    assert finished >= 2.0, "run_once returns only when the black hole has timed out"
    assert max(healthy) < 1.0, "healthy hosts waited for the black hole (client deadline 2 s)"
    assert await states(sender) == {"sent": 19, "pending": 1}


async def test_a_host_failing_for_a_day_is_skipped_until_it_sends_us_something(
    sender: Sender,
) -> None:
    from models.hosts import mark_host_alive

    await sender.add_follower("127.0.0.2:9000", "ann")
    sender.receiver.fault("127.0.0.2:9000", down=True)
    await sender.publish_note()
    for _ in range(12):
        await sender.drain()
        sender.clock.advance(hours=3)
    async with sender.runtime.sessions() as session:
        host = await session.scalar(select(Host).where(Host.host == "127.0.0.2:9000"))
    assert host is not None and host.unavailable_since is not None
    await sender.publish_note()
    await sender.drain()
    async with sender.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 1
    async with sender.runtime.sessions() as session, session.begin():
        await mark_host_alive(session, "127.0.0.2:9000")
    await sender.publish_note()
    await sender.drain()
    async with sender.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 2


async def test_the_app_with_workers_on_delivers_by_itself_and_stops_cleanly(
    database_url: str,
) -> None:
    import asyncio

    from ayni.app import create_app
    from tests.instances import InProcess

    async with start_sender(database_url) as sender:
        await sender.add_follower("127.0.0.2:9000", "ann")
        app = create_app(
            sender.runtime.settings,
            mounts={"all://": sender.receiver},
            workers=True,
            connector=InProcess(sender.receiver),
        )
        await app.state.runtime.engine.dispose()
        async with app.router.lifespan_context(app):
            await sender.publish_note()
            for _ in range(100):
                if sender.receiver.count():
                    break
                await asyncio.sleep(0.05)
        assert sender.receiver.count() == 1
        assert await states(sender) == {"sent": 1}


async def test_a_worker_holds_no_more_of_a_hosts_rows_than_it_can_send_at_once(
    sender: Sender,
) -> None:
    for n in range(10):
        await sender.add_follower("127.0.0.2:9000", f"user{n}", shared=False)
    await sender.publish_note()
    await sender.worker.fan_out_due()
    claimed = await sender.worker.claim(100)
    assert len(claimed) == 4  # per_host; the other six stay claimable by other workers
    async with sender.runtime.sessions() as session:
        locked = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.locked_until.is_not(None))
        )
    assert locked == 4
    await sender.worker.release(claimed)
    await sender.drain()
    assert sender.receiver.count() == 10


def wants_rfc9421(sender: Sender, actor_uri: str) -> None:
    """127.0.0.2 answers 401 to draft-cavage, and serves `actor_uri` to signed GETs."""
    sender.receiver.fault("127.0.0.2", rfc9421_only=True)
    sender.receiver.documents[actor_uri] = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": actor_uri,
        "type": "Person",
        "inbox": f"{actor_uri}/inbox",
    }


async def test_a_server_wanting_rfc_9421_learned_by_a_fetch_gets_it_on_the_first_delivery(
    sender: Sender,
) -> None:
    # Given a server that refuses draft-cavage, found out by a signed fetch (default port written
    # out)
    ann = await sender.add_follower("127.0.0.2", "ann")
    wants_rfc9421(sender, ann)
    await sender.runtime.fetch("http://127.0.0.2:80/users/ann")
    assert sender.receiver.knocks == [("GET", "cavage"), ("GET", "rfc9421")]
    # When a note is delivered there
    await sender.publish_note()
    await sender.drain()
    # Then the first knock is already RFC 9421
    assert sender.receiver.knocks[2:] == [("POST", "rfc9421")]
    assert sender.receiver.count() == 1


async def test_a_server_wanting_rfc_9421_learned_by_a_delivery_gets_it_on_the_first_fetch(
    sender: Sender,
) -> None:
    # Given a server that refuses draft-cavage, found out by a delivery (default port written out)
    ann = await sender.add_follower("127.0.0.2:80", "ann")
    wants_rfc9421(sender, ann.replace(":80", ""))
    await sender.publish_note()
    await sender.drain()
    assert sender.receiver.knocks == [("POST", "cavage"), ("POST", "rfc9421")]
    assert sender.receiver.count() == 1
    # When its actor is fetched
    document = await sender.runtime.fetch("http://127.0.0.2/users/ann")
    # Then the first knock is already RFC 9421
    assert document["type"] == "Person"
    assert sender.receiver.knocks[2:] == [("GET", "rfc9421")]


async def test_a_receiver_taking_only_rfc_9421_gets_a_second_knock_on_the_senders_kept_connection(
    sender: Sender,
) -> None:
    # Given a follower on a server that refuses draft-cavage, as an RFC 9421-only server does
    await sender.add_follower("127.0.0.2:9000", "ann")
    sender.receiver.fault("127.0.0.2:9000", rfc9421_only=True)
    # When two activities are delivered, one after the other
    await sender.publish_note()
    await sender.drain()
    await sender.publish_note()
    await sender.drain()
    # Then the first was knocked twice, the second straight in RFC 9421, both verified
    assert sender.receiver.knocks == [("POST", "cavage"), ("POST", "rfc9421"), ("POST", "rfc9421")]
    assert sender.receiver.count() == 2 and await states(sender) == {"sent": 2}
    # And all three went over one connection of the production Sender, kept between them
    assert sender.worker.sender is not None and sender.worker.sender.connections_opened == 1
