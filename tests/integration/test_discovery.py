"""WebFinger, host-meta and NodeInfo as Mastodon and other servers read them."""

import pytest

from models import db
from tests.instances import Instance

HEAD = db.revisions()[-1]

AS2 = "application/activity+json"


async def test_webfinger_finds_a_group_by_its_handle(instance: Instance) -> None:
    response = await instance.http.get(
        "/.well-known/webfinger", params={"resource": "acct:food@127.0.0.1:8101"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jrd+json")
    assert response.headers["access-control-allow-origin"] == "*"
    document = response.json()
    assert document["subject"] == "acct:food@127.0.0.1:8101"
    self_links = [link for link in document["links"] if link["rel"] == "self"]
    assert self_links == [{"rel": "self", "type": AS2, "href": "http://127.0.0.1:8101/actors/food"}]
    assert "http://127.0.0.1:8101/actors/food" in document["aliases"]
    profile = [
        link for link in document["links"] if link["rel"] == "http://webfinger.net/rel/profile-page"
    ]
    assert profile[0]["href"] == "http://127.0.0.1:8101/@food"


async def test_webfinger_self_link_is_byte_identical_to_the_actor_id(instance: Instance) -> None:
    finger = await instance.http.get(
        "/.well-known/webfinger", params={"resource": "acct:ana@127.0.0.1:8101"}
    )
    href = next(link["href"] for link in finger.json()["links"] if link["rel"] == "self")

    actor = await instance.http.get(href, headers={"Accept": AS2})

    assert actor.json()["id"] == href
    assert actor.json()["type"] == "Person"


async def test_webfinger_finds_the_instance_actor(instance: Instance) -> None:
    response = await instance.http.get(
        "/.well-known/webfinger", params={"resource": "acct:127.0.0.1:8101@127.0.0.1:8101"}
    )

    assert response.status_code == 200
    href = next(link["href"] for link in response.json()["links"] if link["rel"] == "self")
    assert href == "http://127.0.0.1:8101/actor"


async def test_webfinger_matches_handles_case_insensitively(instance: Instance) -> None:
    response = await instance.http.get(
        "/.well-known/webfinger", params={"resource": "acct:FOOD@127.0.0.1:8101"}
    )

    assert response.status_code == 200
    assert response.json()["subject"] == "acct:food@127.0.0.1:8101"


async def test_webfinger_accepts_the_actor_url_as_resource(instance: Instance) -> None:
    response = await instance.http.get(
        "/.well-known/webfinger", params={"resource": "http://127.0.0.1:8101/actors/food"}
    )

    assert response.status_code == 200
    assert response.json()["subject"] == "acct:food@127.0.0.1:8101"


@pytest.mark.parametrize(
    "resource",
    ["acct:nobody@127.0.0.1:8101", "acct:food@elsewhere.example", "http://127.0.0.1:8101/actors/x"],
)
async def test_webfinger_answers_404_for_unknown_actors(instance: Instance, resource: str) -> None:
    response = await instance.http.get("/.well-known/webfinger", params={"resource": resource})

    assert response.status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"resource": ""},
        {"resource": "acct:"},
        {"resource": "acct:@@"},
        {"resource": "mailto:x"},
        {"resource": "acct:a@b@c"},
    ],
)
async def test_webfinger_answers_400_for_malformed_or_missing_resource(
    instance: Instance, params: dict[str, str]
) -> None:
    response = await instance.http.get("/.well-known/webfinger", params=params)

    assert response.status_code == 400


async def test_host_meta_points_to_webfinger(instance: Instance) -> None:
    response = await instance.http.get("/.well-known/host-meta")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xrd+xml")
    assert 'template="http://127.0.0.1:8101/.well-known/webfinger?resource={uri}"' in response.text


async def test_nodeinfo_has_the_2_1_schema_shape(instance: Instance) -> None:
    links = (await instance.http.get("/.well-known/nodeinfo")).json()["links"]
    link = next(x for x in links if x["rel"] == "http://nodeinfo.diaspora.software/ns/schema/2.1")

    document = (await instance.http.get(link["href"])).json()

    assert document["version"] == "2.1"
    assert document["software"]["name"] == "ayni"
    assert document["software"]["version"]
    assert document["protocols"] == ["activitypub"]
    assert document["services"] == {"inbound": [], "outbound": []}
    assert document["openRegistrations"] is False
    assert document["usage"]["users"]["total"] == 1
    assert isinstance(document["usage"]["localPosts"], int)
    assert isinstance(document["metadata"], dict)


async def test_healthz_reports_the_database(instance: Instance) -> None:
    response = await instance.http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "schema": {"state": "current", "revision": HEAD, "needs": HEAD},
        "workers": {"last_round": {}, "late": []},  # this app runs none
    }
