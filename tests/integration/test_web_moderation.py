"""The groups hub and a group's moderation page, driven as browsers would, on both databases: a
Mastodon-shaped peer asks to follow a group that approves by hand, a moderator accepts it from the
page; submissions, reports, blocks, removing and relaying items; and every role boundary.

People: ana (instance fixture: admin of food), mo (moderator of food), ben (member of food),
bo (moderator of a second group, books)."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from federation.itemterms import Kind
from inbox import worker
from models import actors, group_moderation, posting
from models.actors import Membership, Role
from models.content import RemoteObject, RemoteObjectKind
from models.follows import Direction, Follow, FollowState
from models.invitations import Invitation
from models.items import Item, RemoteItem
from models.moderation import ActorBlock, Relay, Review
from models.posting import Draft
from models.queue import Activity
from models.remote import RemoteActor
from outbox.worker import DeliveryWorker
from tests.instances import Instance, Loopback, start_instance
from tests.peers import MastodonPeer
from tests.web import PASSWORD, Page, csrf, set_password, sign_in

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
BOB = "https://social.example/users/bob"
NOTE = "https://social.example/users/bob/statuses/1"
BOARD_ITEM = "https://other.example/items/soup"


@dataclass
class Scene:
    instance: Instance
    peer: MastodonPeer
    follow_id: int = 0
    follow_uri: str = ""
    submission_id: int = 0
    bob_id: int = 0
    item_uuid: str = ""
    item_uri: str = ""


@contextlib.asynccontextmanager
async def browser(
    instance: Instance, username: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own (its own cookies), signed in as `username` if given."""
    transport = httpx.ASGITransport(app=instance.app)
    async with httpx.AsyncClient(transport=transport, base_url=instance.settings.base_url) as http:
        if username:
            assert (await sign_in(http, username, PASSWORD)).status_code == 303
        yield http


async def add_people(instance: Instance) -> None:
    """mo moderates food, ben is a member of food, bo moderates a second group, books."""
    await set_password(instance)
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        books = await actors.create_group(session, "books", "Book Swap")
        for name, group, role in (
            ("mo", food, Role.MODERATOR),
            ("ben", food, Role.MEMBER),
            ("bo", books, Role.MODERATOR),
        ):
            member = await actors.create_member(session, name, PASSWORD)
            await actors.join_group(session, group, member, role)


async def hold_pending_follow(scene: Scene) -> None:
    """The peer asks to follow food, which approves followers by hand."""
    runtime = scene.instance.runtime
    async with runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        group.manually_approves_followers = True
    follow = scene.peer.follow(GROUP)
    scene.follow_uri = follow["id"]
    assert (await scene.peer.send(f"{GROUP}/inbox", follow)).status_code == 202
    assert await worker.run_once(runtime) == 1
    async with runtime.sessions() as session:
        pending = await session.scalar(select(Follow).where(Follow.state == FollowState.PENDING))
    assert pending is not None
    scene.follow_id = pending.id


async def fill(scene: Scene) -> None:
    """A submission and a report from bob, bob blocked, an item of food, an item on the board."""
    runtime = scene.instance.runtime
    async with runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert food is not None and ana is not None
        item = await posting.create_item(
            session, runtime.uris, food, ana, Draft(Kind.ASK, "Nappies", as_group=True)
        )
        bob = RemoteActor(
            uri=BOB,
            host="social.example",
            username="bob",
            name="Bob",
            inbox_uri=f"{BOB}/inbox",
            document={"url": "javascript:alert(1)"},
        )
        session.add(bob)
        await session.flush()
        submission = RemoteObject(
            uri=NOTE,
            type="Note",
            kind=RemoteObjectKind.SUBMISSION,
            remote_actor_id=bob.id,
            local_actor_id=food.id,
            content_html="<p>Free bread at 7</p>",
            public=True,
            document={"id": NOTE},
        )
        report = RemoteObject(
            uri="https://social.example/reports/1",
            type="Flag",
            kind=RemoteObjectKind.REPORT,
            remote_actor_id=bob.id,
            local_actor_id=food.id,
            content_html="<p>Spam from this group</p>",
            document={"object": [GROUP, item.uri]},
        )
        session.add_all([submission, report])
        session.add(
            RemoteItem(
                uri=BOARD_ITEM,
                remote_actor_id=bob.id,
                kind=Kind.OFFER,
                title="Soup for all",
                status="open",
                visibility="public",
                document={"id": BOARD_ITEM},
            )
        )
        await group_moderation.block_actor(session, runtime.uris, food, bob)
        await session.flush()
        scene.submission_id, scene.bob_id, scene.item_uuid = submission.id, bob.id, item.uuid
        scene.item_uri = item.uri


