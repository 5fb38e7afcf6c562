"""Every page with hostile text in every field a member, an admin or another server can set: the
text is shown, escaped, and never runs, breaks the page or is read as a template.

Each field gets its own tagged hostile string, so a page is checked for the fields it shows
(the escaped form is there: it really was rendered) and for what must never be there (the raw
markup, `{{7*7}}` evaluated, a 500).
"""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from markupsafe import escape
from sqlalchemy import select

from federation import vocab
from federation.itemterms import Kind
from federation.places import Place
from models import actors, invitations, passwords, posting
from models import items as stored_items
from models.actors import Role
from models.items import Item, RemoteItem
from models.posting import Draft
from models.remote import RemoteActor
from tests.instances import Instance, Loopback, settle, start_instance
from tests.integration.test_web_my_items import browser
from tests.peers import MastodonPeer
from tests.web import PASSWORD, csrf

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
HTML = {"Accept": "text/html"}


def hostile(field: str) -> str:
    return (
        f'{field} <script>alert(1)</script> "><img src=x onerror=alert(1)> '
        "[{{7*7}}] %(x)s 100 %"
    )


def shown(field: str) -> str:
    """How the page must show `hostile(field)`: escaped once."""
    return str(escape(hostile(field)))


def assert_safe(response: httpx.Response, *fields: str, status: int = 200) -> None:
    """The page has the status, shows each field's hostile string escaped (so it was rendered) and
    nowhere raw or evaluated."""
    where = response.request.url
    assert response.status_code == status, (where, response.status_code)
    text = response.text
    assert [field for field in fields if shown(field) not in text] == [], where
    assert "<script>alert(1)" not in text and "<img src=x onerror" not in text, where
    assert "[49]" not in text, where


class HostilePeer(MastodonPeer):
    """A Mastodon account whose display name and bio are hostile."""

    def actor_document(self) -> dict[str, Any]:
        return super().actor_document() | {
            "name": hostile("remote-name"),
            "summary": f"<p>{hostile('remote-summary')}</p>",
        }


@dataclass
class World:
    instance: Instance
    peer: HostilePeer
    ask: Item
    call: Item
    invitation: str


async def build(instance: Instance, peer: HostilePeer) -> World:
    """food (hostile title and summary, a hostile category, approving followers by hand), its admin
    ana and member ben (hostile display names), ben's hostile ask and call, ana's offer of help, a
    pending invitation; from the peer: a follow request, a public reply, a report; a remote item."""
    uris = instance.runtime.uris
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert food is not None and ana is not None
        food.name, food.summary, food.manually_approves_followers = (
            hostile("group-title"),
            hostile("group-summary"),
            True,
        )
        ana.name, ana.is_admin, ana.password_hash = (
            hostile("ana-name"),
            True,
            passwords.hash_password(PASSWORD),
        )
        ben = await actors.create_member(session, "ben", PASSWORD, hostile("ben-name"))
        await actors.join_group(session, food, ben, Role.MEMBER)
        await stored_items.add_category(session, uris, food, "hostile", hostile("category"))
        ask = await posting.create_item(
            session,
            uris,
            food,
            ben,
            Draft(
                Kind.ASK,
                hostile("ask-title"),
                hostile("ask-body"),
                "hostile",
                place=Place(hostile("ask-place"), 40.41678, -3.70379),
            ),
        )
        call = await posting.create_item(
            session,
            uris,
            food,
            ben,
            Draft(
                Kind.CALL,
                hostile("call-title"),
                category="hostile",
                place=Place(hostile("call-place")),
                starts_at=datetime.now(UTC) + timedelta(days=3),
                people_wanted=5,
                meeting_point=hostile("meeting"),
            ),
            seal=instance.runtime.seal,
        )
        helped = await posting.respond(session, uris, ask, ana, hostile("response-message"))
        await posting.reply_to_response(session, uris, helped, ben, hostile("answer"))
        token = await invitations.invite(session, food, Role.MEMBER, ana)
    inbox = f"{BASE}/inbox"
    for activity in (
        peer.follow(GROUP),
        peer.note(
            f"<p>{hostile('reply')}</p>",
            to=[vocab.PUBLIC],
            cc=[GROUP],
            in_reply_to=ask.uri,
            mention=GROUP,
        ),
        {
            "@context": vocab.AS_CONTEXT,
            "id": peer.new_id(),
            "type": "Flag",
            "actor": peer.actor_uri,
            "object": [GROUP],
            "content": hostile("report"),
        },
    ):
        assert (await peer.send(inbox, activity)).status_code == 202
    await settle(instance)
    async with instance.runtime.sessions() as session, session.begin():
        remote = await session.scalar(select(RemoteActor).where(RemoteActor.uri == peer.actor_uri))
        assert remote is not None and remote.name == hostile("remote-name")
        session.add(
            RemoteItem(
                uri=f"{peer.actor_uri}/statuses/9",
                remote_actor_id=remote.id,
                kind="offer",
                title=hostile("remote-item"),
                status="open",
                visibility="public",
                place_name=hostile("remote-place"),
                document={},
            )
        )
    return World(instance, peer, ask, call, token)


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    network = Loopback()
    peer = HostilePeer("http://127.0.0.1:8201", network)
    network.add(peer.host, peer.app)
    async with start_instance(BASE, database_url, network) as instance:
        yield await build(instance, peer)
    await peer.aclose()


