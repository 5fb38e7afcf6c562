"""Saying "I'm coming" to a call from elsewhere on the fediverse, over real signed HTTP, on both
databases: a Mastodon poll vote, a direct message, a Mobilizon Join and Leave, a group's Join
for someone it does not name, Friendica's answers to the Event; the poll and attendees
documents stay current; a block withdraws and takes the meeting point back."""

import json
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import select, update

from federation import vocab
from federation.itemterms import Status
from federation.visibility import Visibility
from inbox.handlers import Context
from models import actors, group_moderation
from models.base import utcnow
from models.calls import Commitment
from models.content import RemoteObject
from models.escrow import EscrowLink
from models.items import Item, ItemResponse
from models.queue import Incoming
from tests.calls import SECRET, post_call
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
INBOX = f"{BASE}/inbox"
AS_JSON = {"Accept": "application/activity+json"}


@dataclass
class World:
    instance: Instance
    alice: MastodonPeer
    mallory: MastodonPeer

    async def run(self, sender: MastodonPeer, activity: dict[str, Any]) -> tuple[str, str | None]:
        """Deliver one activity, run the inbox, deliver what it sent; how the activity ended."""
        assert (await sender.send(INBOX, activity)).status_code == 202
        await settle(self.instance)
        async with self.instance.runtime.sessions() as session:
            row = (
                await session.execute(
                    select(Incoming.state, Incoming.last_error).where(
                        Incoming.activity_uri == activity["id"]
                    )
                )
            ).one()
        return row.state, row.last_error

    async def call(self, **changes: Any) -> Item:
        return await post_call(self.instance, **changes)

    async def commitments(self, item: Item) -> list[tuple[str, str, str]]:
        async with self.instance.runtime.sessions() as session:
            rows = await session.scalars(
                select(Commitment).where(Commitment.item_id == item.id).order_by(Commitment.id)
            )
            return [(c.person, c.state, c.channel) for c in rows]

    async def get(self, url: str) -> Any:
        return await self.instance.http.get(url, headers=AS_JSON)


@pytest.fixture
async def world(net: Net) -> World:
    alice, mallory = net.peer("http://127.0.0.1:8201"), net.peer("http://127.0.0.1:8202", "mallory")
    return World(await net.instance(BASE), alice, mallory)


def vote(peer: MastodonPeer, item: Item, option: str) -> dict[str, Any]:
    """What Mastodon sends for a vote: a Note named after the option, to the poll's author."""
    create = peer.note("", to=[GROUP], in_reply_to=item.poll_uri)
    for field in ("content", "contentMap", "summary", "sensitive", "url", "tag"):
        create["object"].pop(field)
    create["object"]["name"] = option
    return create


def dms(peer: MastodonPeer) -> list[dict[str, Any]]:
    return [a["object"] for a in peer.received if a["type"] == "Create"]


async def test_a_poll_vote_counts_once_and_the_poll_and_attendees_are_current(
    world: World,
) -> None:
    item = await world.call()
    alice = world.alice.actor_uri
    first = vote(world.alice, item, "I'm coming")
    assert (await world.run(world.alice, first))[0] == "done"
    assert await world.commitments(item) == [(alice, "coming", "poll")]
    (dm,) = dms(world.alice)
    assert "/where/" in dm["content"] and dm["to"] == [alice]
    # Counted once: the same vote again, and the same option with a new id, change nothing.
    state, reason = await world.run(world.alice, vote(world.alice, item, "I'm coming"))
    assert state == "ignored" and "counted once" in (reason or "")
    assert await world.commitments(item) == [(alice, "coming", "poll")]
    assert len(dms(world.alice)) == 1
    # Mastodon refetches the Question: its tallies are the counts now.
    poll = (await world.get(item.poll_uri)).json()
    assert (poll["type"], poll["id"], poll["votersCount"]) == ("Question", item.poll_uri, 1)
    assert [o["replies"]["totalItems"] for o in poll["oneOf"]] == [1, 0]
    attendees = (await world.get(item.uri + "/attendees")).json()
    assert (attendees["type"], attendees["totalItems"]) == ("Collection", 1)
    assert "items" not in attendees and "orderedItems" not in attendees
    # Spanish option names count too; "No puedo" withdraws and takes the link back.
    assert (await world.run(world.alice, vote(world.alice, item, "No puedo")))[0] == "done"
    assert await world.commitments(item) == [(alice, "withdrawn", "poll")]
    poll = (await world.get(item.poll_uri)).json()
    assert [o["replies"]["totalItems"] for o in poll["oneOf"]] == [0, 1]
    assert (await world.get(item.uri + "/attendees")).json()["totalItems"] == 0
    deletes = [a for a in world.alice.received if a["type"] == "Delete"]
    assert [d["object"]["id"] for d in deletes] == [dm["id"]]
    # Votes are counted, never kept as messages.
    async with world.instance.runtime.sessions() as session:
        assert list(await session.scalars(select(RemoteObject))) == []
    assert SECRET not in json.dumps([*world.alice.received, poll])


