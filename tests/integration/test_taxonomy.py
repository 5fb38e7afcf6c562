"""The shared taxonomy over real HTTP, on both databases: /taxonomy is SKOS in JSON-LD that an
independent processor (PyLD) expands offline; a group's category is a concept at its URI; a
custom category on B maps to its default concept on A after one fetch, and A's board filtered by
that concept lists it; categories that cannot be read (404, garbage, a loop, a private address,
a huge document) map to nothing, cost one fetch a day, and lose no item."""

import argparse
import json
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
from pyld import jsonld
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ayni import cli_items, following
from federation import items as wire
from federation.itemterms import Kind, Status
from federation.visibility import Visibility
from models import actors, items, posting, taxonomy
from models.base import utcnow
from models.items import RemoteCategory, RemoteItem
from models.posting import Draft
from models.remote import RemoteActor
from models.taxonomy import SKOS, canonical
from models.texts import translations
from outbox import expiry
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.web import PASSWORD, set_password, sign_in

A = "http://127.0.0.1:8101"
B = "http://127.0.0.1:8102"
HOSTILE = "http://127.0.0.1:8301"
GROUP_B = f"{B}/actors/food"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
LD = {"Accept": "application/ld+json"}


def triples(document: dict[str, Any]) -> list[tuple[str, str, str, str | None]]:
    """(subject, predicate, object, language) as PyLD reads the document; it may fetch nothing."""

    def offline(url: str, options: object = None) -> None:
        raise AssertionError(f"the document needed {url} to expand")

    dataset = jsonld.to_rdf(document, {"documentLoader": offline})
    return [
        (t["subject"]["value"], t["predicate"]["value"], t["object"]["value"],
         t["object"].get("language"))
        for t in dataset["@default"]
    ]  # fmt: skip


