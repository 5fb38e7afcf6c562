"""Three instances and a Mastodon-shaped peer, over real signed HTTP, on both databases: groups
relay each other's calls without loops, report to each other, block actors, and take in
submissions.

Every instance has a group "food"; B follows A, A follows B, C follows B."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from federation import vocab
from federation.itemterms import Kind
from federation.places import Place
from federation.sanitize import html_to_text
from models import actors, group_moderation, posting, relays, remote_actors
from models.actors import LocalActor
from models.content import RemoteObject
from models.following import follow
from models.follows import Direction, Follow, FollowState
from models.items import Item, ItemResponse, RemoteItem
from models.moderation import Relay
from models.posting import Draft
from models.queue import Activity
from models.relays import NotRelayed
from models.remote import RemoteActor
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

A, B, C = "http://127.0.0.1:8111", "http://127.0.0.1:8112", "http://127.0.0.1:8113"
GROUP_A, GROUP_B, GROUP_C = (f"{base}/actors/food" for base in (A, B, C))
STARTS = datetime(2030, 12, 5, 9, 0, tzinfo=UTC)


@dataclass
class World:
    a: Instance
    b: Instance
    c: Instance
    peer: MastodonPeer

    @property
    def all(self) -> tuple[Instance, Instance, Instance]:
        return self.a, self.b, self.c


@pytest.fixture
async def world(net: Net) -> World:
    peer = net.peer("http://127.0.0.1:8211")
    return World(await net.instance(A), await net.instance(B), await net.instance(C), peer)


async def group_of(instance: Instance) -> LocalActor:
    async with instance.runtime.sessions() as session:
        group = await actors.find_actor(session, "food")
    assert group is not None
    return group


async def follows(follower: Instance, followed_uri: str) -> None:
    remote = await remote_actors.remote_actor(follower.runtime, followed_uri)
    async with follower.runtime.sessions() as session, session.begin():
        await follow(session, follower.runtime.uris, await group_of(follower), remote)


async def alliance(world: World) -> None:
    """B follows A, A follows B, C follows B; every follow accepted."""
    await follows(world.b, GROUP_A)
    await follows(world.a, GROUP_B)
    await follows(world.c, GROUP_B)
    await settle(*world.all)
    for instance in world.all:
        async with instance.runtime.sessions() as session:
            states = set(
                await session.scalars(
                    select(Follow.state).where(Follow.direction == Direction.OUTBOUND)
                )
            )
        assert states == {FollowState.ACCEPTED}


async def post_call(instance: Instance, title: str, category: str = "housing") -> Item:
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        return await posting.create_item(
            session,
            instance.runtime.uris,
            group,
            ana,
            Draft(
                Kind.CALL,
                title,
                "Bring a thermos.",
                category,
                as_group=True,
                starts_at=STARTS,
                ends_at=STARTS + timedelta(hours=3),
                people_wanted=20,
                place=Place("Lavapiés"),
            ),
        )


async def count(instance: Instance, query: Any) -> int:
    async with instance.runtime.sessions() as session:
        return int(await session.scalar(query) or 0)


def announces_of(uri: str) -> Any:
    """A group's boosts of the object (not its FEP-1b12 Announces of its own activities about
    it, which embed the activity: `publish.pass_on`)."""
    return (
        select(func.count())
        .select_from(Activity)
        .where(
            Activity.type == "Announce",
            Activity.object_uri == uri,
            Activity.document["object"].as_string() == uri,
        )
    )


async def boosts(instance: Instance) -> int:
    """Announces of an object by its id (not of an activity: `publish.pass_on`)."""
    async with instance.runtime.sessions() as session:
        documents = await session.scalars(
            select(Activity.document).where(Activity.type == "Announce")
        )
        return sum(isinstance(document["object"], str) for document in documents)


async def activities(world: World) -> list[int]:
    return [await count(i, select(func.count()).select_from(Activity)) for i in world.all]


async def test_a_relayed_call_reaches_the_relaying_groups_followers_once_and_never_loops(
    world: World,
) -> None:
    a, b, c = world.all
    # Given the alliance, and C also following A directly (so the call reaches C twice)
    await alliance(world)
    await follows(c, GROUP_A)
    await settle(*world.all)

    # When A posts a call and B's moderator relays it
    call = await post_call(a, "Stop the eviction")
    await settle(*world.all)
    async with b.runtime.sessions() as session, session.begin():
        relay = await relays.relay_item(session, b.runtime.uris, await group_of(b), call.uri)
    assert relay.object_uri == call.uri
    await settle(*world.all)

    # Then B announced it once, A did not announce its own call back, and C boards it once
    assert await count(b, announces_of(call.uri)) == 1
    assert await count(a, announces_of(call.uri)) == 0
    assert (
        await count(
            a, select(func.count()).select_from(RemoteObject).where(RemoteObject.uri == call.uri)
        )
        == 0
    )
    assert (
        await count(
            c, select(func.count()).select_from(RemoteItem).where(RemoteItem.uri == call.uri)
        )
        == 1
    )
    assert (
        await count(
            c, select(func.count()).select_from(RemoteObject).where(RemoteObject.uri == call.uri)
        )
        == 1
    )
    async with c.runtime.sessions() as session:
        boarded = await session.scalar(select(RemoteItem).where(RemoteItem.uri == call.uri))
    assert (
        boarded is not None
        and boarded.title == "Stop the eviction"
        and boarded.group_uri == GROUP_A
    )

    # And sharing it again, or A sharing its own call, is refused
    async with b.runtime.sessions() as session, session.begin():
        with pytest.raises(NotRelayed):
            await relays.relay_item(session, b.runtime.uris, await group_of(b), call.uri)
    async with a.runtime.sessions() as session, session.begin():
        with pytest.raises(NotRelayed):
            await relays.announce(session, a.runtime.uris, await group_of(a), call.uri)

    # And nothing keeps moving: more rounds publish nothing new anywhere
    before = await activities(world)
    assert await settle(*world.all) == 0
    assert await activities(world) == before


async def test_allied_groups_relay_each_others_calls_automatically_per_category_without_a_storm(
    world: World,
) -> None:
    a, b, c = world.all
    # Given the alliance, B relaying A's housing calls and A relaying everything of B's
    await alliance(world)
    async with b.runtime.sessions() as session, session.begin():
        ally_a = await remote_actors.cached(session, GROUP_A)
        assert ally_a is not None
        await relays.add_ally(session, await group_of(b), ally_a, f"{GROUP_A}/categories/housing")
    async with a.runtime.sessions() as session, session.begin():
        ally_b = await remote_actors.cached(session, GROUP_B)
        assert ally_b is not None
        await relays.add_ally(session, await group_of(a), ally_b)

    # When A posts a housing call and a food call, and B a call of its own
    housing = await post_call(a, "Stop the eviction", "housing")
    food = await post_call(a, "Soup kitchen", "food")
    own = await post_call(b, "Rent strike meeting", "other")
    await settle(*world.all)

    # Then B relayed the housing call once, automatically, and not the food call
    async with b.runtime.sessions() as session:
        relayed = [(r.object_uri, r.automatic) for r in await session.scalars(select(Relay))]
    assert relayed == [(housing.uri, True)]
    assert await count(b, announces_of(food.uri)) == 0
    # And A relayed B's call, but nothing of its own came back to be relayed again
    async with a.runtime.sessions() as session:
        relayed_by_a = [r.object_uri for r in await session.scalars(select(Relay))]
    assert relayed_by_a == [own.uri]
    assert await count(b, announces_of(own.uri)) == 0
    # And C (following B only) boards B's call and the relayed housing call, once each
    async with c.runtime.sessions() as session:
        boarded = sorted(r.title for r in await session.scalars(select(RemoteItem)))
    assert boarded == ["Rent strike meeting", "Stop the eviction"]

    # And the traffic is bounded: two relays in all (besides each group passing on its own
    # calls' Creates, FEP-1b12), and further rounds publish nothing
    assert [await boosts(i) for i in world.all] == [1, 1, 0]
    before = await activities(world)
    assert await settle(*world.all) == 0
    assert await activities(world) == before


async def test_a_report_from_another_group_reaches_the_reported_groups_moderators(
    world: World,
) -> None:
    a, b = world.a, world.b
    # Given Ana posts an ask in group A
    async with a.runtime.sessions() as session, session.begin():
        group_a = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group_a is not None and ana is not None
        ask = await posting.create_item(
            session, a.runtime.uris, group_a, ana, Draft(Kind.ASK, "A room tonight")
        )
    # When B's moderator reports it to A's server
    remote = await remote_actors.remote_actor(b.runtime, f"{A}/actors/ana")
    async with b.runtime.sessions() as session, session.begin():
        flag = await group_moderation.report(
            session, b.runtime.uris, await group_of(b), remote, [ask.uri], "This ask is a scam"
        )
    assert flag["object"] == [f"{A}/actors/ana", ask.uri] and flag["type"] == "Flag"
    await settle(a, b)

    # Then A's group moderators see it, with the comment and who sent it
    async with a.runtime.sessions() as session:
        found = await group_moderation.reports(session, a.runtime.uris, await group_of(a))
        reporters = [await session.get(RemoteActor, row.remote_actor_id) for row in found]
    assert [html_to_text(row.content_html) for row in found] == ["This ask is a scam"]
    assert [r.uri for r in reporters if r] == [GROUP_B]
    assert ask.uri in vocab.ids_of(found[0].document["object"])
    # And B's own group has no reports
    async with b.runtime.sessions() as session:
        assert await group_moderation.reports(session, b.runtime.uris, await group_of(b)) == []


async def mention(peer: MastodonPeer, text: str) -> dict[str, Any]:
    return peer.note(
        f"<p>{text}</p>",
        to=[vocab.PUBLIC],
        cc=[f"{peer.actor_uri}/followers", GROUP_A],
        mention=GROUP_A,
    )


async def test_a_submission_is_held_then_announced_on_approval_and_silent_on_rejection(
    world: World,
) -> None:
    a, b, peer = world.a, world.b, world.peer
    # Given a Mastodon user follows group A
    assert (await peer.send(f"{GROUP_A}/inbox", peer.follow(GROUP_A))).status_code == 202
    await settle(a, b)
    # When she posts two public notes mentioning the group
    first, second = await mention(peer, "Free bread at 7!"), await mention(peer, "Buy my stuff")
    for note in (first, second):
        assert (await peer.send(f"{A}/inbox", note)).status_code == 202
    await settle(a, b)
    peer.received.clear()

    # Then both are held for the moderators, and nothing went out
    async with a.runtime.sessions() as session:
        held = await group_moderation.submissions(session, await group_of(a))
    assert [row.uri for row in held] == [first["object"]["id"], second["object"]["id"]]
    assert (
        await count(
            a, select(func.count()).select_from(Activity).where(Activity.type == "Announce")
        )
        == 0
    )

    # When a moderator approves the first and rejects the second
    async with a.runtime.sessions() as session, session.begin():
        group = await group_of(a)
        await group_moderation.approve_submission(session, a.runtime.uris, group, held[0].id)
        await group_moderation.reject_submission(session, group, held[1].id)
    await settle(a, b)

    # Then the follower receives the group's Announce of the first, public, and nothing else
    assert [(act["type"], act["actor"], act["object"]) for act in peer.received] == [
        ("Announce", GROUP_A, first["object"]["id"])
    ]
    assert (
        vocab.PUBLIC in peer.received[0]["to"] and f"{GROUP_A}/followers" in peer.received[0]["cc"]
    )
    # And nothing is pending any more; deciding again is refused
    async with a.runtime.sessions() as session, session.begin():
        group = await group_of(a)
        assert await group_moderation.submissions(session, group) == []
        with pytest.raises(ValueError):
            await group_moderation.reject_submission(session, group, held[0].id)


async def test_a_blocked_actor_can_no_longer_follow_reply_or_submit(world: World) -> None:
    a, peer = world.a, world.peer
    # Given a Mastodon user follows group A, which has posted an offer
    await peer.send(f"{GROUP_A}/inbox", peer.follow(GROUP_A))
    await settle(a)
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        offer = await posting.create_item(
            session, a.runtime.uris, group, ana, Draft(Kind.OFFER, "Bread", as_group=True)
        )
    await settle(a)
    remote = await remote_actors.remote_actor(a.runtime, peer.actor_uri)

    # When the group blocks her
    async with a.runtime.sessions() as session, session.begin():
        await group_moderation.block_actor(session, a.runtime.uris, await group_of(a), remote)
    inbound = select(func.count()).select_from(Follow).where(Follow.direction == Direction.INBOUND)
    # Then her follow is gone
    assert await count(a, inbound) == 0

    # When she follows again, replies to the offer and mentions the group
    peer.received.clear()
    reply = peer.note(
        "<p>Me please</p>", to=[vocab.PUBLIC], cc=[GROUP_A], in_reply_to=offer.uri, mention=GROUP_A
    )
    for activity in (peer.follow(GROUP_A), reply, await mention(peer, "Look at this")):
        assert (await peer.send(f"{GROUP_A}/inbox", activity)).status_code == 202
    await settle(a)

    # Then nothing of it is kept or answered
    assert await count(a, inbound) == 0
    assert await count(a, select(func.count()).select_from(RemoteObject)) == 0
    assert await count(a, select(func.count()).select_from(ItemResponse)) == 0
    assert peer.received == []

    # And once unblocked, she can follow again
    async with a.runtime.sessions() as session, session.begin():
        assert await group_moderation.unblock_actor(session, await group_of(a), remote)
    await peer.send(f"{GROUP_A}/inbox", peer.follow(GROUP_A))
    await settle(a)
    assert await count(a, inbound) == 1
    assert [act["type"] for act in peer.received] == ["Accept"]