async def test_a_vote_for_a_call_that_is_over_is_ignored(world: World) -> None:
    item = await world.call()
    async with world.instance.runtime.sessions() as session, session.begin():
        await session.execute(
            update(Item).where(Item.id == item.id).values(status=Status.CANCELLED)
        )
    state, reason = await world.run(world.alice, vote(world.alice, item, "I'm coming"))
    assert state == "ignored" and "closed" in (reason or "")
    assert await world.commitments(item) == []


async def test_the_poll_is_gated_like_its_call(world: World) -> None:
    members_only = await world.call(visibility=Visibility.MEMBERS)
    assert (await world.get(members_only.poll_uri)).status_code == 404
    assert (await world.get(members_only.uri + "/attendees")).status_code == 404
    followers_only = await world.call(visibility=Visibility.FOLLOWERS)
    assert (await world.get(followers_only.poll_uri)).status_code == 404
    item = await world.call()
    async with world.instance.runtime.sessions() as session, session.begin():
        await session.execute(update(Item).where(Item.id == item.id).values(deleted_at=utcnow()))
    gone = await world.get(item.poll_uri)
    assert gone.status_code == 410 and gone.json()["type"] == "Tombstone"
    assert gone.json()["id"] == item.poll_uri


async def test_direct_messages_with_a_keyword_commit_and_the_group_says_what_it_understood(
    world: World,
) -> None:
    item = await world.call()
    alice, mallory = world.alice, world.mallory
    # English, in reply to the call
    coming = alice.note("<p>@food Count me in!</p>", to=[GROUP], in_reply_to=item.uri)
    assert (await world.run(alice, coming))[0] == "done"
    # Spanish, in reply to the poll, and by pasting the call's link
    voy = mallory.note("<p>@food voy</p>", to=[GROUP], in_reply_to=item.poll_uri)
    assert (await world.run(mallory, voy))[0] == "done"
    assert await world.commitments(item) == [
        (alice.actor_uri, "coming", "dm"),
        (mallory.actor_uri, "coming", "dm"),
    ]
    answers = [n for n in dms(alice) if n["inReplyTo"] == coming["object"]["id"]]
    assert [a["content"] for a in answers if "Counted" in a["content"]] != []
    linked = f'<p>ya no puedo <a href="{item.uri}">{item.uri}</a></p>'
    ya_no = mallory.note(linked, to=[GROUP])
    assert (await world.run(mallory, ya_no))[0] == "done"
    assert (await world.commitments(item))[1] == (mallory.actor_uri, "withdrawn", "dm")
    understood = [n for n in dms(mallory) if n["inReplyTo"] == ya_no["object"]["id"]]
    assert len(understood) == 1 and "no longer counted" in understood[0]["content"]
    # Anything else is for people to read: a private response, as before.
    question = alice.note("<p>@food What should I bring?</p>", to=[GROUP], in_reply_to=item.uri)
    assert (await world.run(alice, question))[0] == "done"
    async with world.instance.runtime.sessions() as session:
        kinds = list(await session.scalars(select(ItemResponse.kind)))
    assert kinds == ["message"]
    assert len(await world.commitments(item)) == 2


async def test_a_mobilizon_join_is_accepted_counted_and_left_and_a_full_call_rejects(
    world: World,
) -> None:
    item = await world.call(capacity=1)
    alice, mallory = world.alice, world.mallory
    join = {"@context": vocab.AS_CONTEXT, "id": alice.new_id(), "type": "Join"}
    join |= {"actor": alice.actor_uri, "object": item.uri}
    assert (await world.run(alice, join))[0] == "done"
    assert await world.commitments(item) == [(alice.actor_uri, "coming", "join")]
    (accept,) = [a for a in alice.received if a["type"] == "Accept"]
    assert accept["actor"] == GROUP and accept["object"]["id"] == join["id"]
    assert accept["object"]["type"] == "Join" and accept["object"]["object"] == item.uri
    # Full: the next Join is refused, and not counted.
    other = {**join, "id": mallory.new_id(), "actor": mallory.actor_uri}
    assert (await world.run(mallory, other))[0] == "done"
    (reject,) = [a for a in mallory.received if a["type"] == "Reject"]
    assert reject["object"]["id"] == other["id"]
    assert len(await world.commitments(item)) == 1
    leave = {"@context": vocab.AS_CONTEXT, "id": alice.new_id(), "type": "Leave"}
    leave |= {"actor": alice.actor_uri, "object": item.uri}
    assert (await world.run(alice, leave))[0] == "done"
    assert await world.commitments(item) == [(alice.actor_uri, "withdrawn", "join")]
    # A Leave by someone who never came, and an Invite, are not errors.
    stray = {**leave, "id": mallory.new_id(), "actor": mallory.actor_uri}
    assert (await world.run(mallory, stray))[0] == "ignored"
    invite = {"id": alice.new_id(), "type": "Invite", "actor": alice.actor_uri}
    invite |= {"object": item.uri, "target": mallory.actor_uri}
    assert (await world.run(alice, invite))[0] == "ignored"