class Counting(httpx.AsyncBaseTransport):
    """What one host of the loopback is asked for (GET paths, with their fragments gone)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.gets = inner, Counter[str]()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            self.gets[request.url.path] += 1
        return await self.inner.handle_async_request(request)


def counted(net: Net, host: str) -> Counting:
    counting = Counting(net.loopback.apps[host])
    net.loopback.apps[host] = counting  # type: ignore[assignment]
    return counting


async def test_the_taxonomy_is_a_skos_concept_scheme_labelled_in_english_and_spanish(
    instance: Instance,
) -> None:
    # When another server fetches /taxonomy, as JSON-LD or as AS2
    response = await instance.http.get("/taxonomy", headers=LD)
    as_activity = await instance.http.get(
        "/taxonomy", headers={"Accept": "application/activity+json"}
    )

    # Then it is JSON-LD, public and cacheable
    assert response.status_code == 200 and as_activity.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    assert "max-age" in response.headers["cache-control"]
    assert response.headers["cache-control"].startswith("public")
    assert as_activity.json() == response.json()
    # And, expanded by PyLD with no network, says what SKOS says of the eleven defaults
    scheme = f"{A}/taxonomy"
    found = triples(response.json())
    assert (scheme, RDF_TYPE, f"{SKOS}ConceptScheme", None) in found
    concepts = {s for s, p, o, _ in found if p == RDF_TYPE and o == f"{SKOS}Concept"}
    assert len(concepts) == 11
    spanish = translations("es").gettext
    for slug, name in items.DEFAULT_CATEGORIES:
        concept = f"{scheme}#{slug}"
        assert concept in concepts
        labels = {(o, lang) for s, p, o, lang in found if s == concept and p == f"{SKOS}prefLabel"}
        assert labels == {(name, "en"), (spanish(name), "es")}
        assert spanish(name) != name or slug == "legal"  # translated, from the catalogue
        assert (concept, f"{SKOS}exactMatch", canonical(slug), None) in found
        assert (concept, f"{SKOS}inScheme", scheme, None) in found
        assert (concept, f"{SKOS}notation", slug, None) in found
        assert (scheme, f"{SKOS}hasTopConcept", concept, None) in found
    assert (f"{scheme}#food", f"{SKOS}prefLabel", "Alimentos", "es") in found


async def test_a_groups_category_is_a_concept_at_its_uri(instance: Instance) -> None:
    # Given the group adds its own category, narrowing food
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        group.language = "es"
        await items.add_category(
            session, instance.runtime.uris, group, "baby_food", "Comida de bebé", broader="food"
        )

    # When its URI and a default category's are fetched as JSON
    custom = await instance.http.get("/actors/food/categories/baby_food", headers=LD)
    default = await instance.http.get("/actors/food/categories/care", headers=LD)

    # Then each is a SKOS concept narrowing this instance's default concept
    assert custom.status_code == 200 and custom.headers["content-type"] == "application/ld+json"
    uri = f"{A}/actors/food/categories/baby_food"
    found = triples(custom.json())
    assert (uri, RDF_TYPE, f"{SKOS}Concept", None) in found
    assert (uri, f"{SKOS}prefLabel", "Comida de bebé", "es") in found
    assert (uri, f"{SKOS}broader", f"{A}/taxonomy#food", None) in found
    assert (uri, f"{SKOS}inScheme", f"{A}/taxonomy", None) in found
    care = f"{A}/actors/food/categories/care"
    assert (care, f"{SKOS}broader", f"{A}/taxonomy#care", None) in triples(default.json())
    assert (care, f"{SKOS}prefLabel", "Cuidados", "es") in triples(default.json())
    # And what does not exist is a 404; a browser is sent to the group's page filtered by it
    for missing in ("/actors/food/categories/nope", "/actors/nobody/categories/food",
                    "/actors/ana/categories/food"):  # fmt: skip
        assert (await instance.http.get(missing, headers=LD)).status_code == 404
        assert (await instance.http.get(missing)).status_code == 404
    page = await instance.http.get("/actors/food/categories/baby_food")
    assert page.status_code == 302 and page.headers["location"] == "/@food?category=baby_food"
    # where, as on the board, a default category lists the group's narrower ones too
    await _offer(instance, "Puree jars", "baby_food")
    await _offer(instance, "A spare room", "housing")
    narrow = (await instance.http.get("/@food?category=baby_food")).text
    general = (await instance.http.get("/@food?category=food")).text
    assert "Puree jars" in narrow and "A spare room" not in narrow
    assert "Puree jars" in general and "A spare room" not in general


async def _offer(instance: Instance, title: str, category: str) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        draft = Draft(Kind.OFFER, title, category=category, as_group=True)
        await posting.create_item(session, instance.runtime.uris, group, ana, draft)


async def _concepts(instance: Instance) -> dict[str, str | None]:
    async with instance.runtime.sessions() as session:
        return {r.title: r.concept for r in await session.scalars(select(RemoteItem))}


async def _board(instance: Instance, category: str) -> str:
    return (await instance.http.get("/board", params={"category": category})).text


async def _cli_titles(instance: Instance, category: str) -> list[str]:
    args = argparse.Namespace(
        group=None, kind=None, category=category, status=None, near=None, within=10.0
    )
    async with instance.runtime.sessions() as session:
        rows = await cli_items.board(session, args, instance.settings.host)
    return sorted(row["title"] for row in rows)


async def test_a_custom_category_maps_to_its_default_concept_across_instances(net: Net) -> None:
    a, b = await net.instance(A), await net.instance(B)
    on_b = counted(net, b.settings.host)
    # Given B's group has its own category narrowing food, and A's group follows B's
    async with b.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        await items.add_category(
            session, b.runtime.uris, group, "baby_food", "Baby food", broader="food"
        )
    await following.follow_handle(a.runtime, "food", "@food@127.0.0.1:8102")
    await settle(a, b)
    # When B posts two offers in it, and one in housing
    await _offer(b, "Puree jars", "baby_food")
    await _offer(b, "Formula tins", "baby_food")
    await _offer(b, "A spare room", "housing")
    await settle(a, b)
    assert await _concepts(a) == {"Puree jars": None, "Formula tins": None, "A spare room": None}

    # And A's periodic job runs, twice
    await expiry.run_once(a.runtime)
    await expiry.run_once(a.runtime)

    # Then A's copies carry the shared concepts, after one fetch of each document
    assert await _concepts(a) == {
        "Puree jars": canonical("food"),
        "Formula tins": canonical("food"),
        "A spare room": canonical("housing"),
    }
    assert on_b.gets["/actors/food/categories/baby_food"] == 1
    assert on_b.gets["/actors/food/categories/housing"] == 1
    assert on_b.gets["/taxonomy"] == 1
    # And a later offer in that category is mapped as it arrives, with no fetch
    await _offer(b, "Rice cereal", "baby_food")
    await settle(a, b)
    assert (await _concepts(a))["Rice cereal"] == canonical("food")
    assert on_b.gets["/actors/food/categories/baby_food"] == 1

    # And A's board, filtered by food, lists them (not the room); so does `ayni items`
    await set_password(a)
    await sign_in(a.http, "ana", PASSWORD)
    food = await _board(a, "food")
    assert all(title in food for title in ("Puree jars", "Formula tins", "Rice cereal"))
    assert "A spare room" not in food
    housing = await _board(a, "housing")
    assert "A spare room" in housing and "Puree jars" not in housing
    assert await _cli_titles(a, "food") == ["Formula tins", "Puree jars", "Rice cereal"]
    assert await _cli_titles(a, "housing") == ["A spare room"]


def hostile_server(documents: dict[str, Any]) -> Starlette:
    """Answers each path with its document: a dict as JSON-LD, a str as it is, an int as a
    status."""

    async def serve(request: Request) -> Response:
        found = documents.get(request.url.path)
        if found is None or isinstance(found, int):
            return Response("no", status_code=found or 404)
        body = found if isinstance(found, str) else json.dumps(found)
        return Response(body, media_type="application/ld+json")

    return Starlette(routes=[Route("/{path:path}", serve)])


async def test_categories_that_cannot_be_mapped_lose_nothing_and_are_retried_a_day_later(
    net: Net,
) -> None:
    a, b = await net.instance(A), await net.instance(B)
    paths = {
        "/loop/a": {"id": f"{HOSTILE}/loop/a", "broader": f"{HOSTILE}/loop/b"},
        "/loop/b": {"id": f"{HOSTILE}/loop/b", "broader": f"{HOSTILE}/loop/a"},
        "/private": {"id": f"{HOSTILE}/private", "broader": "http://10.1.2.3/taxonomy#food"},
        "/huge": {"id": f"{HOSTILE}/huge", "exactMatch": canonical("food"), "pad": "x" * 2**21},
        "/garbage": "{not json",
        "/junk": {"id": 5, "broader": {"nested": [None]}},
        "/broken": 500,
    }
    net.loopback.add("127.0.0.1:8301", hostile_server(paths))
    hostile = counted(net, "127.0.0.1:8301")
    on_b = counted(net, b.settings.host)
    categories = {
        "Loop": f"{HOSTILE}/loop/a",
        "Private": f"{HOSTILE}/private",
        "Huge": f"{HOSTILE}/huge",
        "Garbage": f"{HOSTILE}/garbage",
        "Junk": f"{HOSTILE}/junk",
        "Missing": f"{HOSTILE}/missing",
        "Broken": f"{HOSTILE}/broken",
        # Another instance's taxonomy concept itself, and the shared concept itself
        "Direct": f"{B}/taxonomy#food",
        "Shared": canonical("care"),
    }
    # Given A holds public items of a remote group in each of these categories
    async with a.runtime.sessions() as session, session.begin():
        session.add(
            RemoteActor(uri=f"{HOSTILE}/group", host="127.0.0.1:8301", inbox_uri="", type="Group")
        )
        await session.flush()
        author = await session.scalar(select(RemoteActor.id))
        assert author is not None
        for title, category in categories.items():
            value = wire.RemoteItem(
                uri=f"{HOSTILE}/items/{title}",
                kind=Kind.OFFER,
                title=title,
                status=Status.OPEN,
                visibility=Visibility.PUBLIC,
                author_uri=f"{HOSTILE}/group",
                group_uri=f"{HOSTILE}/group",
                category_uri=category,
            )
            await items.store_remote_item(session, author, value, {"id": value.uri})

    # When A's periodic job maps them
    mapped = await taxonomy.map_due(a.runtime)

    # Then only the two that name a default concept map; the rest keep none, with the reason
    assert mapped == 2
    concepts = await _concepts(a)
    assert concepts == {
        title: {"Direct": canonical("food"), "Shared": canonical("care")}.get(title)
        for title in categories
    }
    async with a.runtime.sessions() as session:
        errors = {
            row.uri: row.last_error or "" for row in await session.scalars(select(RemoteCategory))
        }
    assert "loop" in errors[f"{HOSTILE}/loop/a"]
    assert "Refused" in errors[f"{HOSTILE}/private"]  # the SSRF guard: never connected
    assert "TooLarge" in errors[f"{HOSTILE}/huge"]
    assert "Refused" in errors[f"{HOSTILE}/garbage"]
    assert "Unmapped" in errors[f"{HOSTILE}/junk"]
    assert "NotFound" in errors[f"{HOSTILE}/missing"]
    assert "Unavailable" in errors[f"{HOSTILE}/broken"]
    assert hostile.gets["/loop/a"] == 1 and hostile.gets["/loop/b"] == 1
    assert on_b.gets["/taxonomy"] == 1
    # And every item is still on the board, the direct one under food too
    await set_password(a)
    await sign_in(a.http, "ana", PASSWORD)
    everything = (await a.http.get("/board")).text
    assert all(f">{title}<" in everything for title in categories)
    food = await _board(a, "food")
    assert ">Direct<" in food and ">Huge<" not in food and ">Loop<" not in food

    # And the failures are not fetched again in the next rounds, but a day later
    before = sum(hostile.gets.values())
    await taxonomy.map_due(a.runtime)
    await expiry.run_once(a.runtime)
    assert sum(hostile.gets.values()) == before
    await taxonomy.map_due(a.runtime, utcnow() + timedelta(days=1, minutes=1))
    assert hostile.gets["/missing"] == 2 and hostile.gets["/loop/a"] == 2
    assert on_b.gets["/taxonomy"] == 1  # a mapped category waits a week


async def test_a_mapped_category_keeps_its_concept_when_its_server_is_down(net: Net) -> None:
    a, b = await net.instance(A), await net.instance(B)
    await following.follow_handle(a.runtime, "food", "@food@127.0.0.1:8102")
    await settle(a, b)
    await _offer(b, "Bread", "food")
    await settle(a, b)
    await taxonomy.map_due(a.runtime)
    assert await _concepts(a) == {"Bread": canonical("food")}

    # When B is gone a week later, when the category is read again
    del net.loopback.apps[b.settings.host]
    await taxonomy.map_due(a.runtime, utcnow() + timedelta(days=8))

    # Then A keeps the concept it had, and notes why it could not check
    assert await _concepts(a) == {"Bread": canonical("food")}
    async with a.runtime.sessions() as session:
        row = await session.scalar(select(RemoteCategory))
    assert row is not None and row.concept == canonical("food")
    assert row.last_error and "Unavailable" in row.last_error
