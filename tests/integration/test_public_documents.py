"""Followers-only and members-only items are in no public collection, page or count: the
outboxes, the featured collection, the group's and the member's pages for a signed-out visitor,
NodeInfo, and a followers-only call's poll and attendees (a follower's signed fetch only). An
item made followers-only after it was public leaves them too. Both databases."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from federation.itemterms import Kind
from federation.visibility import Visibility
from models import actors, posting
from models.items import Item
from models.posting import Draft
from models.queue import Activity
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
AS_JSON = {"Accept": "application/activity+json"}
STARTS = datetime(2030, 12, 5, 9, 0, tzinfo=UTC)


@dataclass
class World:
    instance: Instance
    follower: MastodonPeer
    stranger: MastodonPeer
    public: Item
    hidden: list[Item]  # followers-only and members-only, by the member and as the group
    call: Item  # followers-only, as the group

    async def get(self, path: str, **headers: str) -> httpx.Response:
        return await self.instance.http.get(BASE + path, headers=headers)

    async def outbox(self, name: str) -> str:
        collection = (await self.get(f"/actors/{name}/outbox", **AS_JSON)).json()
        page = (await self.get(f"/actors/{name}/outbox?page=1", **AS_JSON)).text
        return f"{collection}{page}"


async def post(instance: Instance, draft: Draft) -> Item:
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        return await posting.create_item(
            session, instance.runtime.uris, group, ana, draft, confirm=True
        )


def call(title: str, visibility: Visibility) -> Draft:
    return Draft(
        Kind.CALL,
        title,
        "Bring a thermos.",
        "housing",
        visibility=visibility,
        as_group=True,
        starts_at=STARTS,
        ends_at=STARTS + timedelta(hours=2),
        people_wanted=10,
    )


@pytest.fixture
async def world(net: Net) -> World:
    instance = await net.instance(BASE)
    follower = net.peer("http://127.0.0.1:8201")
    stranger = net.peer("http://127.0.0.1:8202", "mallory")
    assert (await follower.send(f"{GROUP}/inbox", follower.follow(GROUP))).status_code == 202
    await settle(instance)
    public = await post(instance, Draft(Kind.ASK, "Public nappies", "For twins.", "goods"))
    hidden = [
        await post(
            instance,
            Draft(
                Kind.ASK,
                f"Hidden {visibility} {as_group}",
                "",
                "goods",
                visibility=visibility,
                as_group=as_group,
            ),
        )
        for visibility in (Visibility.FOLLOWERS, Visibility.MEMBERS)
        for as_group in (False, True)
    ]
    hidden.append(await post(instance, call("Hidden members call", Visibility.MEMBERS)))
    followers_call = await post(instance, call("Hidden followers call", Visibility.FOLLOWERS))
    await settle(instance)
    return World(instance, follower, stranger, public, hidden, followers_call)


def leaks(text: str, world: World) -> list[str]:
    return [
        found
        for item in (*world.hidden, world.call)
        for found in (item.title, item.uri)
        if found in text
    ]


async def test_the_outboxes_hold_public_items_only(world: World) -> None:
    group, member = await world.outbox("food"), await world.outbox("ana")

    assert world.public.uri in group and world.public.uri in member
    assert leaks(group, world) == [] and leaks(member, world) == []


async def test_the_featured_collection_is_empty(world: World) -> None:
    featured = (await world.get("/actors/food/collections/featured", **AS_JSON)).json()

    assert featured["totalItems"] == 0 and featured["orderedItems"] == []


async def test_the_group_and_member_pages_show_a_visitor_public_items_only(world: World) -> None:
    for path in ("/@food", "/@food?status=all", "/@ana", "/"):
        page = await world.get(path)
        assert page.status_code == 200, path
        assert leaks(page.text, world) == [], path
    assert world.public.title in (await world.get("/@ana")).text


async def test_nodeinfo_counts_no_posts_at_all(world: World) -> None:
    # Decided: localPosts stays 0. Counting even public items would tell a watcher how busy a
    # group is week by week; no directory needs it.
    usage = (await world.get("/nodeinfo/2.1")).json()["usage"]

    assert usage["localPosts"] == 0


@pytest.mark.parametrize("suffix", ["", "/poll", "/attendees"])
async def test_a_followers_only_calls_documents_need_a_followers_signature(
    world: World, suffix: str
) -> None:
    url = world.call.uri + suffix

    unsigned = await world.get(url.removeprefix(BASE), **AS_JSON)
    stranger = await world.stranger.get_signed(url)
    follower = await world.follower.get_signed(url)

    assert unsigned.status_code == 404 and stranger.status_code == 404
    assert follower.status_code == 200 and follower.json()["id"] == url
    assert world.call.title not in unsigned.text + stranger.text


async def test_an_item_made_followers_only_leaves_every_public_document(world: World) -> None:
    item = world.public
    async with world.instance.runtime.sessions() as session:
        create_uri = await session.scalar(
            select(Activity.uri).where(Activity.object_uri == item.uri, Activity.type == "Create")
        )
    assert create_uri is not None
    assert (await world.get(create_uri.removeprefix(BASE), **AS_JSON)).status_code == 200

    # When the author makes her public ask followers-only
    async with world.instance.runtime.sessions() as session, session.begin():
        row = await session.get(Item, item.id)
        assert row is not None
        draft = posting.draft_of(row, "goods", visibility=Visibility.FOLLOWERS)
        await posting.edit_item(session, world.instance.runtime.uris, row, draft, confirm=True)
    await settle(world.instance)

    # Then it is in no outbox, its Create and its document are not served to a visitor
    for name in ("food", "ana"):
        assert item.uri not in await world.outbox(name)
    assert (await world.get(create_uri.removeprefix(BASE), **AS_JSON)).status_code == 404
    assert (await world.get(item.uri.removeprefix(BASE), **AS_JSON)).status_code == 404
    assert item.title not in (await world.get("/@food")).text
    # And the group's followers still see it
    assert (await world.follower.get_signed(item.uri)).status_code == 200