async def test_public_pages_show_hostile_fields_escaped(world: World) -> None:
    http, ask, call = world.instance.http, world.ask, world.call

    assert_safe(await http.get("/"), "group-title", "group-summary")
    assert_safe(
        await http.get("/@food"),
        "group-title",
        "group-summary",
        "category",
        "ask-title",
        "ask-place",
        "ben-name",
    )
    assert_safe(
        await http.get("/@food?category=hostile&kind=ask"), "group-title", "category", "ask-title"
    )
    assert_safe(
        await http.get("/actors/food", headers=HTML), "group-title", "category", "call-title"
    )
    assert_safe(await http.get("/@ben"), "ben-name", "ask-title", "call-place")
    item_page = await http.get(f"/items/{ask.uuid}")
    assert_safe(
        item_page, "ask-title", "category", "ask-place", "group-title", "ben-name", "remote-name"
    )
    assert "ask-body &lt;script&gt;" in item_page.text and "reply" in item_page.text
    call_page = await http.get(f"/items/{call.uuid}")
    assert_safe(call_page, "call-title", "call-place")
    assert "meeting " not in call_page.text  # sealed: only for those who come
    assert_safe(await http.get("/@food/follow"), "group-title")


async def test_member_pages_show_hostile_fields_escaped(world: World) -> None:
    async with browser(world.instance, "ben") as ben:
        assert_safe(await ben.get("/my/items"), "ask-title", "call-title", "group-title")
        assert_safe(await ben.get("/post"), "category", "group-title")
        assert_safe(
            await ben.get(f"/items/{world.ask.uuid}/edit"),
            "ask-title",
            "ask-place",
            "category",
            "group-title",
        )
        assert_safe(await ben.get(f"/items/{world.ask.uuid}/delete"), "ask-title")
        assert_safe(await ben.get("/notifications"), "remote-name", "ask-title", "ana-name")
        assert_safe(
            await ben.get("/board"),
            "ask-title",
            "ask-place",
            "group-title",
            "remote-item",
            "remote-place",
        )
        item_page = await ben.get(f"/items/{world.ask.uuid}")
        assert_safe(item_page, "ask-title", "ana-name", "remote-name", "response-message")
        assert_safe(item_page, "answer", "ben-name")
        assert "reply" in item_page.text
        assert_safe(
            await ben.get(f"/authorize_interaction?uri={world.peer.actor_uri}"), "remote-name"
        )
        assert (
            "remote-summary"
            in (await ben.get(f"/authorize_interaction?uri={world.peer.actor_uri}")).text
        )


async def test_moderator_and_admin_pages_show_hostile_fields_escaped(world: World) -> None:
    async with browser(world.instance, "ana") as ana:
        assert_safe(await ana.get("/groups"), "group-title")
        assert_safe(
            await ana.get("/groups/food/moderation"),
            "group-title",
            "remote-name",
            "ask-title",
            "remote-item",
        )
        assert "report" in (await ana.get("/groups/food/moderation")).text
        assert_safe(await ana.get("/groups/food/members"), "group-title", "ana-name", "ben-name")
        assert_safe(await ana.get("/admin"))
        assert_safe(await ana.get("/admin/groups"), "group-title")
        assert_safe(await ana.get("/admin/members"), "ana-name", "ben-name")
        assert_safe(await ana.get("/admin/federation"), "group-title")
        assert_safe(await ana.get("/admin/queue"))
        response = await ana.post(
            "/admin/instance",
            data={
                "csrf_token": await csrf(ana, "/admin/instance"),
                "name": hostile("instance-name"),
                "summary": hostile("instance-summary"),
            },
        )
        assert response.status_code == 303
        assert_safe(await ana.get("/admin/instance"), "instance-name", "instance-summary")
        assert_safe(await ana.get("/"), "instance-name", "instance-summary", "group-title")
        assert_safe(
            await ana.get(f"/authorize_interaction?uri={world.peer.actor_uri}"), "remote-name"
        )


async def test_flash_messages_echo_hostile_titles_escaped(world: World) -> None:
    async with browser(world.instance, "ben") as ben:
        saved = await ben.post(
            f"/items/{world.call.uuid}/edit",
            data={
                "csrf_token": await csrf(ben, f"/items/{world.call.uuid}/edit"),
                "title": hostile("edited"),
                "category": "hostile",
                "visibility": "public",
                "timezone": "UTC",
                "place_name": hostile("call-place"),
                "starts_at": "2031-05-01T10:00",
                "people_wanted": "5",
            },
        )
        assert saved.status_code == 303
        assert_safe(await ben.get("/my/items"), "edited")
    async with browser(world.instance, "ana") as ana:
        token = await csrf(ana, "/groups/food/moderation")
        path = f"/groups/food/moderation/items/{world.ask.uuid}/delete"
        asked = await ana.post(path, data={"csrf_token": token})
        assert asked.status_code == 200
        assert_safe(asked, "ask-title")  # the confirmation names it
        removed = await ana.post(path, data={"csrf_token": token, "confirm": "yes"})
        assert removed.status_code == 303
        assert_safe(await ana.get("/groups/food/moderation"), "ask-title")


