"""Allowlist mode: only listed domains may deliver to us or receive from us; discovery stays
open."""

from collections.abc import AsyncIterator

import pytest

from inbox import worker
from models import policy
from models.follows import Follow
from outbox.fanout import Recipient, fan_out
from tests.instances import Instance, Loopback, start_instance
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"


@pytest.fixture
async def allowlisted(
    database_url: str,
) -> AsyncIterator[tuple[Instance, MastodonPeer, MastodonPeer]]:
    """An instance in allowlist mode that allows `localhost` (peer `friend`), not 127.0.0.1
    (peer `stranger`)."""
    network = Loopback()
    friend = MastodonPeer("http://localhost:8201", network, username="friend")
    stranger = MastodonPeer("http://127.0.0.1:8202", network, username="stranger")
    for peer in (friend, stranger):
        network.add(peer.host, peer.app)
    async with start_instance(BASE, database_url, network) as instance:
        async with instance.runtime.sessions() as session, session.begin():
            await policy.set_mode(session, policy.Mode.ALLOWLIST)
            await policy.allow_domain(session, "localhost")
        instance.runtime.blocklist.forget()
        yield instance, friend, stranger
    await friend.aclose()
    await stranger.aclose()


async def test_only_allowed_domains_can_follow(
    allowlisted: tuple[Instance, MastodonPeer, MastodonPeer],
) -> None:
    instance, friend, stranger = allowlisted

    refused = await stranger.send(f"{BASE}/inbox", stranger.follow(GROUP))
    accepted = await friend.send(f"{BASE}/inbox", friend.follow(GROUP))
    await worker.run_once(instance.runtime)

    assert refused.status_code == 403
    assert accepted.status_code == 202
    from sqlalchemy import func, select

    async with instance.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Follow)) == 1


async def test_the_instance_actor_and_discovery_stay_public(
    allowlisted: tuple[Instance, MastodonPeer, MastodonPeer],
) -> None:
    instance, _, _ = allowlisted

    actor = await instance.http.get("/actor", headers={"Accept": "application/activity+json"})
    finger = await instance.http.get(
        "/.well-known/webfinger", params={"resource": "acct:food@127.0.0.1:8101"}
    )

    assert actor.status_code == 200
    assert finger.status_code == 200


def test_fan_out_in_allowlist_mode_reaches_only_allowed_domains() -> None:
    recipients = [
        Recipient("https://ally.example/u/a", "https://ally.example/u/a/inbox"),
        Recipient("https://sub.ally.example/u/b", "https://sub.ally.example/inbox"),
        Recipient("https://other.example/u/c", "https://other.example/inbox"),
    ]

    open_targets = fan_out("Create", recipients, own_host="aid.example")
    allowed_targets = fan_out(
        "Create", recipients, own_host="aid.example", allowed_domains={"ally.example"}
    )

    assert len(open_targets) == 3
    assert [t.host for t in allowed_targets] == ["ally.example", "sub.ally.example"]


def test_rules_refuse_blocked_domains_even_when_allowed() -> None:
    rules = policy.Rules(
        blocked=frozenset({"bad.ally.example"}), allowed=frozenset({"ally.example"})
    )

    assert not rules.refuses("ally.example")
    assert rules.refuses("bad.ally.example")
    assert rules.refuses("other.example")
    assert not policy.Rules(blocked=frozenset({"x.example"})).refuses("other.example")