async def test_a_group_joins_once_per_person_it_speaks_for_and_undoes_by_join(
    world: World, net: Net
) -> None:
    item = await world.call()
    group = net.peer("http://127.0.0.1:8203", "neighbours", actor_type="Group")
    joins = [
        {"id": group.new_id(), "type": "Join", "actor": group.actor_uri, "object": item.uri}
        for _ in range(2)
    ]
    for join in joins:
        assert (await world.run(group, join))[0] == "done"
    assert await world.commitments(item) == [
        (joins[0]["id"], "coming", "join"),
        (joins[1]["id"], "coming", "join"),
    ]
    # Each gets its own way to the meeting point, in reply to its Join, to pass on.
    links = [n for n in dms(group) if "/where/" in n["content"]]
    assert sorted(n["inReplyTo"] for n in links) == sorted(j["id"] for j in joins)
    undo = {"id": group.new_id(), "type": "Undo", "actor": group.actor_uri}
    undo["object"] = joins[0]["id"]
    assert (await world.run(group, undo))[0] == "done"
    assert [c[1] for c in await world.commitments(item)] == ["withdrawn", "coming"]


async def test_friendica_answers_to_the_event_count(world: World) -> None:
    item = await world.call()
    alice = world.alice
    event = {"id": item.uri, "type": "Event"}
    answers = [("TentativeAccept", "maybe"), ("Accept", "coming"), ("Reject", "withdrawn")]
    for kind, state in answers:
        answer = {"id": alice.new_id(), "type": kind, "actor": alice.actor_uri, "object": event}
        assert (await world.run(alice, answer))[0] == "done"
        assert await world.commitments(item) == [(alice.actor_uri, state, "event-reply")]
    # An Accept of something that is neither a call nor a follow of ours is still ignored.
    stray = {"id": alice.new_id(), "type": "TentativeAccept", "actor": alice.actor_uri}
    stray["object"] = f"{BASE}/items/{uuid4().hex}"
    assert (await world.run(alice, stray))[0] == "ignored"


async def test_a_block_withdraws_and_takes_the_meeting_point_back(world: World) -> None:
    item = await world.call()
    alice = world.alice
    join = {"id": alice.new_id(), "type": "Join", "actor": alice.actor_uri, "object": item.uri}
    assert (await world.run(alice, join))[0] == "done"
    (dm,) = [n for n in dms(alice) if "/where/" in n["content"]]
    runtime = world.instance.runtime
    remote = await Context(runtime).actor(alice.actor_uri)
    async with runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        await group_moderation.block_actor(session, runtime.uris, group, remote)
    await settle(world.instance)
    assert await world.commitments(item) == [(alice.actor_uri, "withdrawn", "join")]
    async with runtime.sessions() as session:
        (link,) = await session.scalars(select(EscrowLink))
    assert link.revoked_at is not None and link.message_uri == dm["id"]
    deletes = [a for a in alice.received if a["type"] == "Delete"]
    assert [d["object"]["id"] for d in deletes] == [dm["id"]]
    # And, blocked, her next Join is not counted.
    again = {**join, "id": alice.new_id()}
    assert (await world.run(alice, again))[0] == "ignored"


async def test_malformed_attendance_is_ignored_with_a_reason(world: World) -> None:
    item = await world.call()
    alice = world.alice
    shapes: list[dict[str, Any]] = [
        {"type": "Join", "object": [item.uri, item.uri]},
        {"type": "Join", "object": {"type": "Event"}},
        {"type": "Join", "object": "https://elsewhere.example/events/1"},
        {"type": "Leave", "object": 42},
        {"type": "Undo", "object": {"type": "Join", "object": item.uri}},
        {"type": "TentativeAccept", "object": None},
        {"type": "Reject", "object": {"type": "Join", "id": f"{BASE}/activities/none"}},
    ]
    for shape in shapes:
        activity = {"id": alice.new_id(), "actor": alice.actor_uri, **shape}
        state, reason = await world.run(alice, activity)
        assert state == "ignored" and reason, shape
    assert await world.commitments(item) == []