async def test_forms_echo_hostile_input_escaped_with_a_clear_error(world: World) -> None:
    http = world.instance.http
    assert_safe(
        await http.get("/@food/follow", params={"account": hostile("account")}),
        "account",
        status=400,
    )
    login = await http.post(
        "/login", data={"csrf_token": await csrf(http), "username": hostile("login")}
    )
    assert_safe(login, status=400)
    assert str(escape(hostile("login")[:64])) in login.text
    invite = f"/invite/{world.invitation}"
    assert_safe(await http.get(invite), "group-title", "group-summary")
    assert_safe(
        await http.post(
            invite,
            data={
                "csrf_token": await csrf(http, invite),
                "username": "new_one",
                "display_name": hostile("display"),
                "password": "long enough one",
                "password_again": "but not the same",
            },
        ),
        "display",
        "group-title",
        status=400,
    )

    async with browser(world.instance, "ben") as ben:
        form = {
            "csrf_token": await csrf(ben, "/post"),
            "group": "food",
            "kind": "ask",
            "title": hostile("title"),
            "body": hostile("body"),
            "category": "hostile",
            "visibility": "public",
            "place_name": hostile("place"),
            "timezone": hostile("zone"),
        }
        assert_safe(
            await ben.post("/post", data=form), "title", "place", "body", "zone", status=400
        )
        edit = f"/items/{world.ask.uuid}/edit"
        assert_safe(
            await ben.post(edit, data=form | {"csrf_token": await csrf(ben, edit)}),
            "title",
            "zone",
            status=400,
        )
        near = await ben.get("/board", params={"near": hostile("near")})
        assert_safe(near, status=400)
        assert str(escape(hostile("near")[:64])) in near.text
        reply = re.search(
            r'action="(/items/[^"]+/reply)"', (await ben.get(f"/items/{world.ask.uuid}")).text
        )
        assert reply is not None
        unsent = await ben.post(
            reply[1], data={"csrf_token": await csrf(ben, "/my/items"), "text": " "}
        )
        assert_safe(unsent, "ask-title", "remote-name", status=400)

    async with browser(world.instance, "ana") as ana:
        token = await csrf(ana, "/admin")
        assert_safe(
            await ana.post(
                "/admin/groups",
                data={
                    "csrf_token": token,
                    "name": "newgroup",
                    "title": hostile("new-title"),
                    "summary": "",
                    "admin": hostile("admin"),
                },
            ),
            "new-title",
            "admin",
            status=400,
        )
        assert_safe(
            await ana.post(
                "/admin/federation/follows",
                data={
                    "csrf_token": token,
                    "group": "food",
                    "handle": hostile("handle"),
                },
            ),
            "handle",
            status=400,
        )
        blocked = await ana.post(
            "/admin/federation/blocks",
            data={
                "csrf_token": token,
                "domain": "bad.example",
                "reason": hostile("reason"),
            },
        )
        assert blocked.status_code == 303
        assert_safe(await ana.get("/admin/federation"), "reason")
        assert_safe(
            await ana.post(
                "/admin/queue/retry", data={"csrf_token": token, "host": hostile("host")}
            ),
            "host",
            status=400,
        )
        assert_safe(
            await ana.post(
                "/admin/instance",
                data={
                    "csrf_token": token,
                    "name": hostile("long") * 3,
                    "summary": hostile("summary"),
                },
            ),
            "summary",
            status=400,
        )
        moderation = "/groups/food/moderation"
        assert_safe(
            await ana.post(
                f"{moderation}/blocks", data={"csrf_token": token, "actor": hostile("actor")}
            ),
            "actor",
            status=400,
        )
        assert_safe(
            await ana.post(
                f"{moderation}/relay", data={"csrf_token": token, "object": hostile("object")}
            ),
            "object",
            status=400,
        )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/items/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 404),
        ("/groups/%3Cscript%3Ealert(1)%3C%2Fscript%3E/moderation", 404),
        ("/%3Cscript%3Ealert(1)%3C%2Fscript%3E%7B%7B7*7%7D%7D%25(x)s%25", 404),
        ("/groups/food/moderation", 403),
    ],
)
async def test_error_pages_never_echo_hostile_paths_raw(
    world: World, path: str, status: int
) -> None:
    async with browser(world.instance, "ben") as ben:
        response = await ben.get(path, headers=HTML)

    assert_safe(response, status=status)
    assert "<main" in response.text  # the error page itself, not a bare text answer
