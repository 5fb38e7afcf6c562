"""Two Ayni instances and a Mastodon-shaped follower, over real signed HTTP, on both databases:
group B follows group A; A posts an ask, an offer and a call; B's network board shows them
structured; A fulfils the ask and cancels the call; B shows the new states; the Mastodon
follower reads them and its reply becomes a response on A."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from federation import vocab
from federation.itemterms import Kind, Status
from federation.places import Place
from federation.sanitize import html_to_text
from federation.visibility import Visibility
from models import actors, posting, remote_actors
from models.following import follow
from models.follows import Direction, Follow, FollowState
from models.items import Item, RemoteItem
from models.posting import Draft
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

A = "http://127.0.0.1:8101"
B = "http://127.0.0.1:8102"
GROUP_A = f"{A}/actors/food"


@dataclass
class World:
    a: Instance
    b: Instance
    peer: MastodonPeer


@pytest.fixture
async def world(net: Net) -> World:
    peer = net.peer("http://127.0.0.1:8201")
    return World(await net.instance(A), await net.instance(B), peer)


async def board(instance: Instance) -> dict[str, RemoteItem]:
    async with instance.runtime.sessions() as session:
        return {r.title: r for r in await session.scalars(select(RemoteItem))}


async def test_a_followed_groups_asks_offers_and_calls_reach_the_board_and_mastodon(
    world: World,
) -> None:
    a, b, peer = world.a, world.b, world.peer
    # Given group B follows group A, and A accepts on its own
    remote = await remote_actors.remote_actor(b.runtime, GROUP_A)
    async with b.runtime.sessions() as session, session.begin():
        group_b = await actors.find_actor(session, "food")
        assert group_b is not None
        await follow(session, b.runtime.uris, group_b, remote)
    await settle(a, b)
    async with b.runtime.sessions() as session:
        state = await session.scalar(
            select(Follow.state).where(Follow.direction == Direction.OUTBOUND)
        )
    assert state == FollowState.ACCEPTED
    # And a Mastodon user follows A too
    await peer.send(f"{GROUP_A}/inbox", peer.follow(GROUP_A))
    await settle(a, b)
    peer.received.clear()

    # When A posts an ask (by Ana), an offer and a call (as the group)
    starts = datetime(2030, 12, 5, 9, 0, tzinfo=UTC)
    drafts = [
        Draft(
            Kind.ASK,
            "Nappies, size 4",
            "Two packs, please.",
            "goods",
            quantity=2,
            place=Place("Riverside", 40.4168, -3.7038, 1000),
        ),
        Draft(
            Kind.OFFER, "Bread every evening", "From the bakery.", "food", as_group=True, quantity=5
        ),
        Draft(
            Kind.CALL,
            "Stop the eviction",
            "Bring a thermos.",
            "housing",
            as_group=True,
            starts_at=starts,
            ends_at=starts + timedelta(hours=3),
            people_wanted=20,
            place=Place("Lavapiés"),
            meeting_point="the square",
            timezone="Europe/Madrid",
        ),
    ]
    posted: dict[str, Item] = {}
    async with a.runtime.sessions() as session, session.begin():
        group_a = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group_a is not None and ana is not None
        for draft in drafts:
            posted[draft.kind] = await posting.create_item(
                session, a.runtime.uris, group_a, ana, draft, seal=a.runtime.seal
            )
    await settle(a, b)

    # Then B's board shows all three, structured
    seen = await board(b)
    assert set(seen) == {"Nappies, size 4", "Bread every evening", "Stop the eviction"}
    ask, offer, call = (
        seen["Nappies, size 4"],
        seen["Bread every evening"],
        seen["Stop the eviction"],
    )
    assert (ask.kind, ask.status, ask.quantity, ask.category_uri) == (
        "ask",
        "open",
        2,
        f"{GROUP_A}/categories/goods",
    )
    assert ask.place_name == "Riverside" and ask.radius_m == 1000 and ask.latitude is not None
    assert ask.uri == posted[Kind.ASK].uri and ask.group_uri == GROUP_A
    assert (offer.kind, offer.status, offer.quantity) == ("offer", "open", 5)
    assert (call.kind, call.status, call.people_wanted, call.starts_at) == (
        "call",
        "scheduled",
        20,
        starts,
    )

    # And the Mastodon follower can read each in full: Notes by content, the Event by name + summary
    types = sorted(
        (
            act["type"],
            vocab.types_of(act["object"])[0] if isinstance(act["object"], dict) else "uri",
        )
        for act in peer.received
    )
    # (and the group's FEP-1b12 Announce of each Create, which Mastodon cannot fetch and drops)
    assert types == [
        ("Announce", "Create"),
        ("Announce", "Create"),
        ("Announce", "Create"),
        ("Announce", "uri"),
        ("Create", "Event"),
        ("Create", "Note"),
        ("Create", "Question"),
    ]
    # The call's exact meeting point is sealed: in nothing sent, nothing B stored
    assert "the square" not in json.dumps(peer.received)
    assert all("the square" not in json.dumps(item.document) for item in seen.values())
    note = next(
        act["object"]
        for act in peer.received
        if act["type"] == "Create" and act["object"]["type"] == "Note"
    )
    assert html_to_text(note["content"]).startswith("Offer: Bread every evening")
    event = next(
        act["object"]
        for act in peer.received
        if act["type"] == "Create" and act["object"]["type"] == "Event"
    )
    assert (
        "20" in event["summary"]
        and "Lavapiés" in event["summary"]
        and event["name"] == "Stop the eviction"
    )
    announced = await peer.http.get(posted[Kind.ASK].uri, headers={"Accept": vocab.ACTIVITY_JSON})
    assert "Ask: Nappies, size 4" in html_to_text(announced.json()["content"])

    # When A fulfils the ask and cancels the call
    async with a.runtime.sessions() as session, session.begin():
        for kind, status in ((Kind.ASK, Status.FULFILLED), (Kind.CALL, Status.CANCELLED)):
            item = await session.get(Item, posted[kind].id)
            assert item is not None
            await posting.close_item(session, a.runtime.uris, item, status)
    peer.received.clear()
    await settle(a, b)

    # Then B shows the new states, and Mastodon got the edits from their authors
    seen = await board(b)
    assert seen["Nappies, size 4"].status == "fulfilled"
    assert seen["Stop the eviction"].status == "cancelled"
    assert seen["Bread every evening"].status == "open"
    updates = {act["object"]["id"]: act for act in peer.received if act["type"] == "Update"}
    assert updates[posted[Kind.ASK].uri]["actor"] == f"{A}/actors/ana"
    assert updates[posted[Kind.CALL].uri]["object"]["eventStatus"] == "EventCancelled"

    # When the Mastodon user replies to the offer
    reply = peer.note(
        "<p>Could I have two loaves?</p>",
        to=[vocab.PUBLIC],
        cc=[GROUP_A],
        in_reply_to=posted[Kind.OFFER].uri,
        mention=GROUP_A,
    )
    assert (await peer.send(f"{A}/inbox", reply)).status_code == 202
    await settle(a, b)

    # Then it is a response to the offer, which the group's moderators see
    async with a.runtime.sessions() as session:
        offer_row = await session.get(Item, posted[Kind.OFFER].id)
        ana = await actors.find_actor(session, "ana")
        assert offer_row is not None and ana is not None
        responses = await posting.responses(session, offer_row, ana)
    assert [(r.kind, r.remote_object_id is not None) for r in responses] == [("reply", True)]

    # And when A deletes the offer, it leaves B's board
    async with a.runtime.sessions() as session, session.begin():
        offer_row = await session.get(Item, posted[Kind.OFFER].id)
        assert offer_row is not None
        await posting.delete_item(session, a.runtime.uris, offer_row)
    await settle(a, b)
    assert set(await board(b)) == {"Nappies, size 4", "Stop the eviction"}


async def test_members_only_items_are_not_delivered_to_followers(world: World) -> None:
    a, b, peer = world.a, world.b, world.peer
    await peer.send(f"{GROUP_A}/inbox", peer.follow(GROUP_A))
    await settle(a, b)
    peer.received.clear()
    async with a.runtime.sessions() as session, session.begin():
        group_a = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group_a is not None and ana is not None
        item = await posting.create_item(
            session,
            a.runtime.uris,
            group_a,
            ana,
            Draft(Kind.ASK, "Members only: a room for a night", visibility=Visibility.MEMBERS),
        )
    await settle(a, b)
    assert peer.received == []
    fetched = await peer.http.get(item.uri, headers={"Accept": vocab.ACTIVITY_JSON})
    assert fetched.status_code == 404


async def test_a_direct_message_linking_an_item_is_a_response_only_its_author_and_moderators_see(
    world: World,
) -> None:
    a, peer = world.a, world.peer
    async with a.runtime.sessions() as session, session.begin():
        group_a = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group_a is not None and ana is not None
        rosa = await actors.create_member(session, "rosa", None, "Rosa")
        await actors.join_group(session, group_a, rosa, actors.Role.MEMBER)
        item = await posting.create_item(
            session,
            a.runtime.uris,
            group_a,
            ana,
            Draft(Kind.OFFER, "A cot for a baby", category="goods", as_group=True),
        )
    # When a Mastodon user sends the group a DM with the item's link
    dm = peer.note(
        f'<p>Is the cot still free? <a href="{item.uri}">{item.uri}</a></p>',
        to=[GROUP_A],
        mention=GROUP_A,
    )
    assert (await peer.send(f"{GROUP_A}/inbox", dm)).status_code == 202
    await settle(a)

    # Then it is a private response to the offer: the group's admin sees it, a plain member may not
    async with a.runtime.sessions() as session:
        stored = await session.get(Item, item.id)
        ana = await actors.find_actor(session, "ana")
        rosa = await actors.find_actor(session, "rosa")
        assert stored is not None and ana is not None and rosa is not None
        seen = await posting.responses(session, stored, ana)
        with pytest.raises(posting.NotAllowed):
            await posting.responses(session, stored, rosa)
    assert [r.kind for r in seen] == ["message"]

    # An answer holding a phone number or an e-mail is refused unless she confirms it
    async with a.runtime.sessions() as session, session.begin():
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        with pytest.raises(posting.PersonalData) as refused:
            await posting.reply_to_response(
                session, a.runtime.uris, seen[0], ana, "Ring +34 600 123 456 or ana@correo.es"
            )
    assert "+34 600 123 456" in str(refused.value) and "ana@correo.es" in str(refused.value)

    # When the admin answers it, the answer is a direct message from the group to that user only
    async with a.runtime.sessions() as session, session.begin():
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        answer = await posting.reply_to_response(
            session, a.runtime.uris, seen[0], ana, "Yes, *still free*."
        )
    peer.received.clear()
    await settle(a)
    [received] = peer.received
    assert (received["type"], received["actor"], received["to"]) == (
        "Create",
        GROUP_A,
        [peer.actor_uri],
    )
    assert received["object"]["inReplyTo"] == dm["object"]["id"]
    assert "<em>still free</em>" in received["object"]["content"]
    assert received["object"]["id"] == answer.note_uri
    assert "ana" not in received["object"]["attributedTo"]


async def test_a_reopened_ask_reaches_the_followers_open_again(world: World) -> None:
    a, b, peer = world.a, world.b, world.peer
    # Given group B and a Mastodon user follow group A, and Ana's ask was fulfilled
    remote = await remote_actors.remote_actor(b.runtime, GROUP_A)
    async with b.runtime.sessions() as session, session.begin():
        group_b = await actors.find_actor(session, "food")
        assert group_b is not None
        await follow(session, b.runtime.uris, group_b, remote)
    await peer.send(f"{GROUP_A}/inbox", peer.follow(GROUP_A))
    await settle(a, b)
    async with a.runtime.sessions() as session, session.begin():
        group_a = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group_a is not None and ana is not None
        ask = await posting.create_item(
            session, a.runtime.uris, group_a, ana, Draft(Kind.ASK, "A pram", category="goods")
        )
        await posting.close_item(session, a.runtime.uris, ask, Status.FULFILLED, by=ana)
    await settle(a, b)
    assert (await board(b))["A pram"].status == "fulfilled"
    peer.received.clear()

    # When Ana reopens it
    async with a.runtime.sessions() as session, session.begin():
        ana = await actors.find_actor(session, "ana")
        item = await session.get(Item, ask.id)
        assert ana is not None and item is not None
        await posting.reopen_item(session, a.runtime.uris, item, by=ana)
    await settle(a, b)

    # Then the follower on Mastodon gets her Update, no longer finished, and B's board shows it
    # open again
    [update] = [act for act in peer.received if act["type"] == "Update"]
    assert update["actor"] == f"{A}/actors/ana" and update["object"]["id"] == ask.uri
    assert update["object"]["publishes"]["finished"] is False
    assert (await board(b))["A pram"].status == "open"
