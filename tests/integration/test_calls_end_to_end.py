"""A call from end to end, over real signed HTTP on both databases: a member here, a Mastodon
user, a Mobilizon-style user and a member of another Ayni group each say "I'm coming" their own
way and are counted once; Mastodon sees the count; the ladder runs while the call is short; and
the exact meeting point reaches those who come and nobody else, in nothing sent, served or
logged, until they withdraw."""

import json
import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from federation import vocab
from federation.itemterms import Kind
from federation.places import Place
from federation.sanitize import html_to_text
from models import actors, joins, posting, remote_actors
from models.actors import LocalActor
from models.base import utcnow
from models.calls import Commitment
from models.content import RemoteObject
from models.following import follow
from models.items import Item, RemoteItem
from models.notices import Notice, NoticeKind
from models.posting import Draft
from models.queue import Activity, Incoming
from outbox import expiry
from tests.instances import Instance, settle
from tests.integration.conftest import A, B, Net
from tests.integration.test_web_my_items import browser, people
from tests.peers import MastodonPeer
from tests.web import PASSWORD, Page

GROUP_A = f"{A}/actors/food"
SECRET = "Portal 3, the green door behind the bakery"
LINK = re.compile(r"https?://[^\s<\"]+/calls/\d+/where/[\w-]+")


def vote(peer: MastodonPeer, item: Item, option: str) -> dict[str, Any]:
    create = peer.note("", to=[GROUP_A], in_reply_to=item.poll_uri)
    for field in ("content", "contentMap", "summary", "sensitive", "url", "tag"):
        create["object"].pop(field)
    create["object"]["name"] = option
    return create


def links_in(activities: list[dict[str, Any]]) -> list[str]:
    return [
        url
        for activity in activities
        if activity["type"] == "Create" and isinstance(activity["object"], dict)
        for url in LINK.findall(activity["object"].get("content") or "")
    ]


async def post_call(a: Instance) -> Item:
    starts = utcnow() + timedelta(hours=3)
    draft = Draft(
        Kind.CALL,
        "Stop the eviction on Calle Mayor",
        "Bring a thermos.",
        "housing",
        as_group=True,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        people_wanted=6,
        place=Place("Lavapiés"),
        meeting_point=SECRET,
    )
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        carol = await actors.find_actor(session, "carol")
        assert group is not None and carol is not None
        return await posting.create_item(
            session, a.runtime.uris, group, carol, draft, seal=a.runtime.seal
        )


