"""Following across servers from the browser: "Follow from your server" on a group page sends the
visitor to their own server's subscribe template, and our `/authorize_interaction` lets a group
admin here make a group follow one found elsewhere. Two instances over real signed HTTP."""

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from federation import discovery
from federation.itemterms import Kind
from federation.visibility import Visibility
from models import actors, policy, posting
from models.actors import Role
from models.follows import Direction, Follow
from models.posting import Draft
from models.remote import RemoteActor
from tests.instances import Instance, Loopback, settings_for, settle, start_instance
from tests.web import PASSWORD, Page, csrf, set_password, sign_in

A = "http://127.0.0.1:8101"
B = "http://127.0.0.1:8102"
OTHER = "http://127.0.0.1:8203"
FOOD_ON_A = "food@127.0.0.1:8101"


class Lookups:
    """Counts what the instance's safe client is asked to fetch (the real client still answers)."""

    def __init__(self, instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
        self.urls: list[str] = []
        client = instance.runtime.client
        real = client.get_json

        async def counted(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
            self.urls.append(url)
            return await real(url, *args, **kwargs)

        monkeypatch.setattr(client, "get_json", counted)


async def _add_member(instance: Instance, name: str, role: Role) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        member = await actors.create_member(session, name, None, name.title())
        assert group is not None
        await actors.join_group(session, group, member, role)


async def _follows(instance: Instance) -> list[tuple[str, str]]:
    async with instance.runtime.sessions() as session:
        rows = await session.execute(
            select(RemoteActor.uri, Follow.state)
            .join(Follow, Follow.remote_actor_id == RemoteActor.id)
            .where(Follow.direction == Direction.OUTBOUND)
        )
        return [(row.uri, row.state) for row in rows]


async def _remote_actors(instance: Instance) -> int:
    async with instance.runtime.sessions() as session:
        return await session.scalar(select(func.count()).select_from(RemoteActor)) or 0


# --- "Follow from your server" ---


async def test_the_follow_page_asks_for_your_account_accessibly(instance: Instance) -> None:
    response = await instance.http.get("/@food/follow")

    page = Page(response.text)
    assert response.status_code == 200
    assert "@food@127.0.0.1:8101" in response.text
    assert (
        page.h1 == 1
        and page.unlabelled() == []
        and [c["name"] for c in page.controls] == ["account"]
    )
    assert (await instance.http.get("/@nobody/follow")).status_code == 404
    assert (await instance.http.get("/@ana/follow")).status_code == 404  # members are not groups


async def test_your_handle_sends_you_to_your_servers_subscribe_template(
    pair: tuple[Instance, Instance], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = pair
    lookups = Lookups(a, monkeypatch)

    # When a visitor of A's group page gives her account on B
    response = await a.http.get("/@food/follow", params={"account": "@ana@127.0.0.1:8102"})

    # Then A read B's WebFinger for Ana and sends her to B's template, with the group's handle
    assert lookups.urls == [f"{B}/.well-known/webfinger?resource=acct:ana@127.0.0.1:8102"]
    assert response.status_code == 303
    assert (
        response.headers["location"] == f"{B}/authorize_interaction?uri={quote(FOOD_ON_A, safe='')}"
    )


async def test_the_whole_round_trip_makes_the_group_on_b_follow_the_group_on_a(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    await set_password(b)
    await sign_in(b.http, "ana", PASSWORD)
    location = (
        await a.http.get("/@food/follow", params={"account": "ana@127.0.0.1:8102"})
    ).headers["location"]
    assert location.startswith(B)

    # Ana lands on her own server, sees who it is and follows as her group
    landing = await b.http.get(location.removeprefix(B))
    assert landing.status_code == 200
    assert "Food Share" in landing.text and "@food@127.0.0.1:8101" in landing.text
    assert "Food for everyone." in landing.text and "Follow as Food Share" in landing.text
    page = Page(landing.text)
    assert page.h1 == 1 and page.unlabelled() == []
    followed = await b.http.post(
        "/authorize_interaction",
        data={
            "csrf_token": page.csrf,
            "uri": f"{A}/actors/food",
            "group": "food",
        },
    )

    assert followed.status_code == 303
    assert followed.headers["location"].startswith(
        "/authorize_interaction/followed?group=food&uri="
    )
    assert await _follows(b) == [(f"{A}/actors/food", "pending")]
    assert "asked to follow them" in (await b.http.get(followed.headers["location"])).text
    await settle(a, b)
    assert await _follows(b) == [(f"{A}/actors/food", "accepted")]
    assert "Food Share follows them." in (await b.http.get(followed.headers["location"])).text


async def test_just_a_server_name_goes_to_its_authorize_interaction_once_it_answers_nodeinfo(
    pair: tuple[Instance, Instance], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = pair
    lookups = Lookups(a, monkeypatch)

    response = await a.http.get("/@food/follow", params={"account": "127.0.0.1:8102"})

    assert response.status_code == 303
    assert (
        response.headers["location"] == f"{B}/authorize_interaction?uri={quote(FOOD_ON_A, safe='')}"
    )
    assert lookups.urls == [f"{B}/.well-known/nodeinfo"]


@pytest.mark.parametrize("account", ["evil.example", "127.0.0.1:8203", "kim@127.0.0.1:8203"])
async def test_a_server_that_does_not_answer_as_a_fediverse_server_is_not_redirected_to(
    database_url: str, account: str
) -> None:
    # Given evil.example, which does not resolve, and a web server on :8203 whose WebFinger
    # answers JSON naming no actor and which has no NodeInfo
    async def webfinger(request: Request) -> Response:
        return JSONResponse({"subject": "acct:kim@127.0.0.1:8203", "links": []})

    network = Loopback()
    network.add("127.0.0.1:8203", Starlette(routes=[Route("/.well-known/webfinger", webfinger)]))
    async with start_instance(A, database_url, network) as a:
        response = await a.http.get("/@food/follow", params={"account": account})

    server = account.rpartition("@")[2]
    scheme = "http" if server.startswith("127.") else "https"  # loopback development origins only
    assert response.status_code == 200 and "location" not in response.headers
    assert f"We could not confirm {server}" in response.text
    # She may still go by hand, to a link that names where it goes and sends no referrer.
    link = (
        f'href="{scheme}://{server}/authorize_interaction?uri=food%40127.0.0.1%3A8101" '
        'rel="noopener noreferrer nofollow"'
    )
    assert link in response.text


@pytest.mark.parametrize(
    "account",
    [
        "ana@127.0.0.1:9/x",
        "javascript:alert(1)",
        "ana@javascript:alert(1)",
        "https://social.example",
        "ana@social.example?next=https://evil.example",
        "ana@@social.example",
        "ana@" + "a" * 300 + ".example",
        "",
    ],
)
async def test_hostile_or_malformed_accounts_are_refused_without_any_fetch(
    instance: Instance, monkeypatch: pytest.MonkeyPatch, account: str
) -> None:
    lookups = Lookups(instance, monkeypatch)

    response = await instance.http.get("/@food/follow", params={"account": account})

    assert response.status_code == 400
    assert 'role="alert"' in response.text and "you@example.social" in response.text
    assert Page(response.text).h1 == 1
    assert lookups.urls == []


async def test_an_unknown_account_is_a_clear_error(pair: tuple[Instance, Instance]) -> None:
    a, _ = pair

    response = await a.http.get("/@food/follow", params={"account": "nobody@127.0.0.1:8102"})

    assert response.status_code == 400 and "could not find that account" in response.text


async def test_the_ssrf_guard_applies_to_the_lookup(database_url: str) -> None:
    # Given an instance that, like a production one, may not reach private addresses
    settings = settings_for(A, database_url, allow_private_addresses=())
    async with start_instance(A, database_url, settings=settings) as guarded:
        response = await guarded.http.get("/@food/follow", params={"account": "ana@127.0.0.1:8102"})

    assert response.status_code == 400
    assert "We do not contact that address" in response.text


async def test_a_blocked_server_is_not_contacted(
    instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        await policy.block_domain(session, "bad.example")
    instance.runtime.blocklist.forget()
    lookups = Lookups(instance, monkeypatch)

    response = await instance.http.get("/@food/follow", params={"account": "ana@bad.example"})

    assert response.status_code == 400 and lookups.urls == []


def _other_software(templates: dict[str, str]) -> Starlette:
    """A server that is not Ayni: WebFinger answers whose subscribe template each test chooses."""

    async def webfinger(request: Request) -> Response:
        name = request.query_params.get("resource", "").removeprefix("acct:").partition("@")[0]
        links = [
            {"rel": "self", "type": "application/activity+json", "href": f"{OTHER}/users/{name}"}
        ]
        links.append({"rel": discovery.SUBSCRIBE_REL, "template": templates[name]})
        return JSONResponse(
            {"subject": f"acct:{name}@127.0.0.1:8203", "links": links},
            media_type="application/jrd+json",
        )

    return Starlette(routes=[Route("/.well-known/webfinger", webfinger)])


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            f"{OTHER}/authorize-follow?acct={{uri}}",
            f"{OTHER}/authorize-follow?acct=food%40127.0.0.1%3A8101",
        ),
        (
            "https://evil.example/login?next={uri}",
            f"{OTHER}/authorize_interaction?uri=food%40127.0.0.1%3A8101",
        ),
        ("javascript:alert('{uri}')", f"{OTHER}/authorize_interaction?uri=food%40127.0.0.1%3A8101"),
    ],
)
async def test_another_softwares_template_is_used_only_on_its_own_server(
    database_url: str, template: str, expected: str
) -> None:
    network = Loopback()
    network.add("127.0.0.1:8203", _other_software({"kim": template}))
    async with start_instance(A, database_url, network) as a:
        response = await a.http.get("/@food/follow", params={"account": "kim@127.0.0.1:8203"})

    assert response.status_code == 303 and response.headers["location"] == expected


def test_subscribe_templates_are_read_from_webfinger_answers() -> None:
    mastodon = {
        "links": [
            {
                "rel": discovery.SUBSCRIBE_REL,
                "template": "https://m.example/authorize_interaction?uri={uri}",
            }
        ]
    }
    misskey = {
        "links": [
            {
                "rel": discovery.SUBSCRIBE_REL,
                "template": "https://k.example/authorize-follow?acct={uri}",
            }
        ]
    }
    hostile = {"links": [{"rel": discovery.SUBSCRIBE_REL, "template": "javascript:alert('{uri}')"}]}

    assert (
        discovery.subscribe_template(mastodon)
        == "https://m.example/authorize_interaction?uri={uri}"
    )
    assert discovery.subscribe_template(misskey) == "https://k.example/authorize-follow?acct={uri}"
    assert discovery.subscribe_template(hostile) is None
    assert discovery.subscribe_template({"links": [{"rel": "self"}]}) is None
    assert discovery.subscribe_template("nonsense") is None


# --- /authorize_interaction ---


async def test_anonymous_visitors_are_sent_to_sign_in_and_back(instance: Instance) -> None:
    response = await instance.http.get(
        "/authorize_interaction", params={"uri": "food@127.0.0.1:8102"}
    )

    assert response.status_code == 303
    location = httpx.URL(response.headers["location"])
    assert location.path == "/login"
    assert location.params["next"] == "/authorize_interaction?uri=food%40127.0.0.1%3A8102"


async def test_an_unresolvable_uri_is_a_clear_error_and_nothing_is_stored(
    pair: tuple[Instance, Instance],
) -> None:
    _, b = pair
    await set_password(b)
    await sign_in(b.http, "ana", PASSWORD)

    for uri in [
        "nobody@127.0.0.1:8101",
        "not a handle",
        f"{A}/items/0123",
        "javascript:alert(1)",
        "food@127.0.0.1:8102",
    ]:
        response = await b.http.get("/authorize_interaction", params={"uri": uri})
        assert response.status_code == 400, uri
        assert 'role="alert"' in response.text and Page(response.text).h1 == 1

    assert await _remote_actors(b) == 0
    assert await _follows(b) == []


async def test_a_member_who_is_not_a_group_admin_cannot_follow_as_the_group(
    pair: tuple[Instance, Instance],
) -> None:
    _, b = pair
    await _add_member(b, "bea", Role.MODERATOR)
    await set_password(b, "bea")
    await sign_in(b.http, "bea", PASSWORD)

    shown = await b.http.get("/authorize_interaction", params={"uri": FOOD_ON_A})
    token = await csrf(b.http, "/authorize_interaction?uri=" + quote(FOOD_ON_A))
    refused = await b.http.post(
        "/authorize_interaction",
        data={
            "csrf_token": token,
            "uri": f"{A}/actors/food",
            "group": "food",
        },
    )

    assert shown.status_code == 200 and "Food Share" in shown.text
    assert "Follow as" not in shown.text and "Only a group's admins" in shown.text
    assert refused.status_code == 403
    assert await _follows(b) == []


@pytest.mark.parametrize("token", [None, "forged-token"])
async def test_following_without_the_csrf_token_is_refused(
    pair: tuple[Instance, Instance], token: str | None
) -> None:
    _, b = pair
    await set_password(b)
    await sign_in(b.http, "ana", PASSWORD)
    await b.http.get("/authorize_interaction", params={"uri": FOOD_ON_A})

    response = await b.http.post(
        "/authorize_interaction",
        data={
            "uri": f"{A}/actors/food",
            "group": "food",
            **({"csrf_token": token} if token else {}),
        },
    )

    assert response.status_code == 403
    assert await _follows(b) == []


async def test_an_actor_url_works_as_well_as_a_handle(pair: tuple[Instance, Instance]) -> None:
    _, b = pair
    await set_password(b)
    await sign_in(b.http, "ana", PASSWORD)

    response = await b.http.get("/authorize_interaction", params={"uri": f"{A}/actors/food"})

    assert response.status_code == 200 and "Follow as Food Share" in response.text


# --- the group page's form, and "Reply from your server" on items ---


EXAMPLE_SOCIAL = {
    "subject": "acct:you@example.social",
    "links": [
        {
            "rel": "self",
            "type": "application/activity+json",
            "href": "https://example.social/users/you",
        },
        {
            "rel": "http://ostatus.org/schema/1.0/subscribe",
            "template": "https://example.social/authorize_interaction?uri={uri}",
        },
    ],
}


@pytest.fixture
async def beside_example_social(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> Any:
    """example.social answers you@example.social's WebFinger as Mastodon does (through the
    instance's safe client, which is asked for nothing else)."""
    asked: list[str] = []

    async def get_json(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        asked.append(url)
        assert (
            url == "https://example.social/.well-known/webfinger?resource=acct:you@example.social"
        )
        return EXAMPLE_SOCIAL

    monkeypatch.setattr(instance.runtime.client, "get_json", get_json)
    return instance


async def test_the_group_pages_form_sends_you_to_your_mastodon_to_follow(
    beside_example_social: Instance,
) -> None:
    a = beside_example_social
    form = Page((await a.http.get("/@food")).text)
    assert "account" in [c["name"] for c in form.controls]

    response = await a.http.get("/@food/follow", params={"account": "you@example.social"})

    assert response.status_code == 303
    assert response.headers["location"] == (
        "https://example.social/authorize_interaction?uri=" + quote(FOOD_ON_A, safe="")
    )


async def test_reply_from_your_server_sends_you_to_the_item_on_your_mastodon(
    beside_example_social: Instance,
) -> None:
    a = beside_example_social
    async with a.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert food is not None and ana is not None
        item = await posting.create_item(
            session, a.runtime.uris, food, ana, Draft(Kind.ASK, "Nappies")
        )
        private = await posting.create_item(
            session,
            a.runtime.uris,
            food,
            ana,
            Draft(Kind.ASK, "Rent", visibility=Visibility.MEMBERS),
        )
    page = (await a.http.get(f"/items/{item.uuid}")).text
    assert f'href="/items/{item.uuid}/reply"' in page
    assert "Reply from Mastodon or a similar app" in page
    asking = await a.http.get(f"/items/{item.uuid}/reply")
    assert asking.status_code == 200 and "Reply to “Nappies”" in asking.text

    response = await a.http.get(
        f"/items/{item.uuid}/reply", params={"account": "you@example.social"}
    )

    assert response.status_code == 303
    assert response.headers["location"] == (
        "https://example.social/authorize_interaction?uri=" + quote(item.uri, safe="")
    )
    refused = await a.http.get(f"/items/{private.uuid}/reply", params={"account": "x.social"})
    assert refused.status_code == 404
    assert (await a.http.get("/items/nothing/reply")).status_code == 404
    bad = await a.http.get(f"/items/{item.uuid}/reply", params={"account": "not an account!"})
    assert bad.status_code == 400
