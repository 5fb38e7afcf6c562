"""A member's own data: the export holds everything of hers and nothing of others'; deleting her
account tells the servers that know her, keeps what she posted as the group with the group and
nothing of her, retires her handle and makes her actor answer 410. On both databases."""

import json
from typing import Any

import pytest
from sqlalchemy import select

from federation import vocab
from federation.itemterms import Kind
from federation.places import Place
from federation.visibility import Visibility
from models import accounts, actors, commitments, posting
from models.actors import LocalActor, Role
from models.calls import Channel, CommitmentState
from models.items import Item
from models.member_sessions import start
from models.posting import Draft
from models.push import PushSubscription
from models.queue import Activity
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import MastodonPeer
from tests.web import PASSWORD, csrf, set_password, sign_in, signed_in_as

A = "http://127.0.0.1:8101"
NAME = "Rosalind Quillfeather"


async def rosalind(instance: Instance, role: Role = Role.MODERATOR) -> None:
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        assert food is not None
        member = await actors.create_member(session, "rosalind", None, NAME)
        member.summary = "Bikes and soup."
        await actors.join_group(session, food, member, role)


async def post(instance: Instance, author: str, draft: Draft) -> Item:
    async with instance.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        member = await actors.find_actor(session, author)
        assert food is not None and member is not None
        return await posting.create_item(
            session, instance.runtime.uris, food, member, draft, seal=instance.runtime.seal
        )


async def export_of(instance: Instance, username: str) -> dict[str, Any]:
    async with instance.runtime.sessions() as session:
        member = await actors.find_actor(session, username)
        assert member is not None
        return await accounts.export(
            session, instance.runtime.uris, member, seal=instance.runtime.seal
        )


async def delete(instance: Instance, username: str) -> accounts.Deleted:
    async with instance.runtime.sessions() as session, session.begin():
        member = await actors.find_actor(session, username)
        assert member is not None
        return await accounts.delete_account(session, instance.runtime.uris, member)


@pytest.fixture
async def world(net: Net) -> tuple[Instance, MastodonPeer]:
    return await net.instance(A), net.peer("http://127.0.0.1:8201")


async def test_the_export_holds_everything_of_hers_and_nothing_of_others(
    world: tuple[Instance, MastodonPeer],
) -> None:
    a, _ = world
    # Given Rosalind posted in her name and as the group, offered help, came to a call, signed in
    await rosalind(a)
    own = await post(a, "rosalind", Draft(Kind.ASK, "Bike pump", "A floor pump.", "goods"))
    call = await post(
        a,
        "rosalind",
        Draft(
            Kind.CALL,
            "Soup kitchen shift",
            as_group=True,
            starts_at=own.created_at.replace(year=2031),
            people_wanted=3,
            place=Place("Riverside"),
            meeting_point="behind the red door",
        ),
    )
    anas = await post(a, "ana", Draft(Kind.ASK, "Ana's secret ask", "Private to Ana.", "goods"))
    anas_call = await post(
        a,
        "ana",
        Draft(
            Kind.CALL,
            "Ana's call",
            starts_at=own.created_at.replace(year=2031),
            people_wanted=2,
            place=Place("Riverside"),
        ),
    )
    async with a.runtime.sessions() as session, session.begin():
        member = await actors.find_actor(session, "rosalind")
        ana = await actors.find_actor(session, "ana")
        found = await session.get(Item, anas.id)
        found_call = await session.get(Item, anas_call.id)
        assert member and ana and found and found_call
        await posting.respond(session, a.runtime.uris, found, member)
        await commitments.commit(
            session,
            a.runtime,
            found_call,
            commitments.Person.member(member),
            CommitmentState.COMING,
            Channel.WEB,
        )
        await start(session, member)
        await start(session, ana)
        session.add(
            PushSubscription(
                member_id=member.id,
                endpoint="https://push.example/send/secret-path",
                p256dh="key",
                auth="secret",
            )
        )

    # When she asks for her data
    data = await export_of(a, "rosalind")

    # Then it holds her profile, her role, both items (the sealed point opened), her answers
    assert data["profile"]["username"] == "rosalind"
    assert data["profile"]["name"] == NAME
    assert data["profile"]["summary"] == "Bikes and soup."
    assert data["memberships"] == [
        {
            "group": "food",
            "group_name": "Food Share",
            "role": "moderator",
            "since": data["memberships"][0]["since"],
        }
    ]
    by_title = {item["title"]: item for item in data["items"]}
    assert set(by_title) == {"Bike pump", "Soup kitchen shift"}
    assert by_title["Bike pump"]["body_markdown"] == "A floor pump."
    assert by_title["Soup kitchen shift"]["as_group"] is True
    assert by_title["Soup kitchen shift"]["meeting_point"] == "behind the red door"
    assert [r["item"] for r in data["responses"]] == [anas.uri]
    assert [(c["item"], c["state"]) for c in data["commitments"]] == [(anas_call.uri, "coming")]
    assert len(data["sessions"]) == 1 and set(data["sessions"][0]) == {
        "created_at",
        "last_seen_at",
    }
    assert [p["push_service"] for p in data["push_subscriptions"]] == ["push.example"]
    assert "secret-path" not in json.dumps(data)  # the browser's address is not in the file
    # And nothing of Ana's: not her profile, not her items' text, no token
    text = json.dumps(data)
    assert "Private to Ana" not in text and '"ana"' not in text
    assert "token" not in text
    assert call.uri in text