@pytest.fixture
async def scene(database_url: str) -> AsyncIterator[Scene]:
    network = Loopback()
    peer = MastodonPeer("http://127.0.0.1:8201", network)
    network.add(peer.host, peer.app)
    async with start_instance(BASE, database_url, network) as instance:
        built = Scene(instance, peer)
        await add_people(instance)
        await hold_pending_follow(built)
        await fill(built)
        yield built
    await peer.aclose()


async def snapshot(instance: Instance) -> tuple[Any, ...]:
    """Everything a moderation or membership action could change."""
    async with instance.runtime.sessions() as session:

        def count(model: Any) -> Any:
            return session.scalar(select(func.count()).select_from(model))

        return (
            sorted((f.id, f.state) for f in await session.scalars(select(Follow))),
            await count(Review),
            await count(Relay),
            await count(Activity),
            await count(Invitation),
            sorted(
                (b.group_id, b.remote_actor_id) for b in await session.scalars(select(ActorBlock))
            ),
            sorted((i.uuid, i.deleted_at is None) for i in await session.scalars(select(Item))),
            sorted(
                (m.group_id, m.member_id, m.role) for m in await session.scalars(select(Membership))
            ),
        )


def posts(scene: Scene, group: str = "food") -> list[tuple[str, dict[str, str]]]:
    """Every moderation form of `group`, with ids that belong to food."""
    base = f"/groups/{group}/moderation"
    return [
        (f"{base}/follows/{scene.follow_id}", {"decision": "accept"}),
        (f"{base}/submissions/{scene.submission_id}", {"decision": "approve"}),
        (f"{base}/blocks", {"actor": scene.peer.actor_uri}),
        (f"{base}/blocks/{scene.bob_id}/delete", {}),
        (f"{base}/items/{scene.item_uuid}/delete", {}),
        (f"{base}/relay", {"object": BOARD_ITEM}),
    ]


# --- the groups hub ---------------------------------------------------------------------


async def boosted(session: Any) -> list[str]:
    """The objects the group announced by id (not its FEP-1b12 Announces of its own
    activities about its items, which embed them: `publish.pass_on`)."""
    rows = await session.execute(
        select(Activity.object_uri, Activity.document).where(Activity.type == "Announce")
    )
    return [uri for uri, document in rows if isinstance(document["object"], str)]


async def test_the_groups_hub_shows_each_role_its_links(scene: Scene) -> None:
    instance = scene.instance
    async with (
        browser(instance, "ben") as ben,
        browser(instance, "mo") as mo,
        browser(instance, "ana") as ana,
    ):
        as_member, as_moderator, as_admin = [
            (await http.get("/groups")).text for http in (ben, mo, ana)
        ]

    assert "Food Share" in as_member and "Your role: Member" in as_member
    assert 'href="/post?group=food"' in as_member and 'href="/@food"' in as_member
    assert "/groups/food/moderation" not in as_member and "/groups/food/members" not in as_member
    assert "Book Swap" not in as_member
    assert (
        "Your role: Moderator" in as_moderator and 'href="/groups/food/moderation"' in as_moderator
    )
    assert "/groups/food/members" not in as_moderator
    assert "Your role: Admin" in as_admin and 'href="/groups/food/members"' in as_admin
    assert 'href="/admin"' not in as_admin  # ana administers food, not the instance


async def test_an_instance_admin_sees_every_group_and_the_admin_link(scene: Scene) -> None:
    async with scene.instance.runtime.sessions() as session, session.begin():
        await actors.create_member(session, "root", PASSWORD, is_admin=True)

    async with browser(scene.instance, "root") as root:
        page = (await root.get("/groups")).text

    assert 'href="/admin"' in page
    assert 'href="/groups/food/members"' in page and 'href="/groups/books/members"' in page


