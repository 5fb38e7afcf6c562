"""The escalation ladder of a short call, with a controllable clock, over real signed HTTP on
both databases: each step once and in order, none once the number is reached; step 2's Note
reaches a Mastodon-shaped follower with the count and never the meeting point; step 3 asks the
allied group (it follows us, we follow it) and not a group that only follows us."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from federation import vocab
from federation.itemterms import Kind
from federation.places import Place
from federation.sanitize import html_to_text
from federation.visibility import Visibility
from models import actors, commitments, escalation, posting, remote_actors
from models.actors import LocalActor, Role
from models.calls import Channel, CommitmentState, Escalation
from models.following import follow
from models.follows import Direction, Follow, FollowState
from models.items import Item
from models.notices import Notice, NoticeKind
from models.posting import Draft
from models.remote import RemoteActor
from outbox import expiry
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

A = "http://127.0.0.1:8101"
GROUP = f"{A}/actors/food"
MEETING_POINT = "the blue door at Calle Mayor 7"
STARTS = datetime(2030, 12, 5, 9, 0, tzinfo=UTC)  # short by 07:00; steps at 07:00, 07:40, 08:20


@dataclass
class World:
    a: Instance
    alice: MastodonPeer  # a Mastodon user following the group
    ally: MastodonPeer  # a Group (Lemmy, Friendica, another Ayni) that the group follows back
    loner: MastodonPeer  # a Group that only follows the group


@pytest.fixture
async def world(net: Net) -> World:
    a = await net.instance(A)
    alice = net.peer("http://127.0.0.1:8201")
    ally = net.peer("http://127.0.0.1:8202", "tenants", actor_type="Group")
    loner = net.peer("http://127.0.0.1:8203", "lonely", actor_type="Group")
    for peer in (alice, ally, loner):
        assert (await peer.send(f"{A}/inbox", peer.follow(GROUP))).status_code == 202
    await settle(a)
    # The group follows the ally back, and the ally accepts.
    remote = await remote_actors.remote_actor(a.runtime, ally.actor_uri)
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        await follow(session, a.runtime.uris, group, remote)
    await settle(a)
    sent = next(act for act in ally.received if act["type"] == "Follow")
    accept = {
        "@context": vocab.AS_CONTEXT,
        "id": ally.new_id(),
        "type": "Accept",
        "actor": ally.actor_uri,
        "object": sent,
    }
    assert (await ally.send(f"{A}/inbox", accept)).status_code == 202
    await settle(a)
    async with a.runtime.sessions() as session:
        follows = set(
            await session.execute(
                select(RemoteActor.uri, Follow.direction, Follow.state).join(
                    Follow, Follow.remote_actor_id == RemoteActor.id
                )
            )
        )
    assert (ally.actor_uri, Direction.OUTBOUND, FollowState.ACCEPTED) in follows
    assert (ally.actor_uri, Direction.INBOUND, FollowState.ACCEPTED) in follows
    assert (loner.actor_uri, Direction.INBOUND, FollowState.ACCEPTED) in follows
    for peer in (alice, ally, loner):
        peer.received.clear()
    return World(a, alice, ally, loner)


async def post_call(a: Instance, title: str, needed: int, visibility: Visibility) -> Item:
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        return await posting.create_item(
            session,
            a.runtime.uris,
            group,
            ana,
            Draft(
                Kind.CALL,
                title,
                "Bring a thermos.",
                "housing",
                visibility=visibility,
                as_group=True,
                starts_at=STARTS,
                ends_at=STARTS + timedelta(hours=3),
                people_wanted=needed,
                place=Place("Lavapiés"),
                meeting_point=MEETING_POINT,
            ),
            seal=a.runtime.seal,
        )


async def coming(a: Instance, item: Item, *names: str, at: datetime) -> None:
    async with a.runtime.sessions() as session, session.begin():
        call = await session.get(Item, item.id)
        assert call is not None
        for name in names:
            member = await actors.find_actor(session, name)
            assert member is not None
            await commitments.commit(
                session,
                a.runtime,
                call,
                commitments.Person.member(member),
                CommitmentState.COMING,
                Channel.CLI,
                now=at,
            )


async def steps(a: Instance) -> list[tuple[int, int]]:
    """(item id, step) of every step taken, in the order they were taken."""
    async with a.runtime.sessions() as session:
        return [
            (row.item_id, row.step)
            for row in await session.scalars(select(Escalation).order_by(Escalation.id))
        ]


async def at(a: Instance, hour: int, minute: int) -> None:
    """One round of the periodic job, at this time of the call's day; then deliveries."""
    await expiry.run_once(a.runtime, now=STARTS.replace(hour=hour, minute=minute))
    await settle(a)


def notes(peer: MastodonPeer) -> list[dict[str, Any]]:
    return [
        act["object"]
        for act in peer.received
        if act["type"] == "Create" and vocab.types_of(act["object"])[0] == "Note"
    ]