async def test_deleting_an_account_tells_her_followers_and_leaves_no_trace_of_her(
    world: tuple[Instance, MastodonPeer],
) -> None:
    a, peer = world
    # Given Rosalind, followed by a Mastodon user who also follows the group
    await rosalind(a)
    her_uri = f"{A}/actors/rosalind"
    await peer.send(f"{her_uri}/inbox", peer.follow(her_uri))
    await peer.send(f"{A}/actors/food/inbox", peer.follow(f"{A}/actors/food"))
    await settle(a)
    # And she posted one ask in her name and one offer as the group, which the peer received
    own = await post(a, "rosalind", Draft(Kind.ASK, "Bike pump", "A floor pump.", "goods"))
    kept = await post(
        a, "rosalind", Draft(Kind.OFFER, "Soup on Fridays", "Bring a pot.", "food", as_group=True)
    )
    await settle(a)
    assert any(vocab.id_of(r.get("object")) == own.uri for r in peer.received)
    peer.received.clear()

    # When she deletes her account
    done = await delete(a, "rosalind")
    await settle(a)

    # Then the peer received, signed by her, the Delete of her ask and the Delete of her actor
    assert (done.items_deleted, done.items_kept) == (1, 1)
    deletes = [r for r in peer.received if r["type"] == "Delete"]
    assert {vocab.id_of(r["object"]) for r in deletes} == {own.uri, her_uri}
    assert all(r["actor"] == her_uri for r in deletes)
    assert not peer.refused
    # And her ask is gone here; the group's offer stays, its author now the group itself
    async with a.runtime.sessions() as session:
        assert await session.get(Item, own.id) is None
        offer = await session.get(Item, kept.id)
        food = await actors.find_actor(session, "food")
        assert offer is not None and food is not None
        assert offer.author_id == food.id and offer.title == "Soup on Fridays"
        documents = list(
            await session.scalars(select(Activity.document).where(Activity.object_uri == kept.uri))
        )
        people = list(await session.scalars(select(LocalActor.name)))
    # And nothing about the offer, in its row or its documents, names her
    trace = json.dumps(documents) + repr(vars(offer))
    assert documents and "rosalind" not in trace.lower() and "Quillfeather" not in trace
    assert NAME not in people
    # And her actor and profile are gone for good; her handle cannot be taken again
    assert (await a.http.get(her_uri, headers={"Accept": vocab.ACTIVITY_JSON})).status_code == 410
    assert (await a.http.get("/@rosalind")).status_code == 410
    assert (await a.http.get(own.uri, headers={"Accept": vocab.ACTIVITY_JSON})).status_code == 410
    # And her inbox, which took the follow before, takes nothing now
    note = peer.note("<p>Still there?</p>", to=[her_uri])
    assert (await peer.send(f"{her_uri}/inbox", note)).status_code == 410
    async with a.runtime.sessions() as session, session.begin():
        with pytest.raises(actors.NameTaken):
            await actors.create_member(session, "rosalind")
        with pytest.raises(actors.NameTaken):
            await actors.create_group(session, "rosalind", "Rosalind's group")


async def test_the_last_admin_of_a_group_cannot_leave_until_someone_else_is_admin(
    world: tuple[Instance, MastodonPeer],
) -> None:
    a, _ = world
    # Given Ana is the only admin of the group
    await rosalind(a, Role.MEMBER)
    # When she tries to delete her account, then she is told why, and nothing changed
    with pytest.raises(accounts.LastAdmin, match="last admin of @food"):
        await delete(a, "ana")
    # When Rosalind becomes an admin too, Ana may leave
    async with a.runtime.sessions() as session, session.begin():
        food = await actors.find_actor(session, "food")
        member = await actors.find_actor(session, "rosalind")
        assert food is not None and member is not None
        await actors.join_group(session, food, member, Role.ADMIN)
    await delete(a, "ana")
    async with a.runtime.sessions() as session:
        assert (await actors.find_actor(session, "ana")) is not None  # the gone row, not her
        gone = await actors.find_actor(session, "ana")
        assert gone is not None and gone.type == "Tombstone" and gone.name == ""


async def test_a_members_only_item_is_removed_without_a_federated_delete(
    world: tuple[Instance, MastodonPeer],
) -> None:
    a, peer = world
    await rosalind(a)
    mine = await post(
        a, "rosalind", Draft(Kind.ASK, "Quiet ask", visibility=Visibility.MEMBERS, category="goods")
    )
    await delete(a, "rosalind")
    await settle(a)
    async with a.runtime.sessions() as session:
        assert await session.get(Item, mine.id) is None
    assert not any(vocab.id_of(r.get("object")) == mine.uri for r in peer.received)


async def test_from_her_settings_page_she_downloads_her_data_and_deletes_her_account(
    world: tuple[Instance, MastodonPeer],
) -> None:
    a, _ = world
    await rosalind(a)
    await set_password(a, "rosalind")
    http = a.http
    assert (await sign_in(http, "rosalind", PASSWORD)).status_code == 303
    # Her page offers the download, which is an attachment nobody caches
    assert "Download my data" in (await http.get("/my/account")).text
    download = await http.get("/my/account/export")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.headers["cache-control"] == "no-store"
    assert download.json()["profile"]["name"] == NAME
    # A wrong confirmation deletes nothing
    token = await csrf(http, "/my/account")
    refused = await http.post(
        "/my/account/delete", data={"csrf_token": token, "confirm_username": "ana"}
    )
    assert refused.status_code == 400 and "was not deleted" in refused.text
    # Her username deletes the account, and signs her out
    deleted = await http.post(
        "/my/account/delete", data={"csrf_token": token, "confirm_username": "rosalind"}
    )
    assert deleted.status_code == 303
    assert await signed_in_as(http) is None
    assert (await http.get("/actors/rosalind")).status_code == 410
    assert (await sign_in(http, "rosalind", PASSWORD)).status_code != 303
