"""Overflow between allied groups over real signed HTTP, on both databases: an ask still open
after its delay reaches the allies whose area covers it (and their followers), once, as far as
its hop limit allows and never back to its origin; closing it takes it back everywhere; a
forged or out-of-range overflow is ignored; a reply to the shared item reaches its origin."""

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from ayni import following
from federation import vocab
from federation.itemterms import Kind
from federation.places import Place
from federation.visibility import Visibility
from models import actors, alliances, group_settings, posting, remote_actors
from models.items import Item, ItemResponse, RemoteItem
from models.moderation import Overflow, Relay
from models.remote import RemoteActor
from outbox import expiry
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

A = "http://127.0.0.1:8101"
B = "http://127.0.0.1:8102"
C = "http://127.0.0.1:8103"
D = "http://127.0.0.1:8104"
MADRID = (40.4168, -3.7038)
BARCELONA = (41.3874, 2.1686)


def handle(base: str) -> str:
    return f"@food@{base.removeprefix('http://')}"


async def ally(x: Instance, y: Instance) -> None:
    """The two groups follow each other (both accept at once)."""
    await following.follow_handle(x.runtime, "food", handle(y.settings.base_url))
    await following.follow_handle(y.runtime, "food", handle(x.settings.base_url))


async def set_area(instance: Instance, centre: tuple[float, float], km: float) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        group_settings.change(group, service=(f"{centre[0]},{centre[1]}", km))


async def post_ask(
    a: Instance, at: tuple[float, float] = MADRID, hops: int = 1, title: str = "Need a fridge"
) -> str:
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        draft = posting.Draft(
            kind=Kind.ASK,
            title=title,
            place=Place("Lavapiés", *at),
            as_group=True,
            overflow_after=timedelta(0),
            overflow_hops=hops,
        )
        item = await posting.create_item(session, a.runtime.uris, group, ana, draft)
        return item.uri


async def relays_of(instance: Instance) -> list[tuple[str, str | None]]:
    async with instance.runtime.sessions() as session:
        rows = await session.scalars(select(Relay).order_by(Relay.id))
        return [(row.object_uri, row.overflow_uri) for row in rows]


async def sent_to(instance: Instance) -> set[str]:
    """The allies this instance's group sent an overflow to (their base urls)."""
    async with instance.runtime.sessions() as session:
        rows = await session.scalars(select(Overflow))
        found = set()
        for row in rows:
            ally_ = await session.get_one(RemoteActor, row.ally_id)
            found.add(ally_.uri.removesuffix("/actors/food"))
        return found


def announces(peer: MastodonPeer, uri: str) -> list[dict[str, Any]]:
    return [a for a in peer.received if a["type"] == "Announce" and a.get("object") == uri]


def undos(peer: MastodonPeer, uri: str) -> list[dict[str, Any]]:
    return [
        a
        for a in peer.received
        if a["type"] == "Undo"
        and isinstance(a.get("object"), dict)
        and a["object"].get("type") == "Announce"
        and a["object"].get("object") == uri
    ]


async def follower_of(net: Net, base: str, instance: Instance, port: int) -> MastodonPeer:
    peer = net.peer(f"http://127.0.0.1:{port}")
    response = await peer.send(f"{base}/inbox", peer.follow(f"{base}/actors/food"))
    assert response.status_code == 202
    await settle(instance)
    return peer


async def test_an_overflowing_ask_reaches_allies_in_area_and_their_allies_once_then_is_taken_back(
    net: Net,
) -> None:
    a, b, c, d = [await net.instance(url) for url in (A, B, C, D)]
    await ally(a, b)
    await ally(b, d)
    await following.follow_handle(c.runtime, "food", handle(A))  # C follows A: no ally
    await settle(a, b, c, d)
    await set_area(b, MADRID, 15)
    bob = await follower_of(net, B, b, 8201)  # a Mastodon follower of B
    dora = await follower_of(net, D, d, 8202)  # and of D

    uri = await post_ask(a, hops=2)
    await expiry.run_once(a.runtime)
    await settle(a, b, c, d)

    assert [(obj, bool(via)) for obj, via in await relays_of(b)] == [(uri, True)]
    assert [(obj, bool(via)) for obj, via in await relays_of(d)] == [(uri, True)]
    assert await relays_of(c) == [] and await relays_of(a) == []
    assert await sent_to(a) == {B}
    assert await sent_to(b) == {D}  # never back to A
    assert await sent_to(d) == set()  # two hops: the limit
    assert len(announces(bob, uri)) == 1 and len(announces(dora, uri)) == 1
    shared = announces(bob, uri)[0]
    assert "overflowHop" not in shared and vocab.PUBLIC in shared["to"]
    async with b.runtime.sessions() as session:
        boarded = await session.scalar(select(RemoteItem).where(RemoteItem.uri == uri))
    assert boarded is not None and boarded.status == "open"

    await expiry.run_once(a.runtime)  # a second run sends nothing again
    await settle(a, b, c, d)
    assert len(announces(bob, uri)) == 1 and len(announces(dora, uri)) == 1

    async with a.runtime.sessions() as session, session.begin():
        item = await session.scalar(select(Item).where(Item.uri == uri))
        assert item is not None
        await posting.close_item(session, a.runtime.uris, item, "fulfilled")
    await settle(a, b, c, d)

    assert len(undos(bob, uri)) == 1 and len(undos(dora, uri)) == 1
    assert await relays_of(b) == [] and await relays_of(d) == []
    assert await sent_to(a) == set() and await sent_to(b) == set()
    async with d.runtime.sessions() as session:
        assert await session.scalar(select(RemoteItem).where(RemoteItem.uri == uri)) is None


