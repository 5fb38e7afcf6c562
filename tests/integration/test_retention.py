"""Retention, with a controllable clock: an item closed longer ago than its group keeps things
is forgotten here (with everything about it), every server it reached is asked to forget it by
a signed `Delete`, and its uri answers 410. On both databases."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ayni.cli import main
from federation import vocab
from federation.itemterms import Kind, Status
from federation.places import Place
from models import actors, commitments, group_settings, posting, relays, remote_actors
from models.calls import Channel, Commitment
from models.content import RemoteObject
from models.escrow import MeetingPoint
from models.following import follow
from models.items import Item, ItemResponse, RemoteItem
from models.moderation import Relay
from models.posting import Draft
from models.queue import Activity
from models.retention import forget_due
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

A = "http://127.0.0.1:8101"
GROUP_A = f"{A}/actors/food"
NOW = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class World:
    a: Instance
    follower: MastodonPeer  # follows the group
    replier: MastodonPeer  # follows nobody here: replies to a call


@pytest.fixture
async def world(net: Net) -> World:
    world = World(
        await net.instance(A),
        net.peer("http://127.0.0.1:8201"),
        net.peer("http://127.0.0.1:8202", username="bob"),
    )
    await world.follower.send(f"{GROUP_A}/inbox", world.follower.follow(GROUP_A))
    await settle(world.a)
    world.follower.received.clear()
    return world


async def post(a: Instance, draft: Draft) -> Item:
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        return await posting.create_item(
            session, a.runtime.uris, group, ana, draft, seal=a.runtime.seal
        )


async def close(a: Instance, item: Item, status: Status, at: datetime) -> None:
    async with a.runtime.sessions() as session, session.begin():
        row = await session.get_one(Item, item.id)
        await posting.close_item(session, a.runtime.uris, row, status, now=at)


async def forget(a: Instance, now: datetime = NOW, *, dry_run: bool = False) -> list[str]:
    async with a.runtime.sessions() as session, session.begin():
        return await forget_due(session, a.runtime, now, dry_run=dry_run)


async def exists(a: Instance, item: Item) -> bool:
    async with a.runtime.sessions() as session:
        return await session.get(Item, item.id) is not None


def ask(title: str) -> Draft:
    return Draft(Kind.ASK, title, "Two packs.", "goods", as_group=True)


def call(title: str) -> Draft:
    starts = NOW - timedelta(days=40)
    return Draft(
        Kind.CALL,
        title,
        "Bring a thermos.",
        "housing",
        as_group=True,
        starts_at=starts,
        ends_at=starts + timedelta(hours=3),
        people_wanted=5,
        place=Place("Lavapiés"),
        meeting_point="the blue door, 14",
    )


def deletes_of(peer: MastodonPeer, uri: str) -> list[dict[str, object]]:
    return [
        activity
        for activity in peer.received
        if activity["type"] == "Delete" and vocab.id_of(activity["object"]) == uri
    ]


async def test_a_call_closed_31_days_ago_is_forgotten_and_every_server_it_reached_is_asked_to(
    world: World,
) -> None:
    a, follower, replier = world.a, world.follower, world.replier
    # Given a call the follower received, Ana is coming to, and the replier answered
    item = await post(a, call("Stop the eviction"))
    await settle(a)
    async with a.runtime.sessions() as session, session.begin():
        row = await session.get_one(Item, item.id)
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        await commitments.commit(
            session, a.runtime, row, commitments.Person.member(ana), "coming", Channel.WEB
        )
    reply = replier.note("<p>I can come</p>", [vocab.PUBLIC], [GROUP_A], item.uri, GROUP_A)
    assert (await replier.send(f"{A}/inbox", reply)).status_code == 202
    await settle(a)
    async with a.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ItemResponse)) == 1
    # And it was cancelled 31 days ago
    await close(a, item, Status.CANCELLED, NOW - timedelta(days=31))
    await settle(a)
    follower.received.clear()

    # When retention runs
    lines = await forget(a)
    await settle(a)

    # Then the call is gone here, with its responses, commitments and meeting point
    assert lines == [
        f"deleted call {item.uri} (cancelled): 'Stop the eviction', 1 responses, 1 commitments"
    ]
    assert not await exists(a, item)
    async with a.runtime.sessions() as session:
        for table in (ItemResponse, Commitment, RemoteObject, MeetingPoint):
            assert await session.scalar(select(func.count()).select_from(table)) == 0, table
        documents = json.dumps([row.document for row in await session.scalars(select(Activity))])
    # And nothing we keep of what we sent says what it was
    assert "Stop the eviction" not in documents and "thermos" not in documents
    # And the follower's server and the replier's each received a signed Delete
    assert deletes_of(follower, item.uri) and deletes_of(replier, item.uri)
    assert deletes_of(follower, item.uri + "/poll")
    assert all(a["actor"] == GROUP_A for a in deletes_of(replier, item.uri))
    assert follower.refused == [] and replier.refused == []
    # And its uri, poll and page answer 410
    for path in ("", "/poll", "/attendees"):
        gone = await a.http.get(item.uri + path, headers={"Accept": vocab.ACTIVITY_JSON})
        assert gone.status_code == 410
        assert gone.json()["type"] == "Tombstone" and gone.json()["id"] == item.uri + path
    assert (await a.http.get(item.uri)).status_code == 410
    assert (await a.http.get(item.uri.replace("/items/", "/items/0"))).status_code == 404
    # And a late reply to it is forgotten once its group's retention has passed
    late = replier.note("<p>Still on?</p>", [vocab.PUBLIC], [GROUP_A], item.uri, GROUP_A)
    assert (await replier.send(f"{A}/inbox", late)).status_code == 202
    await settle(a)
    async with a.runtime.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(RemoteObject))
    assert stored == 1  # kept unlinked, as a reply to an object of ours: forgotten in time
    assert await forget(a) == [f"deleted remote response {late['object']['id']} (its item is gone)"]


async def test_open_items_and_items_closed_29_days_ago_stay_and_a_dry_run_changes_nothing(
    world: World,
) -> None:
    a = world.a
    # Given an open ask, one closed 29 days ago and one closed 31 days ago
    open_ask = await post(a, ask("Nappies"))
    recent = await post(a, ask("Rice"))
    old = await post(a, ask("Beans"))
    await close(a, recent, Status.FULFILLED, NOW - timedelta(days=29))
    await close(a, old, Status.FULFILLED, NOW - timedelta(days=31))
    await settle(a)
    world.follower.received.clear()

    # And their pages say how long they are kept
    page = (await a.http.get(open_ask.uri)).text
    assert "Kept for 30 days after it closes, then deleted here" in page

    # When a dry run runs
    lines = await forget(a, dry_run=True)
    await settle(a)

    # Then it names only the old one, and nothing changed or was sent
    assert lines == [f"would delete ask {old.uri} (fulfilled): 'Beans', 0 responses, 0 commitments"]
    assert [await exists(a, i) for i in (open_ask, recent, old)] == [True, True, True]
    assert world.follower.received == []

    # When retention runs for real, only the old one goes
    assert len(await forget(a)) == 1
    assert [await exists(a, i) for i in (open_ask, recent, old)] == [True, True, False]


async def test_retention_0_forgets_at_the_next_run_after_closing(world: World) -> None:
    a = world.a
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        group_settings.change(group, retention="0", country="es")
        assert (group.retention_days, group.region) == (0, "ES")
    item = await post(a, ask("Nappies"))
    await close(a, item, Status.WITHDRAWN, NOW - timedelta(minutes=1))

    assert len(await forget(a)) == 1
    assert not await exists(a, item)


async def test_a_relayed_remote_item_forgotten_is_unannounced(world: World, net: Net) -> None:
    a, follower = world.a, world.follower
    # Given group A follows a remote group whose public call it relayed, now closed 40 days
    remote_group = net.peer("http://127.0.0.1:8203", username="tenants", actor_type="Group")
    remote = await remote_actors.remote_actor(a.runtime, remote_group.actor_uri)
    uri = f"{remote_group.actor_uri}/statuses/1"
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        await follow(session, a.runtime.uris, group, remote)
        session.add(
            RemoteItem(
                uri=uri,
                remote_actor_id=remote.id,
                kind="call",
                title="Rally",
                status="done",
                visibility="public",
                document={"id": uri},
                updated_at=NOW - timedelta(days=40),
            )
        )
        await session.flush()
        relay = await relays.relay_item(session, a.runtime.uris, group, uri)
        announce_uri = relay.activity_uri
    await settle(a)
    assert any(act["type"] == "Announce" for act in follower.received)

    # When retention runs
    assert await forget(a) == [f"deleted network board call {uri}"]
    await settle(a)

    # Then the board item and the relay are gone, and the follower got Undo{Announce}
    async with a.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(RemoteItem)) == 0
        assert await session.scalar(select(func.count()).select_from(Relay)) == 0
    undo = [act for act in follower.received if act["type"] == "Undo"]
    assert [vocab.id_of(act["object"]) for act in undo] == [announce_uri]


def test_group_set_and_retention_run_from_the_command_line(
    clean_environ: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AYNI_CONFIG", str(clean_environ / "none.toml"))
    monkeypatch.setenv("AYNI_BASE_URL", "https://aid.example.org")
    monkeypatch.setenv("AYNI_DATABASE_URL", database_url)
    assert main(["group", "create", "food", "--title", "Food"]) == 0
    capsys.readouterr()

    assert main(["group", "set", "food", "--retention-days", "7", "--region", "mx"]) == 0
    assert capsys.readouterr().out == "@food: retention 7 days after closing; region MX\n"
    assert main(["group", "set", "food", "--region", "XY"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["group", "set", "food", "--retention-days", "-1"]) == 1
    assert "between 0 and" in capsys.readouterr().err
    assert main(["retention", "run", "--dry-run"]) == 0
    assert capsys.readouterr().out == "0 would be deleted\n"


def test_countries_are_iso_codes() -> None:
    assert group_settings.region(" es ") == "ES"
    assert group_settings.region("") is None
    for wrong in ("EU", "ZZ", "ESP", "1A"):
        with pytest.raises(ValueError):
            group_settings.region(wrong)