async def test_the_groups_hub_asks_to_sign_in_first(scene: Scene) -> None:
    async with browser(scene.instance) as anonymous:
        response = await anonymous.get("/groups")

    assert response.status_code == 303 and response.headers["location"] == "/login?next=/groups"


# --- the moderation page -----------------------------------------------------------------


async def test_the_moderation_page_lists_what_waits_with_counts(scene: Scene) -> None:
    async with browser(scene.instance, "mo") as mo:
        response = await mo.get("/groups/food/moderation")

    assert response.status_code == 200
    page = response.text
    assert "Pending follow requests (1)" in page and "@alice@127.0.0.1:8201" in page
    assert "Submissions held for approval (1)" in page and "Free bread at 7" in page
    assert (
        "Reports (1)" in page and "Spam from this group" in page and "@bob@social.example" in page
    )
    assert (
        f'<a href="{GROUP}" rel="nofollow noopener" dir="auto">Food Share</a>' in page
    )  # what was reported, named
    assert f'<a href="{scene.item_uri}" rel="nofollow noopener" dir="auto">Nappies</a>' in page
    assert "Blocked accounts (1)" in page
    assert "Nappies" in page and "Soup for all" in page
    assert "javascript:" not in page  # a remote document's url never becomes a link


async def test_accepting_a_pending_follow_sends_the_accept(scene: Scene) -> None:
    instance = scene.instance
    async with browser(instance, "mo") as mo:
        token = await csrf(mo, "/groups/food/moderation")

        response = await mo.post(
            f"/groups/food/moderation/follows/{scene.follow_id}",
            data={"csrf_token": token, "decision": "accept"},
        )

        assert (
            response.status_code == 303
            and response.headers["location"] == "/groups/food/moderation"
        )
        after = (await mo.get("/groups/food/moderation")).text
    assert "@alice@127.0.0.1:8201 now follows the group." in after
    assert "Pending follow requests (0)" in after
    async with instance.runtime.sessions() as session:
        follow = await session.get(Follow, scene.follow_id)
        assert follow is not None and (follow.direction, follow.state) == (
            Direction.INBOUND,
            FollowState.ACCEPTED,
        )
    await DeliveryWorker(instance.runtime).run_once()
    answers = [a for a in scene.peer.received if a["type"] in ("Accept", "Reject")]
    assert [(a["type"], a["actor"], a["object"]["id"]) for a in answers] == [
        ("Accept", GROUP, scene.follow_uri)
    ]


async def test_refusing_a_pending_follow_sends_a_reject(scene: Scene) -> None:
    async with browser(scene.instance, "mo") as mo:
        token = await csrf(mo, "/groups/food/moderation")
        response = await mo.post(
            f"/groups/food/moderation/follows/{scene.follow_id}",
            data={"csrf_token": token, "decision": "reject"},
        )

    assert response.status_code == 303
    await DeliveryWorker(scene.instance.runtime).run_once()
    assert [a["type"] for a in scene.peer.received if a["type"] in ("Accept", "Reject")] == [
        "Reject"
    ]


async def test_approving_a_submission_announces_it_and_a_second_decision_is_refused(
    scene: Scene,
) -> None:
    async with browser(scene.instance, "mo") as mo:
        token = await csrf(mo, "/groups/food/moderation")
        path = f"/groups/food/moderation/submissions/{scene.submission_id}"

        approved = await mo.post(path, data={"csrf_token": token, "decision": "approve"})
        again = await mo.post(path, data={"csrf_token": token, "decision": "reject"})

    assert approved.status_code == 303
    assert again.status_code == 400 and "decided already" in again.text
    assert Page(again.text).h1 == 1 and 'role="alert"' in again.text
    async with scene.instance.runtime.sessions() as session:
        announced = await boosted(session)
        decisions = list(await session.scalars(select(Review.decision)))
    assert announced == [NOTE] and decisions == ["approved"]


async def test_rejecting_a_submission_sends_nothing(scene: Scene) -> None:
    before = await snapshot(scene.instance)
    async with browser(scene.instance, "mo") as mo:
        token = await csrf(mo, "/groups/food/moderation")
        response = await mo.post(
            f"/groups/food/moderation/submissions/{scene.submission_id}",
            data={"csrf_token": token, "decision": "reject"},
        )

    assert response.status_code == 303
    after = await snapshot(scene.instance)
    assert after[1] == before[1] + 1 and after[3] == before[3]  # one review, no new activity


