"""Authorized fetch: actors' full documents, objects, items and collections need a signed GET;
the instance actor, a minimal actor document, HTML pages and discovery stay public, so two
servers in this mode still federate."""

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from federation.itemterms import Kind
from models import actors, policy, posting, remote_actors
from models.posting import Draft
from models.queue import Activity
from tests.conftest import DatabaseUrls
from tests.instances import Instance, Loopback, settings_for, start_instance
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

AS2 = "application/activity+json"
A = "http://127.0.0.1:8101"
B = "http://127.0.0.1:8102"
GROUP = f"{A}/actors/food"
MINIMAL = {
    "@context",
    "id",
    "type",
    "preferredUsername",
    "inbox",
    "outbox",
    "endpoints",
    "publicKey",
}


@dataclass
class World:
    instance: Instance
    friend: MastodonPeer  # on 127.0.0.1:8201
    blocked: MastodonPeer  # on localhost:8202, a blocked domain
    item_uri: str
    activity_uri: str


async def post_public_item(instance: Instance) -> tuple[str, str]:
    """The group posts a public offer: its item uri, and the uri of the group's Create."""
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        item = await posting.create_item(
            session,
            instance.runtime.uris,
            group,
            ana,
            Draft(Kind.OFFER, "Bread every evening", "From the bakery.", as_group=True),
        )
    async with instance.runtime.sessions() as session:
        create = await session.scalar(select(Activity).where(Activity.object_uri == item.uri))
        assert create is not None
        return item.uri, create.uri


@pytest.fixture
async def world(net: Net) -> World:
    friend, blocked = (
        net.peer("http://127.0.0.1:8201", "friend"),
        net.peer("http://localhost:8202", "blocked"),
    )
    instance = await net.instance(A, authorized_fetch=True)
    async with instance.runtime.sessions() as session, session.begin():
        await policy.block_domain(session, "localhost", "test block")
    instance.runtime.blocklist.forget()
    item_uri, activity_uri = await post_public_item(instance)
    return World(instance, friend, blocked, item_uri, activity_uri)


async def test_an_unsigned_actor_fetch_gets_only_the_minimal_document(world: World) -> None:
    response = await world.instance.http.get("/actors/food", headers={"Accept": AS2})

    assert response.status_code == 200
    actor = response.json()
    assert set(actor) == MINIMAL
    assert actor["id"] == GROUP
    assert actor["publicKey"]["owner"] == GROUP
    assert actor["endpoints"] == {"sharedInbox": f"{A}/inbox"}
    assert "Signature" in response.headers["vary"]


async def test_a_signed_actor_fetch_gets_the_full_document(world: World) -> None:
    response = await world.friend.get_signed(GROUP)

    assert response.status_code == 200
    actor = response.json()
    assert actor["summary"] == "<p>Food for everyone.</p>"
    assert actor["followers"] == f"{GROUP}/followers"
    assert actor["name"] == "Food Share"


async def test_the_instance_actor_html_and_discovery_stay_public(world: World) -> None:
    http = world.instance.http

    application = await http.get("/actor", headers={"Accept": AS2})
    page = await http.get("/actors/food", headers={"Accept": "text/html"})
    item_page = await http.get(world.item_uri, headers={"Accept": "text/html"})
    finger = await http.get(
        "/.well-known/webfinger", params={"resource": "acct:food@127.0.0.1:8101"}
    )
    nodeinfo = await http.get("/.well-known/nodeinfo")
    health = await http.get("/healthz")

    assert application.status_code == 200
    assert "publicKey" in application.json() and "followers" in application.json()
    assert page.status_code == 200 and "Food Share" in page.text
    assert item_page.status_code == 200 and "Bread every evening" in item_page.text
    assert (finger.status_code, nodeinfo.status_code, health.status_code) == (200, 200, 200)


@pytest.mark.parametrize(
    "path",
    [
        "/actors/food/outbox",
        "/actors/food/outbox?page=1",
        "/actors/food/followers",
        "/actors/food/following",
        "/actors/food/collections/featured",
    ],
)
async def test_collections_need_a_signature(world: World, path: str) -> None:
    unsigned = await world.instance.http.get(path, headers={"Accept": AS2})
    signed = await world.friend.get_signed(f"{A}{path}")

    assert unsigned.status_code == 401
    assert "Signature" in unsigned.headers["www-authenticate"]
    assert signed.status_code == 200
    assert signed.json()["id"].startswith(f"{A}/actors/food/")


async def test_objects_activities_and_items_need_a_signature(world: World) -> None:
    for uri in (world.item_uri, world.activity_uri):
        unsigned = await world.instance.http.get(uri, headers={"Accept": AS2})
        signed = await world.friend.get_signed(uri)

        assert unsigned.status_code == 401, uri
        assert signed.status_code == 200, uri
        assert signed.json()["id"] == uri


async def test_a_bad_signature_is_treated_as_none(world: World) -> None:
    headers = {
        "Accept": AS2,
        "Date": "Mon, 23 Nov 2026 10:00:00 GMT",
        "Signature": (
            f'keyId="{world.friend.key_id}",headers="(request-target) host date",signature="AAAA"'
        ),
    }

    response = await world.instance.http.get(world.item_uri, headers=headers)

    assert response.status_code == 401


async def test_a_blocked_domain_is_refused_and_never_fetched_from(world: World) -> None:
    actor = await world.blocked.get_signed(GROUP)
    outbox = await world.blocked.get_signed(f"{GROUP}/outbox")
    item = await world.blocked.get_signed(world.item_uri)
    activity = await world.blocked.get_signed(world.activity_uri)

    assert (actor.status_code, outbox.status_code) == (403, 403)
    # Objects answer as if they did not exist.
    assert (item.status_code, activity.status_code) == (404, 404)
    assert world.blocked.requests == []


async def test_the_objects_endpoint_needs_a_signature_too(world: World) -> None:
    response = await world.instance.http.get(f"{A}/objects/anything", headers={"Accept": AS2})

    assert response.status_code == 401


async def test_without_the_setting_everything_stays_public(instance: Instance) -> None:
    item_uri, _ = await post_public_item(instance)

    actor = await instance.http.get("/actors/food", headers={"Accept": AS2})
    outbox = await instance.http.get("/actors/food/outbox", headers={"Accept": AS2})
    item = await instance.http.get(item_uri, headers={"Accept": AS2})

    assert "summary" in actor.json()
    assert (outbox.status_code, item.status_code) == (200, 200)


async def test_two_instances_in_authorized_fetch_mode_fetch_each_others_actors_and_items(
    database_urls: DatabaseUrls,
) -> None:
    network = Loopback()
    url_a, url_b = await database_urls.new(), await database_urls.new()
    settings_a = settings_for(A, url_a, authorized_fetch=True)
    settings_b = settings_for(B, url_b, authorized_fetch=True)
    async with (
        start_instance(A, url_a, network, settings=settings_a) as a,
        start_instance(B, url_b, network, settings=settings_b) as b,
    ):
        item_uri, _ = await post_public_item(a)

        # B resolves A's group through its signed fetch; A must fetch B's (public) instance actor
        # to verify that signature: neither waits on the other.
        group = await remote_actors.remote_actor(b.runtime, GROUP)
        full = await b.runtime.fetch(GROUP)
        item = await b.runtime.fetch(item_uri)
        back = await a.runtime.fetch(f"{B}/actors/food/outbox")

    assert group.uri == GROUP
    assert full["summary"] == "<p>Food for everyone.</p>"
    assert item["id"] == item_uri and item["name"] == "Bread every evening"
    assert back["id"] == f"{B}/actors/food/outbox"
