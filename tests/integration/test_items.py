"""Asks, offers and calls: posting, editing, closing, deleting, answering and expiring publish
the right activities, addressed per visibility, and nothing federated names a member who posted
as the group. On both databases."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from federation import vocab
from federation.itemterms import Kind, Status
from federation.places import Place
from federation.visibility import Visibility
from models import actors, commitments, posting
from models.actors import LocalActor, Role
from models.calls import Channel
from models.items import Item, ItemResponse
from models.posting import Draft, PersonalData
from models.queue import Activity, Delivery
from tests.instances import Instance

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
FOLLOWERS = f"{GROUP}/followers"
AS_JSON = {"Accept": "application/activity+json"}


async def members(instance: Instance) -> tuple[LocalActor, LocalActor]:
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        rosa = await actors.create_member(session, "rosa_q", None, "Rosa Quispe")
        assert group is not None
        await actors.join_group(session, group, rosa, Role.MEMBER)
        return group, rosa


async def post(
    instance: Instance, draft: Draft, *, author: str = "rosa_q", confirm: bool = False
) -> Item:
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        member = await actors.find_actor(session, author)
        assert group is not None and member is not None
        return await posting.create_item(
            session,
            instance.runtime.uris,
            group,
            member,
            draft,
            confirm=confirm,
            seal=instance.runtime.seal,
        )


async def activities(instance: Instance) -> list[Activity]:
    """What the item's own road published: without the group's FEP-1b12 Announces that pass each
    activity on to Lemmy and Mbin followers (an embedded activity; test_interop_forums.py)."""
    async with instance.runtime.sessions() as session:
        rows = await session.scalars(select(Activity).order_by(Activity.id))
        return [
            a
            for a in rows
            if not isinstance(a.document.get("object"), dict) or a.type != "Announce"
        ]


ASK = Draft(
    Kind.ASK,
    "Nappies, size 4",
    "Two packs would get us to payday.",
    "goods",
    quantity=2,
    place=Place("Riverside", 40.41678, -3.70379, 800),
)


async def test_a_members_public_ask_is_her_create_and_the_groups_announce_of_the_object(
    instance: Instance,
) -> None:
    await members(instance)
    item = await post(instance, ASK)

    [create, announce] = await activities(instance)
    assert item.uri == f"{BASE}/items/{item.uuid}"
    assert (create.type, create.document["actor"], create.visibility) == (
        "Create",
        f"{BASE}/actors/rosa_q",
        "public",
    )
    note = create.document["object"]
    assert note["id"] == item.uri and note["type"] == "Note" and note["purpose"] == "request"
    assert note["attributedTo"] == f"{BASE}/actors/rosa_q"
    assert note["to"] == [vocab.PUBLIC] and set(note["cc"]) == {FOLLOWERS, GROUP}
    assert note["publishes"]["resourceConformsTo"] == f"{GROUP}/categories/goods"
    # Then the exact point never went out, nor into the database
    assert (note["location"]["latitude"], note["location"]["longitude"]) != (40.41678, -3.70379)
    assert item.latitude == note["location"]["latitude"]
    assert (announce.type, announce.document["actor"], announce.document["object"]) == (
        "Announce",
        GROUP,
        item.uri,
    )
    assert announce.document["to"] == [vocab.PUBLIC] and announce.audience["followers"] is True

    # And the item is served at its uri, in its current state, to anyone
    response = await instance.http.get(f"/items/{item.uuid}", headers=AS_JSON)
    assert response.status_code == 200 and response.json()["name"] == "Nappies, size 4"
    page = await instance.http.get(f"/items/{item.uuid}")
    assert page.status_code == 200 and "Ask: Nappies, size 4" in page.text


@pytest.mark.parametrize("visibility", [Visibility.PUBLIC, Visibility.FOLLOWERS])
async def test_an_item_posted_as_the_group_names_the_member_nowhere_federated(
    instance: Instance, visibility: Visibility
) -> None:
    await members(instance)
    draft = Draft(
        Kind.OFFER,
        "Bread from the bakery",
        "Every evening at closing time.",
        "food",
        visibility=visibility,
        as_group=True,
        quantity=5,
    )
    item = await post(instance, draft)
    async with instance.runtime.sessions() as session, session.begin():
        stored = await session.get(Item, item.id)
        assert stored is not None
        await posting.edit_item(
            session,
            instance.runtime.uris,
            stored,
            posting.draft_of(stored, "food", title="Bread and pastries"),
        )
        await posting.close_item(session, instance.runtime.uris, stored, Status.FULFILLED)
        await posting.delete_item(session, instance.runtime.uris, stored)

    published = await activities(instance)
    assert [a.type for a in published] == ["Create", "Update", "Update", "Delete"]
    assert {a.document["actor"] for a in published} == {GROUP}
    for activity in published:
        text = json.dumps(activity.document)
        for trace in ("rosa_q", "Rosa", "Quispe"):
            assert trace not in text, f"{activity.type} names the member: {trace}"
    expected_to = [vocab.PUBLIC] if visibility == Visibility.PUBLIC else [FOLLOWERS]
    assert all(a.document["to"] == expected_to for a in published)
    # The moderators still know who posted it
    async with instance.runtime.sessions() as session:
        author = await session.get(LocalActor, item.author_id)
    assert author is not None and author.username == "rosa_q"


async def test_members_only_items_never_leave_the_instance(instance: Instance) -> None:
    await members(instance)
    draft = Draft(
        Kind.ASK,
        "Someone to sit with my mum",
        "Call me on 0612 345 678",
        "care",
        visibility=Visibility.MEMBERS,
    )
    item = await post(instance, draft)  # personal data is fine: it never leaves
    async with instance.runtime.sessions() as session, session.begin():
        stored = await session.get(Item, item.id)
        assert stored is not None
        await posting.close_item(session, instance.runtime.uris, stored, Status.FULFILLED)
        await posting.delete_item(session, instance.runtime.uris, stored)

    assert await activities(instance) == []
    async with instance.runtime.sessions() as session:
        assert list(await session.scalars(select(Delivery))) == []
    for headers in (AS_JSON, {}):
        assert (await instance.http.get(f"/items/{item.uuid}", headers=headers)).status_code == 404
    outbox = (await instance.http.get("/actors/food/outbox?page=1", headers=AS_JSON)).json()
    assert outbox["orderedItems"] == []


async def test_followers_only_items_are_not_shown_to_unsigned_fetches(instance: Instance) -> None:
    await members(instance)
    item = await post(
        instance,
        Draft(
            Kind.ASK, "A lift to the clinic", visibility=Visibility.FOLLOWERS, category="transport"
        ),
    )
    [create, announce] = await activities(instance)
    assert create.document["to"] == [FOLLOWERS] and announce.visibility == "followers"
    assert (await instance.http.get(f"/items/{item.uuid}", headers=AS_JSON)).status_code == 404
    outbox = (await instance.http.get("/actors/food/outbox?page=1", headers=AS_JSON)).json()
    assert outbox["orderedItems"] == []


async def test_personal_data_is_refused_until_confirmed(instance: Instance) -> None:
    group, _ = await members(instance)
    # A Dutch mobile number without its country code is read in the group's country
    async with instance.runtime.sessions() as session, session.begin():
        stored_group = await session.get(LocalActor, group.id)
        assert stored_group is not None
        stored_group.region = "NL"
    draft = Draft(
        Kind.OFFER, "Spare bike", "Ring 0612 345 678 or write to rosa@example.org", "transport"
    )
    with pytest.raises(PersonalData) as refused:
        await post(instance, draft)
    assert "0612 345 678" in str(refused.value) and "rosa@example.org" in str(refused.value)
    assert await activities(instance) == []

    item = await post(instance, draft, confirm=True)
    assert [a.type for a in await activities(instance)] == ["Create", "Announce"]
    assert item.status == Status.OPEN


async def test_a_group_without_a_country_still_asks_about_national_numbers(
    instance: Instance,
) -> None:
    await members(instance)
    for body in ("Ring 0612 345 678", "Ring +31 6 12345678", "Ring 600 123 456"):
        with pytest.raises(PersonalData):
            await post(instance, Draft(Kind.OFFER, "Spare bike", body, "transport"))


async def test_a_members_close_and_delete_come_from_her_and_reach_the_groups_followers(
    instance: Instance,
) -> None:
    group, _ = await members(instance)
    item = await post(instance, ASK)
    async with instance.runtime.sessions() as session, session.begin():
        stored = await session.get(Item, item.id)
        assert stored is not None
        with pytest.raises(ValueError):
            await posting.close_item(session, instance.runtime.uris, stored, Status.CANCELLED)
        await posting.close_item(session, instance.runtime.uris, stored, Status.FULFILLED)
    update = (await activities(instance))[-1]
    assert (update.type, update.document["actor"]) == ("Update", f"{BASE}/actors/rosa_q")
    assert update.audience["followers_of"] == [group.id]
    note = update.document["object"]
    assert note["publishes"]["finished"] is True
    assert "Fulfilled: Ask: Nappies, size 4" in note["content"]
    served = (await instance.http.get(f"/items/{item.uuid}", headers=AS_JSON)).json()
    assert served["publishes"]["finished"] is True

    async with instance.runtime.sessions() as session, session.begin():
        stored = await session.get(Item, item.id)
        assert stored is not None
        await posting.delete_item(session, instance.runtime.uris, stored)
    delete = (await activities(instance))[-1]
    assert delete.type == "Delete" and delete.document["object"]["type"] == "Tombstone"
    assert delete.document["object"]["id"] == item.uri
    gone = await instance.http.get(f"/items/{item.uuid}", headers=AS_JSON)
    assert gone.status_code == 410 and gone.json()["type"] == "Tombstone"


async def test_people_coming_to_a_call_are_counted_in_its_update(instance: Instance) -> None:
    await members(instance)
    starts = datetime(2030, 12, 5, 9, 0, tzinfo=UTC)
    call = Draft(
        Kind.CALL,
        "Stop the eviction on Calle Mayor",
        "Bring a thermos.",
        "housing",
        as_group=True,
        starts_at=starts,
        ends_at=starts + timedelta(hours=3),
        people_wanted=20,
        place=Place("Lavapiés"),
        meeting_point="the square",
        timezone="Europe/Madrid",
    )
    item = await post(instance, call, confirm=True)
    async with instance.runtime.sessions() as session, session.begin():
        stored = await session.get(Item, item.id)
        ana = await actors.find_actor(session, "ana")
        assert stored is not None and ana is not None
        ana_ = commitments.Person.member(ana)
        for _ in range(2):  # once is enough
            await commitments.commit(session, instance.runtime, stored, ana_, "coming", Channel.WEB)
        seen = await commitments.attendees(session, stored)
    assert [(c.state, c.channel) for c in seen] == [("coming", "web")]
    event_update, poll_update = (await activities(instance))[-2:]
    event, poll = event_update.document["object"], poll_update.document["object"]
    assert (event_update.type, event["type"], event["participantCount"]) == ("Update", "Event", 1)
    assert event["attendees"]["totalItems"] == 1 and event["peopleNeeded"] == 20
    assert event["summary"].splitlines()[0] == "1 of 20 coming: 19 more needed"
    assert (poll_update.type, poll["type"], poll["votersCount"]) == ("Update", "Question", 1)
    assert [o["replies"]["totalItems"] for o in poll["oneOf"]] == [1, 0]
    for document in (event_update.document, poll_update.document):
        assert "rosa_q" not in json.dumps(document) and "ana" not in json.dumps(document)
        assert "the square" not in json.dumps(document)


async def test_an_ask_past_its_end_expires_and_its_update_is_published(instance: Instance) -> None:
    await members(instance)
    due = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    item = await post(instance, Draft(Kind.ASK, "Winter coat", category="goods", needed_by=due))
    async with instance.runtime.sessions() as session, session.begin():
        assert (
            await posting.expire_due(session, instance.runtime.uris, due - timedelta(minutes=1))
            == 0
        )
        assert (
            await posting.expire_due(session, instance.runtime.uris, due + timedelta(minutes=1))
            == 1
        )
        assert (
            await posting.expire_due(session, instance.runtime.uris, due + timedelta(minutes=2))
            == 0
        )
    async with instance.runtime.sessions() as session:
        stored = await session.get(Item, item.id)
        assert stored is not None and stored.status == Status.EXPIRED
        assert list(await session.scalars(select(ItemResponse))) == []
    update = (await activities(instance))[-1]
    assert update.type == "Update" and update.document["object"]["content"].startswith(
        "<p>Expired: Ask: Winter coat"
    )


async def test_the_periodic_expiry_loop_closes_due_items_and_stops_when_asked(
    instance: Instance,
) -> None:
    import asyncio

    from outbox import expiry

    await members(instance)
    item = await post(
        instance,
        Draft(Kind.ASK, "Soup for Sunday", needed_by=datetime.now(UTC) - timedelta(hours=1)),
    )
    stop = asyncio.Event()
    loop = asyncio.create_task(expiry.run(instance.runtime, stop, interval=0.01))
    status = None
    for _ in range(200):
        async with instance.runtime.sessions() as session:
            status = await session.scalar(select(Item.status).where(Item.id == item.id))
        if status == Status.EXPIRED:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(loop, 5)
    assert status == Status.EXPIRED
    assert [a.type for a in await activities(instance)] == ["Create", "Announce", "Update"]