async def test_a_ring_of_allies_shares_each_item_once_and_never_back_to_its_origin(
    net: Net,
) -> None:
    a, b, c = [await net.instance(url) for url in (A, B, C)]
    await ally(a, b)
    await ally(b, c)
    await ally(c, a)
    await settle(a, b, c)

    uri = await post_ask(a, hops=2)
    await expiry.run_once(a.runtime)
    await settle(a, b, c)

    assert await relays_of(a) == []
    assert [obj for obj, _ in await relays_of(b)] == [uri]
    assert [obj for obj, _ in await relays_of(c)] == [uri]
    assert await sent_to(a) == {B, C}
    assert A not in await sent_to(b) and A not in await sent_to(c)


async def test_an_item_outside_the_allys_area_is_not_shared_nor_passed_on(net: Net) -> None:
    a, b, d = [await net.instance(url) for url in (A, B, D)]
    await ally(a, b)
    await ally(b, d)
    await settle(a, b, d)
    await set_area(b, MADRID, 15)

    await post_ask(a, at=BARCELONA, hops=2)
    await expiry.run_once(a.runtime)
    await settle(a, b, d)

    assert await sent_to(a) == {B}
    assert await relays_of(b) == [] and await relays_of(d) == []


async def test_an_explicit_mark_overrides_the_follows_both_ways(net: Net) -> None:
    a, b, c = [await net.instance(url) for url in (A, B, C)]
    await ally(a, b)
    await settle(a, b, c)
    await following.ally_handle(a.runtime, "food", handle(B), on=False)  # not B, though mutual
    await following.ally_handle(a.runtime, "food", handle(C), on=True)  # C, one way
    await following.ally_handle(c.runtime, "food", handle(A), on=True)  # and C says so too

    uri = await post_ask(a)
    await expiry.run_once(a.runtime)
    await settle(a, b, c)

    assert await sent_to(a) == {C}
    assert await relays_of(b) == []
    assert [obj for obj, _ in await relays_of(c)] == [uri]


async def test_a_forged_or_out_of_range_overflow_is_ignored(net: Net) -> None:
    a, b = [await net.instance(url) for url in (A, B)]
    await ally(a, b)
    await settle(a, b)
    uri = await post_ask(a)  # not yet due: only its Create went out
    await settle(a, b)
    mallory = net.peer("http://127.0.0.1:8203", "mallory", actor_type="Group")
    await mallory.send(f"{B}/inbox", mallory.follow(f"{B}/actors/food"))
    forged: dict[str, Any] = {
        "@context": vocab.AS_CONTEXT,
        "id": mallory.new_id(),
        "type": "Announce",
        "actor": mallory.actor_uri,
        "object": uri,
        "to": [f"{B}/actors/food"],
        "overflowHop": 1,
        "overflowHops": 1,
        "overflowPath": [mallory.actor_uri],
    }
    too_far = {
        **forged,
        "id": mallory.new_id(),
        "overflowHop": 3,
        "overflowHops": 3,
        "overflowPath": [f"{A}/actors/food", "x", mallory.actor_uri],
    }
    claims_a = {**forged, "id": mallory.new_id(), "overflowPath": [f"{A}/actors/food"]}
    for activity in (forged, too_far, claims_a):
        assert (await mallory.send(f"{B}/inbox", activity)).status_code == 202
    await settle(a, b)

    assert await relays_of(b) == []


async def test_a_reply_to_the_item_shared_by_an_ally_reaches_its_origin(net: Net) -> None:
    a, b = [await net.instance(url) for url in (A, B)]
    await ally(a, b)
    await settle(a, b)
    bob = await follower_of(net, B, b, 8201)
    uri = await post_ask(a)
    await expiry.run_once(a.runtime)
    await settle(a, b)
    shared = announces(bob, uri)
    assert len(shared) == 1

    # Bob saw B's boost; his server fetches the object from its origin and replies to its
    # author, as Mastodon does, whichever group's boost showed it to him.
    document = (await a.http.get(uri, headers={"Accept": "application/activity+json"})).json()
    author = document["attributedTo"]
    assert author == f"{A}/actors/food"
    reply = bob.note(
        "I have one, where do I bring it?", to=[vocab.PUBLIC], cc=[author], in_reply_to=uri
    )
    assert (await bob.send(f"{A}/inbox", reply)).status_code == 202
    await settle(a, b)

    async with a.runtime.sessions() as session:
        item = await session.scalar(select(Item).where(Item.uri == uri))
        assert item is not None
        responses = list(
            await session.scalars(select(ItemResponse).where(ItemResponse.item_id == item.id))
        )
    assert [r.kind for r in responses] == ["reply"]
    assert item.visibility == Visibility.PUBLIC


async def test_a_groups_area_is_on_its_actor_and_stored_by_the_groups_that_fetch_it(
    net: Net,
) -> None:
    a, b = [await net.instance(url) for url in (A, B)]
    await set_area(b, MADRID, 12)

    document = (
        await b.http.get(f"{B}/actors/food", headers={"Accept": "application/activity+json"})
    ).json()
    remote = await remote_actors.remote_actor(a.runtime, f"{B}/actors/food", refresh=True)

    assert document["location"]["type"] == "Place"
    assert (document["location"]["radius"], document["location"]["units"]) == (12, "km")
    assert alliances.area_of(remote) == group_settings.service_area("40.4168,-3.7038", 12)
