"""Actor documents and collections, as Mastodon fetches them."""

import pytest

from tests.instances import Instance
from tests.integration.conftest import Net

AS2 = "application/activity+json"
LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
REQUIRED = [
    "id",
    "type",
    "preferredUsername",
    "name",
    "summary",
    "url",
    "inbox",
    "outbox",
    "followers",
    "following",
    "featured",
    "endpoints",
    "publicKey",
    "manuallyApprovesFollowers",
    "discoverable",
    "published",
]


@pytest.mark.parametrize("accept", [AS2, LD])
async def test_group_actor_has_every_field_mastodon_reads(instance: Instance, accept: str) -> None:
    response = await instance.http.get("/actors/food", headers={"Accept": accept})

    assert response.status_code == 200
    assert response.headers["content-type"] == AS2
    assert "Accept" in response.headers["vary"]
    actor = response.json()
    assert [field for field in REQUIRED if field not in actor] == []
    assert actor["type"] == "Group"
    assert actor["id"] == "http://127.0.0.1:8101/actors/food"
    assert actor["preferredUsername"] == "food"
    assert actor["name"] == "Food Share"
    assert actor["inbox"] == "http://127.0.0.1:8101/actors/food/inbox"
    assert actor["endpoints"] == {"sharedInbox": "http://127.0.0.1:8101/inbox"}
    assert actor["publicKey"]["id"] == actor["id"] + "#main-key"
    assert actor["publicKey"]["owner"] == actor["id"]
    assert actor["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")


async def test_member_and_instance_actors_have_their_types(instance: Instance) -> None:
    member = (await instance.http.get("/actors/ana", headers={"Accept": AS2})).json()
    application = (await instance.http.get("/actor", headers={"Accept": AS2})).json()

    assert member["type"] == "Person"
    assert application["type"] == "Application"
    assert application["preferredUsername"] == "127.0.0.1:8101"
    assert application["publicKey"]["owner"] == application["id"] == "http://127.0.0.1:8101/actor"
    assert member["publicKey"]["publicKeyPem"] != application["publicKey"]["publicKeyPem"]


async def test_browsers_get_an_html_profile(instance: Instance) -> None:
    response = await instance.http.get(
        "/actors/food", headers={"Accept": "text/html,application/xhtml+xml,*/*"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Food Share" in response.text
    assert "@food@127.0.0.1:8101" in response.text


async def test_unknown_actor_is_404(instance: Instance) -> None:
    response = await instance.http.get("/actors/nobody", headers={"Accept": AS2})

    assert response.status_code == 404


@pytest.mark.parametrize("collection", ["outbox", "followers", "following"])
async def test_empty_collections_are_valid_ordered_collections(
    instance: Instance, collection: str
) -> None:
    uri = f"http://127.0.0.1:8101/actors/food/{collection}"
    response = await instance.http.get(uri, headers={"Accept": AS2})

    assert response.status_code == 200
    assert response.headers["content-type"] == AS2
    document = response.json()
    assert document["id"] == uri
    assert document["type"] == "OrderedCollection"
    assert document["totalItems"] == 0


async def test_collection_pages_link_back_to_their_collection(instance: Instance) -> None:
    uri = "http://127.0.0.1:8101/actors/food/outbox"
    first = (await instance.http.get(uri, headers={"Accept": AS2})).json()["first"]

    page = (await instance.http.get(first, headers={"Accept": AS2})).json()

    assert page["type"] == "OrderedCollectionPage"
    assert page["partOf"] == uri
    assert page["orderedItems"] == []
    assert "next" not in page


async def test_two_instances_live_side_by_side_in_one_process(net: Net) -> None:
    a, b = await net.instance("http://127.0.0.1:8201"), await net.instance("http://127.0.0.1:8202")

    # A's own outgoing client reaches B through the network, signed as A's instance actor.
    fetched = await a.runtime.fetch("http://127.0.0.1:8202/actors/food")
    own = (await a.http.get("/actors/food", headers={"Accept": AS2})).json()

    assert fetched["id"] == "http://127.0.0.1:8202/actors/food"
    assert own["id"] == "http://127.0.0.1:8201/actors/food"
    assert fetched["publicKey"]["publicKeyPem"] != own["publicKey"]["publicKeyPem"]
    assert b.settings.base_url != a.settings.base_url