async def test_everyone_comes_their_own_way_and_only_they_learn_where(
    net: Net, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    a, b = await net.instance(A), await net.instance(B)
    alice = net.peer("http://127.0.0.1:8201")  # Mastodon: follows the group, votes
    mo = net.peer("http://127.0.0.1:8202", "mo")  # Mobilizon-style: Join and Leave
    await people(a)
    await alice.send(f"{A}/inbox", alice.follow(GROUP_A))
    group_a = await remote_actors.remote_actor(b.runtime, GROUP_A)
    async with b.runtime.sessions() as session, session.begin():
        group_b = await actors.find_actor(session, "food")
        rosa = await actors.create_member(session, "rosa_q", PASSWORD, "Rosa Q")
        assert group_b is not None
        await actors.join_group(session, group_b, rosa, "member")
        await follow(session, b.runtime.uris, group_b, group_a)
    await settle(a, b)
    item = await post_call(a)
    await settle(a, b)

    # Each says "I'm coming" in their own way
    async with browser(a, "dani") as dani:
        token = Page((await dani.get(f"/items/{item.uuid}")).text).csrf
        await dani.post(f"/items/{item.uuid}/respond", data={"csrf_token": token or ""})
    await alice.send(f"{A}/inbox", vote(alice, item, "I'm coming"))
    join = {"@context": vocab.AS_CONTEXT, "id": mo.new_id(), "type": "Join"}
    join |= {"actor": mo.actor_uri, "object": item.uri, "to": [GROUP_A]}
    await mo.send(f"{A}/inbox", join)
    async with b.runtime.sessions() as session, session.begin():
        remote_item = await session.scalar(select(RemoteItem).where(RemoteItem.uri == item.uri))
        rosa_b = await actors.find_actor(session, "rosa_q")
        assert remote_item is not None and rosa_b is not None
        await joins.join_remote_call(session, b.runtime, rosa_b, remote_item)
    await settle(a, b)
    # ... and again, by another channel: still counted once
    await alice.send(f"{A}/inbox", vote(alice, item, "I'm coming"))
    await alice.send(f"{A}/inbox", alice.note("count me in!", to=[GROUP_A], in_reply_to=item.uri))
    await settle(a, b)

    async with a.runtime.sessions() as session:
        counted = list(await session.execute(select(Commitment.person, Commitment.state)))
        dani_id = (await actors.find_actor(session, "dani")).id  # type: ignore[union-attr]
    assert sorted(counted) == sorted(
        [
            (f"member:{dani_id}", "coming"),
            (alice.actor_uri, "coming"),
            (mo.actor_uri, "coming"),
            (f"{B}/actors/rosa_q", "coming"),
        ]
    )

    # The count shows on Mastodon: the last Update of the Event (counts go out at most once a
    # minute; the periodic job sends the one that had to wait)
    await expiry.run_once(a.runtime, utcnow() + timedelta(minutes=2))
    await settle(a, b)
    event = [
        act["object"]
        for act in alice.received
        if act["type"] == "Update" and act["object"]["type"] == "Event"
    ][-1]
    assert event["participantCount"] == 4 and event["attendees"]["totalItems"] == 4
    assert event["summary"].splitlines()[0] == "4 of 6 coming: 2 more needed"
    poll = (await alice.get_signed(item.poll_uri)).json()
    assert [o["replies"]["totalItems"] for o in poll["oneOf"]] == [4, 0]

    # Short, so the ladder runs: the group's members are told, then its followers
    for step_at in (timedelta(hours=1, minutes=1), timedelta(minutes=1)):
        await expiry.run_once(a.runtime, item.starts_at - step_at)  # type: ignore[operator]
        await settle(a, b)
    async with a.runtime.sessions() as session:
        told = set(
            await session.execute(
                select(LocalActor.username, Notice.kind)
                .join(LocalActor, LocalActor.id == Notice.member_id)
                .where(Notice.item_id == item.id)
            )
        )
    # ... all but Dani, who is coming already
    assert {who for who, _ in told} == {"ana", "ben", "carol"}
    assert {kind for _, kind in told} == {NoticeKind.CALL_SHORT}
    reminder = [
        act["object"]
        for act in alice.received
        if act["type"] == "Create"
        and act["object"].get("inReplyTo") == item.uri
        and "Still 2 people needed" in html_to_text(act["object"]["content"])
    ]
    assert len(reminder) == 1 and reminder[0]["to"] == [vocab.PUBLIC]

    # Each remote person who came has a personal link, in a DM to them alone; it shows the place
    alice_link, mo_link = links_in(alice.received), links_in(mo.received)
    async with b.runtime.sessions() as session:
        notice = await session.scalar(select(Notice).where(Notice.kind == NoticeKind.MEETING_POINT))
        assert notice is not None and notice.remote_object_id is not None
        rosa_dm = await session.get(RemoteObject, notice.remote_object_id)
    assert rosa_dm is not None
    rosa_link = LINK.findall(rosa_dm.content_html)
    assert len(alice_link) == len(mo_link) == len(rosa_link) == 1
    assert len({alice_link[0], mo_link[0], rosa_link[0]}) == 3
    for link in (alice_link[0], mo_link[0], rosa_link[0]):
        shown = await a.http.get(link.removeprefix(A))
        assert shown.status_code == 200 and SECRET in shown.text
    assert (await a.http.get(alice_link[0].removeprefix(A) + "x")).status_code == 404

    # ... and the member here sees it on the call's page; nobody else does
    async with browser(a, "dani") as dani:
        assert SECRET in (await dani.get(f"/items/{item.uuid}")).text
    for who in (None, "ben"):
        async with browser(a, who) as http:
            for path in (f"/items/{item.uuid}", "/board", "/groups", "/@food", "/notifications"):
                assert SECRET not in (await http.get(path)).text, (who, path)
    async with browser(b, "rosa_q") as http:
        assert SECRET not in (await http.get("/board")).text

    # Nothing sent or stored to be served carries it: every activity A published or delivered,
    # every document the peers and B received, the item, its poll, its attendees
    async with a.runtime.sessions() as session:
        published = [row.document for row in await session.scalars(select(Activity))]
    async with b.runtime.sessions() as session:
        received_by_b = [row.document for row in await session.scalars(select(Incoming))]
        boarded = [row.document for row in await session.scalars(select(RemoteItem))]
    everything = json.dumps([published, alice.received, mo.received, received_by_b, boarded])
    assert "Calle Mayor" in everything and SECRET not in everything
    for url in (item.uri, item.poll_uri, item.uri + "/attendees"):
        served = await alice.get_signed(url)
        assert served.status_code == 200 and SECRET not in served.text
    assert SECRET not in caplog.text

    # Mo leaves: counted no more, the link answers 410, and the DM is taken back
    leave = {"@context": vocab.AS_CONTEXT, "id": mo.new_id(), "type": "Leave"}
    leave |= {"actor": mo.actor_uri, "object": item.uri, "to": [GROUP_A]}
    await mo.send(f"{A}/inbox", leave)
    await settle(a, b)
    assert (await a.http.get(mo_link[0].removeprefix(A))).status_code == 410
    deleted = [act["object"]["id"] for act in mo.received if act["type"] == "Delete"]
    (dm_to_mo,) = [
        act["object"]["id"]
        for act in mo.received
        if act["type"] == "Create" and LINK.search(act["object"].get("content") or "")
    ]
    assert deleted == [dm_to_mo]
    assert (await mo.get_signed(dm_to_mo)).status_code == 410
    async with a.runtime.sessions() as session:
        kept = json.dumps([row.document for row in await session.scalars(select(Activity))])
    assert mo_link[0] not in kept and alice_link[0] in kept  # the taken-back DM keeps nothing
    assert (await a.http.get(alice_link[0].removeprefix(A))).status_code == 200