async def test_blocking_by_address_removes_the_follow_request_and_unblocking_lifts_a_block(
    scene: Scene,
) -> None:
    async with browser(scene.instance, "mo") as mo:
        token = await csrf(mo, "/groups/food/moderation")

        blocked = await mo.post(
            "/groups/food/moderation/blocks",
            data={"csrf_token": token, "actor": scene.peer.actor_uri},
        )
        unblocked = await mo.post(
            f"/groups/food/moderation/blocks/{scene.bob_id}/delete", data={"csrf_token": token}
        )
        page = (await mo.get("/groups/food/moderation")).text

    assert blocked.status_code == unblocked.status_code == 303
    assert "@bob@social.example is no longer blocked." in page
    async with scene.instance.runtime.sessions() as session:
        blocks = list(
            await session.scalars(
                select(RemoteActor.uri).join(
                    ActorBlock, ActorBlock.remote_actor_id == RemoteActor.id
                )
            )
        )
        follow = await session.get(Follow, scene.follow_id)
    assert blocks == [scene.peer.actor_uri] and follow is None


@pytest.mark.parametrize(
    "typed, message",
    [
        ("@nobody@127.0.0.1:8201", "No account could be found"),
        ("http://", "No account could be found"),
        ("just words", "No account could be found"),
        ("https://unreachable.example/users/x", "No account could be found"),
        ("", "Enter an account"),
        ("@ana@127.0.0.1:8101", "That account is on this instance"),
    ],
)
async def test_an_account_that_cannot_be_blocked_is_explained_and_kept_in_the_form(
    scene: Scene, typed: str, message: str
) -> None:
    before = await snapshot(scene.instance)
    async with browser(scene.instance, "mo") as mo:
        token = await csrf(mo, "/groups/food/moderation")
        response = await mo.post(
            "/groups/food/moderation/blocks", data={"csrf_token": token, "actor": typed}
        )

    assert response.status_code == 400 and message in response.text
    assert f'name="actor" value="{typed}"' in response.text
    assert await snapshot(scene.instance) == before


async def test_a_moderator_removes_an_item_of_the_group(scene: Scene) -> None:
    async with browser(scene.instance, "mo") as mo:
        token = await csrf(mo, "/groups/food/moderation")
        confirmed = {"csrf_token": token, "confirm": "yes"}
        response = await mo.post(
            f"/groups/food/moderation/items/{scene.item_uuid}/delete", data=confirmed
        )
        again = await mo.post(
            f"/groups/food/moderation/items/{scene.item_uuid}/delete", data=confirmed
        )

    assert response.status_code == 303 and again.status_code == 404
    async with scene.instance.runtime.sessions() as session:
        item = await session.scalar(select(Item).where(Item.uuid == scene.item_uuid))
        deletes = await session.scalar(
            select(func.count()).select_from(Activity).where(Activity.type == "Delete")
        )
    assert item is not None and item.deleted_at is not None and deletes == 1


async def test_relaying_a_post_its_author_forbids_boosting_says_why(scene: Scene) -> None:
    # Given a board item whose GoToSocial policy lets nobody but its author boost it
    forbidden = "https://other.example/items/ramp"
    async with scene.instance.runtime.sessions() as session, session.begin():
        session.add(
            RemoteItem(
                uri=forbidden,
                remote_actor_id=scene.bob_id,
                kind=Kind.ASK,
                title="A wheelchair ramp",
                status="open",
                visibility="public",
                document={
                    "id": forbidden,
                    "attributedTo": BOB,
                    "interactionPolicy": {"canAnnounce": {"automaticApproval": [BOB]}},
                },
            )
        )
    async with browser(scene.instance, "mo") as mo:
        token = await csrf(mo, "/groups/food/moderation")
        response = await mo.post(
            "/groups/food/moderation/relay", data={"csrf_token": token, "object": forbidden}
        )

    assert response.status_code == 400
    assert "interaction policy does not let the group boost it" in response.text
    async with scene.instance.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Relay)) == 0


