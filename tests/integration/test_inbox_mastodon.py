"""A Mastodon-shaped peer follows a group, replies, sends a DM, unfollows and deletes its reply,
over real signed HTTP, on both databases."""

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from federation import vocab
from federation.visibility import Visibility
from inbox import worker
from models import actors, follow_requests
from models.content import RemoteObject, RemoteObjectKind, Tombstone
from models.follows import Direction, Follow, FollowState
from models.publish import publish
from models.queue import Activity, Incoming
from outbox.deliver import Payload, deliver
from outbox.worker import DeliveryWorker
from outbox.worker import sender as outbox_sender
from tests.instances import Instance
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"


@dataclass
class World:
    instance: Instance
    peer: MastodonPeer


@pytest.fixture
async def world(net: Net) -> World:
    peer = net.peer("http://127.0.0.1:8201")
    return World(await net.instance(BASE), peer)


async def count(instance: Instance, query) -> int:  # type: ignore[no-untyped-def]
    async with instance.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def deliver_as_outbox_would(instance: Instance, activity: Activity, inbox: str) -> int | None:
    """Sign the stored activity as its actor and POST it through a Sender (the outbox worker's
    job, done by hand)."""
    async with instance.runtime.sessions() as session:
        sender = await session.get(actors.LocalActor, activity.actor_id)
        assert sender is not None
    key = instance.runtime.signer(sender).key
    async with outbox_sender(instance.runtime) as posts:
        outcome = await deliver(
            posts, inbox, Payload.of(activity.document), key, instance.runtime.schemes
        )
    return outcome.status


async def test_mastodon_user_follows_gets_an_accept_mastodon_takes_and_keeps_one_follower_row(
    world: World,
) -> None:
    instance, peer = world.instance, world.peer
    # Given the peer resolves the group by WebFinger
    group_uri = await peer.resolve("food@127.0.0.1:8101")
    assert group_uri == GROUP
    inbox = await peer.inbox_of(group_uri)

    # When it follows, and the worker runs
    follow = peer.follow(group_uri)
    assert (await peer.send(inbox, follow)).status_code == 202
    assert await worker.run_once(instance.runtime) == 1

    # Then one accepted follower row exists, and an Accept from the group embedding the Follow is
    # stored
    async with instance.runtime.sessions() as session:
        follows = list(await session.scalars(select(Follow)))
        accepts = list(await session.scalars(select(Activity).where(Activity.type == "Accept")))
    assert [(f.direction, f.state, f.activity_uri) for f in follows] == [
        (Direction.INBOUND, FollowState.ACCEPTED, follow["id"])
    ]
    assert len(accepts) == 1
    accept = accepts[0]
    assert accept.document["actor"] == GROUP
    assert accept.document["object"]["id"] == follow["id"]
    assert accept.document["object"]["type"] == "Follow"
    assert accept.document["object"]["actor"] == peer.actor_uri
    assert accept.document["to"] == [peer.actor_uri]
    assert accept.visibility == Visibility.DIRECT
    assert accept.audience == {"followers": False, "actors": [peer.actor_uri]}

    # And the outbox delivers it signed by the group; Mastodon's checks accept it
    await DeliveryWorker(instance.runtime).run_once()
    assert peer.refused == []
    assert [(a["type"], a["actor"], a["object"]["id"]) for a in peer.received] == [
        ("Accept", GROUP, follow["id"])
    ]
    # (and so would a delivery signed by hand, the way any other sender would)
    assert await deliver_as_outbox_would(instance, accept, f"{peer.actor_uri}/inbox") == 202

    # When the same Follow comes again, the Accept is sent again, and there is still one follower
    again = {**follow, "id": f"{follow['id']}-again"}
    assert (await peer.send(inbox, again)).status_code == 202
    await worker.run_once(instance.runtime)
    assert await count(instance, select(Follow)) == 1
    assert await count(instance, select(Activity).where(Activity.type == "Accept")) == 2