async def test_a_short_call_escalates_once_per_step_in_order_and_stops_when_reached(
    world: World,
) -> None:
    a, alice, ally, loner = world.a, world.alice, world.ally, world.loner
    # Given a second member, and three calls: a public one needing 3 (Ana is coming), a public
    # one needing 2 and a members-only one needing 5
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        rosa = await actors.create_member(session, "rosa", None, "Rosa Quispe")
        assert group is not None
        await actors.join_group(session, group, rosa, Role.MEMBER)
    short = await post_call(a, "Stop the eviction", 3, Visibility.PUBLIC)
    reached = await post_call(a, "Move Maria's boxes", 2, Visibility.PUBLIC)
    members_only = await post_call(a, "Paint the hall", 5, Visibility.MEMBERS)
    await coming(a, short, "ana", at=STARTS - timedelta(days=1))
    await settle(a)
    for peer in (alice, ally, loner):
        peer.received.clear()

    # Before the needed-by moment nothing happens
    await at(a, 6, 59)
    assert await steps(a) == []

    # At it, step 1 for each call: every member not already coming is told in the app
    await at(a, 7, 0)
    assert await steps(a) == [(short.id, 1), (reached.id, 1), (members_only.id, 1)]
    async with a.runtime.sessions() as session:
        told = sorted(
            (notice.item_id, notice.member_id)
            for notice in await session.scalars(
                select(Notice).where(Notice.kind == NoticeKind.CALL_SHORT)
            )
        )
        ids = {
            m.username: m.id
            for m in await session.scalars(select(LocalActor).where(LocalActor.type == "Person"))
        }
        details = {
            row.item_id: row.detail
            for row in await session.scalars(select(Escalation).where(Escalation.step == 1))
        }
    assert told == sorted(
        (item.id, ids[name])
        for item in (short, reached, members_only)
        for name in ("ana", "rosa")
        if (item, name) != (short, "ana")  # Ana is coming to that one
    )
    assert "members-only" in details[members_only.id] and "only step" in details[members_only.id]
    assert "1 of 3 coming" in details[short.id]
    assert all(not notes(peer) for peer in (alice, ally, loner))

    # Step 1 happens once: the job running again before step 2 does nothing
    await at(a, 7, 20)
    assert len(await steps(a)) == 3

    # When two members commit to the second call, it has its number
    await coming(a, reached, "ana", "rosa", at=STARTS.replace(hour=7, minute=30))
    await settle(a)
    for peer in (alice, ally, loner):
        peer.received.clear()

    # At step 2's time only the call still short goes on: a new Note from the group, in reply
    # to the call, linking it, to its followers (never a second Announce)
    await at(a, 7, 40)
    assert (await steps(a))[3:] == [(short.id, 2)]
    for peer in (alice, ally, loner):
        [note] = notes(peer)
        # (a boost is an Announce of the object; the group passing on its Update of the call's
        # count to Lemmy and Mbin announces the activity itself)
        assert not [
            act
            for act in peer.received
            if act["type"] == "Announce" and not isinstance(act["object"], dict)
        ]
    [note] = notes(alice)
    assert note["attributedTo"] == GROUP and note["inReplyTo"] == short.uri
    assert note["to"] == [vocab.PUBLIC] and note["cc"] == [f"{GROUP}/followers"]
    text = html_to_text(note["content"])
    assert text.startswith("Still 2 people needed for Stop the eviction")
    assert f'href="{short.uri}"' in note["content"]

    # At step 3's time the allied group is asked to relay it, by direct message; the group that
    # only follows is not
    await at(a, 8, 20)
    assert (await steps(a))[4:] == [(short.id, 3)]
    [ask] = notes(ally)[1:]
    assert ask["to"] == [ally.actor_uri] and ask["inReplyTo"] == short.uri
    assert ask["tag"][0]["href"] == ally.actor_uri
    assert "Could you share it with your followers?" in html_to_text(ask["content"])
    assert len(notes(loner)) == 1 and len(notes(alice)) == 1

    # Every step was taken: nothing more, ever
    await at(a, 8, 50)
    assert len(await steps(a)) == 5
    async with a.runtime.sessions() as session:
        assert (await session.get(Item, short.id)).escalation_step == 3  # type: ignore[union-attr]

    # Nothing sent names the meeting point or a member
    sent = json.dumps([alice.received, ally.received, loner.received])
    assert MEETING_POINT not in sent and "Calle Mayor" not in sent
    assert "Rosa" not in sent and f"{A}/actors/ana" not in sent and f"{A}/actors/rosa" not in sent


async def test_escalate_with_force_and_dry_run_takes_the_next_step_now(world: World) -> None:
    a = world.a
    call = await post_call(a, "Stop the eviction", 3, Visibility.FOLLOWERS)
    now = STARTS - timedelta(days=2)  # long before the needed-by moment
    async with a.runtime.sessions() as session, session.begin():
        item = await session.get(Item, call.id)
        assert item is not None
        # Not due yet: nothing, unless forced
        assert await escalation.escalate(session, a.runtime, item, now) is None
        would = await escalation.escalate(session, a.runtime, item, now, dry_run=True, force=True)
        assert would is not None and "would notify 1 member" in would
        assert item.escalation_step == 0
        did = await escalation.escalate(session, a.runtime, item, now, force=True)
        assert did is not None and did.startswith("step 1: notified 1 member")
        did = await escalation.escalate(session, a.runtime, item, now, force=True)
        # A followers-only call's Note goes to its followers only; it has no step 3
        assert did is not None and did.startswith("step 2: published a Note")
        assert "last step" in did
        assert await escalation.escalate(session, a.runtime, item, now, force=True) is None
    await settle(a)
    [note] = notes(world.alice)
    assert note["to"] == [f"{GROUP}/followers"] and note.get("cc") in ([], None)
    assert len(notes(world.ally)) == 1  # the Note; no request to relay