async def test_relaying_a_board_item_announces_it_once(scene: Scene) -> None:
    async with browser(scene.instance, "mo") as mo:
        token = await csrf(mo, "/groups/food/moderation")

        relayed = await mo.post(
            "/groups/food/moderation/relay", data={"csrf_token": token, "object": BOARD_ITEM}
        )
        twice = await mo.post(
            "/groups/food/moderation/relay", data={"csrf_token": token, "object": BOARD_ITEM}
        )
        unknown = await mo.post(
            "/groups/food/moderation/relay",
            data={"csrf_token": token, "object": "https://nowhere.example/x"},
        )

    assert relayed.status_code == 303
    assert twice.status_code == 400 and "cannot be relayed" in twice.text
    assert unknown.status_code == 400 and "not on the network board" in unknown.text
    assert 'value="https://nowhere.example/x"' in unknown.text
    async with scene.instance.runtime.sessions() as session:
        announced = await boosted(session)
    assert announced == [BOARD_ITEM]


# --- role boundaries ---------------------------------------------------------------------


async def test_anonymous_visitors_are_sent_to_sign_in(scene: Scene) -> None:
    async with browser(scene.instance) as anonymous:
        response = await anonymous.get("/groups/food/moderation")

    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/groups/food/moderation"


@pytest.mark.parametrize("who", ["ben", "bo"])
async def test_a_plain_member_or_another_groups_moderator_cannot_open_the_moderation_page(
    scene: Scene, who: str
) -> None:
    async with browser(scene.instance, who) as http:
        response = await http.get("/groups/food/moderation", headers={"Accept": "text/html"})

    assert response.status_code == 403
    assert "Free bread" not in response.text and "@alice" not in response.text


@pytest.mark.parametrize("who", ["ben", "bo"])
async def test_a_plain_member_or_another_groups_moderator_cannot_act_and_nothing_changes(
    scene: Scene, who: str
) -> None:
    before = await snapshot(scene.instance)
    async with browser(scene.instance, who) as http:
        token = await csrf(http, "/groups")
        for path, data in posts(scene):
            response = await http.post(path, data={"csrf_token": token, **data})
            assert response.status_code == 403, path

    assert await snapshot(scene.instance) == before
    assert scene.peer.received == []


async def test_a_moderator_cannot_act_on_another_groups_ids_through_their_own_group(
    scene: Scene,
) -> None:
    before = await snapshot(scene.instance)
    async with browser(scene.instance, "bo") as bo:
        token = await csrf(bo, "/groups/books/moderation")
        for path, data in posts(scene, group="books"):
            response = await bo.post(path, data={"csrf_token": token, **data})
            if path.endswith(("/blocks", "/relay")):
                continue  # these name no id of food: they act on books itself, checked below
            assert response.status_code == 404, path

    after = await snapshot(scene.instance)
    food_parts = [part for index, part in enumerate(before) if index not in (2, 3, 5)]
    assert [part for index, part in enumerate(after) if index not in (2, 3, 5)] == food_parts
    async with scene.instance.runtime.sessions() as session:
        food = await actors.find_actor(session, "food")
        assert food is not None
        assert [r.uri for r in await group_moderation.blocked_actors(session, food)] == [BOB]


async def test_every_moderation_form_refuses_a_missing_or_forged_csrf_token(scene: Scene) -> None:
    before = await snapshot(scene.instance)
    async with browser(scene.instance, "mo") as mo:
        await mo.get(
            "/groups/food/moderation"
        )  # the session holds a token the forger does not know
        for path, data in posts(scene):
            for forged in ({}, {"csrf_token": "forged"}):
                response = await mo.post(path, data={**data, **forged})
                assert response.status_code == 403, path

    assert await snapshot(scene.instance) == before


@pytest.mark.parametrize("path", ["/groups", "/groups/food/moderation"])
async def test_the_pages_have_one_h1_landmarks_and_labelled_controls(
    scene: Scene, path: str
) -> None:
    async with browser(scene.instance, "ana") as ana:
        response = await ana.get(path)

    assert response.status_code == 200
    page = Page(response.text)
    assert page.h1 == 1 and page.landmarks == {"header", "nav", "main", "footer"}
    assert page.unlabelled() == []
    if path.endswith("moderation"):
        assert {control.get("name") for control in page.controls} >= {"actor", "object"}