@pytest.mark.parametrize("approve", [True, False])
async def test_group_that_approves_by_hand_holds_the_follow_until_a_moderator_decides(
    world: World, approve: bool
) -> None:
    instance, peer = world.instance, world.peer
    runtime = instance.runtime
    async with runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        group.manually_approves_followers = True
    follow = peer.follow(GROUP)
    await peer.send(f"{GROUP}/inbox", follow)
    await worker.run_once(runtime)
    assert await count(instance, select(Follow).where(Follow.state == FollowState.PENDING)) == 1
    assert await count(instance, select(Activity)) == 0

    # When a moderator decides
    async with runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        [(request, remote)] = await follow_requests.pending_requests(session, group)
        assert remote.uri == peer.actor_uri
        await follow_requests.decide(runtime, session, request, accept=approve)

    # Then the follower gets the answer, signed by the group, embedding its Follow
    await DeliveryWorker(runtime).run_once()
    answer = "Accept" if approve else "Reject"
    assert [(a["type"], a["object"]["id"]) for a in peer.received] == [(answer, follow["id"])]
    state = FollowState.ACCEPTED if approve else FollowState.REJECTED
    assert await count(instance, select(Follow).where(Follow.state == state)) == 1


async def test_mastodon_user_replies_sends_a_dm_unfollows_and_deletes_the_reply(
    world: World,
) -> None:
    instance, peer = world.instance, world.peer
    runtime = instance.runtime
    # Given the peer follows the group, and the group has published a post
    follow = peer.follow(GROUP)
    await peer.send(f"{GROUP}/inbox", follow)
    post_uri = f"{BASE}/objects/first-post"
    async with runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        await publish(
            session,
            group,
            {
                "id": f"{BASE}/activities/first",
                "type": "Create",
                "actor": GROUP,
                "object": {
                    "id": post_uri,
                    "type": "Note",
                    "attributedTo": GROUP,
                    "content": "Soup on Friday",
                },
            },
            Visibility.PUBLIC,
            followers=True,
        )

    # When it replies publicly to the post (with some hostile HTML)
    reply = peer.note(
        "<p>I can bring bread <script>alert(1)</script></p>",
        to=[vocab.PUBLIC],
        cc=[GROUP, f"{peer.actor_uri}/followers"],
        in_reply_to=post_uri,
        mention=GROUP,
    )
    assert (await peer.send(f"{BASE}/inbox", reply)).status_code == 202
    # And sends the group a direct message
    dm = peer.note("<p>Can I pick up for my neighbour?</p>", to=[GROUP], mention=GROUP)
    assert (await peer.send(f"{GROUP}/inbox", dm)).status_code == 202
    assert await worker.run_once(runtime) == 3

    # Then the reply is a public response to the group's post, sanitised; the DM a private response
    async with runtime.sessions() as session:
        objects = {o.uri: o for o in await session.scalars(select(RemoteObject))}
        group = await actors.find_actor(session, "food")
        assert group is not None
    stored_reply = objects[reply["object"]["id"]]
    assert (stored_reply.kind, stored_reply.public, stored_reply.local_actor_id) == (
        RemoteObjectKind.RESPONSE,
        True,
        group.id,
    )
    assert stored_reply.in_reply_to_uri == post_uri
    assert "script" not in stored_reply.content_html and "bread" in stored_reply.content_html
    stored_dm = objects[dm["object"]["id"]]
    assert (stored_dm.kind, stored_dm.public, stored_dm.local_actor_id) == (
        RemoteObjectKind.PRIVATE,
        False,
        group.id,
    )

    # When it undoes its follow, and deletes its reply
    await peer.send(f"{BASE}/inbox", peer.undo(follow))
    await peer.send(f"{BASE}/inbox", peer.delete(reply["object"]))
    assert await worker.run_once(runtime) == 2

    # Then it no longer follows, the reply is gone, and a tombstone remembers it
    assert await count(instance, select(Follow)) == 0
    assert (
        await count(instance, select(RemoteObject).where(RemoteObject.uri == reply["object"]["id"]))
        == 0
    )
    assert (
        await count(instance, select(Tombstone).where(Tombstone.uri == reply["object"]["id"])) == 1
    )
    async with runtime.sessions() as session:
        states = set(await session.scalars(select(Incoming.state)))
    assert states == {"done"}

    # And the late copy of the deleted reply is ignored
    late = {**reply, "id": reply["id"] + "-late"}
    await peer.send(f"{BASE}/inbox", late)
    await worker.run_once(runtime)
    assert (
        await count(instance, select(RemoteObject).where(RemoteObject.uri == reply["object"]["id"]))
        == 0
    )
