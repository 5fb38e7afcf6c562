"""Direct messages to a group about none of its items, over real signed HTTP, on both databases:
a Mastodon DM without `inReplyTo`, a Lemmy 0.19 `ChatMessage`, a Lemmy 0.20 private `Note`, a
Pleroma `ChatMessage`. Each becomes the group's conversation with its sender, which the group's
moderators read and answer on its pages, in the shape the sender's software takes; the text
never reaches an alert, a log line or a public page. Fixtures are built from each server's code
(Lemmy: crates/apub/objects/src/protocol/private_message.rs and its create_or_update activity;
Pleroma: ChatMessageValidator and CreateChatMessageValidator)."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import select

from federation import vocab
from inbox import worker
from models import actors, alerts, retention
from models.base import utcnow
from models.content import RemoteObject
from models.conversations import Conversation
from models.queue import Activity, Alert
from outbox.worker import DeliveryWorker
from tests.instances import Instance
from tests.integration.conftest import Net
from tests.peers import MastodonPeer
from tests.shaped_peers import shaped
from tests.web import PASSWORD, Page, set_password, sign_in

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
INBOX = f"{BASE}/inbox"
SECRET = "my landlord changed the locks 7781"


@dataclass
class World:
    instance: Instance
    mastodon: MastodonPeer
    lemmy: MastodonPeer
    pleroma: MastodonPeer


@pytest.fixture
async def world(net: Net) -> World:
    instance = await net.instance(BASE)
    await set_password(instance)  # ana, the group's admin
    return World(
        instance,
        net.peer("http://127.0.0.1:8201"),
        net.peer("http://127.0.0.1:8202", "nutomic", kind=shaped("/u")),
        net.peer("http://127.0.0.1:8203", "lanodan"),
    )


def lemmy_message(
    peer: MastodonPeer, text: str, kind: str = "ChatMessage", to: str = GROUP
) -> dict[str, Any]:
    """Lemmy's Create of a private message: `to` one person in both, `mediaType`, `source`
    (a ChatMessage before 0.20, a Note since)."""
    return {
        "@context": ["https://join-lemmy.org/context.json", vocab.AS_CONTEXT],
        "id": f"{peer.base_url}/activities/create/{uuid4()}",
        "actor": peer.actor_uri,
        "to": [to],
        "object": {
            "type": kind,
            "id": f"{peer.base_url}/private_message/{uuid4().int % 10_000}",
            "attributedTo": peer.actor_uri,
            "to": [to],
            "content": f"<p>{text}</p>\n",
            "mediaType": "text/html",
            "source": {"content": text, "mediaType": "text/markdown"},
            "published": "2026-06-30T00:43:19.518259Z",
        },
        "type": "Create",
    }


def pleroma_chat(peer: MastodonPeer, text: str) -> dict[str, Any]:
    """Pleroma's Create{ChatMessage}: one recipient, the same `to` on both, `actor` and
    `attributedTo` on the object, `published`, `emoji`."""
    object_id = f"{peer.base_url}/objects/{uuid4()}"
    return {
        "@context": [
            vocab.AS_CONTEXT,
            f"{peer.base_url}/schemas/litepub-0.1.jsonld",
            {"@language": "und"},
        ],
        "actor": peer.actor_uri,
        "id": f"{peer.base_url}/activities/{uuid4()}",
        "object": {
            "actor": peer.actor_uri,
            "attributedTo": peer.actor_uri,
            "content": text,
            "emoji": {},
            "id": object_id,
            "published": "2026-11-23T10:00:00.000000Z",
            "to": [GROUP],
            "type": "ChatMessage",
        },
        "published": "2026-11-23T10:00:00.000000Z",
        "to": [GROUP],
        "type": "Create",
    }


async def deliver(world: World, peer: MastodonPeer, activity: dict[str, Any]) -> None:
    assert (await peer.send(INBOX, activity)).status_code == 202
    assert await worker.run_once(world.instance.runtime) == 1


async def conversations(world: World) -> list[Conversation]:
    async with world.instance.runtime.sessions() as session:
        return list(await session.scalars(select(Conversation).order_by(Conversation.id)))


async def browser(instance: Instance) -> httpx.AsyncClient:
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=instance.app), base_url=instance.settings.base_url
    )
    assert (await sign_in(http, "ana", PASSWORD)).status_code == 303
    return http


async def answer(http: httpx.AsyncClient, conversation: Conversation, text: str) -> None:
    path = f"/groups/food/conversations/{conversation.id}"
    page = await http.get(path)
    assert page.status_code == 200
    token = Page(page.text).csrf
    sent = await http.post(path, data={"csrf_token": token, "text": text})
    assert sent.status_code == 303, sent.text


async def test_a_mastodon_dm_about_nothing_is_read_and_answered_with_a_mention(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    peer, instance = world.mastodon, world.instance
    # Given a Mastodon DM to the group alone, replying to nothing
    dm = peer.note(f"<p>Hello, {SECRET}</p>", to=[GROUP], mention=GROUP)
    await deliver(world, peer, dm)

    # Then it is the group's conversation with the sender, unread, and the moderators are told
    (conversation,) = await conversations(world)
    assert conversation.answer_type == "Note" and conversation.read_at is None
    async with instance.runtime.sessions() as session:
        told = list(await session.scalars(select(Alert).where(Alert.kind == "message")))
        ana = await actors.find_actor(session, "ana")
        assert ana is not None
        messages = [
            await alerts.compose(session, instance.runtime.settings, alert, ana) for alert in told
        ]
    assert len(told) == 1 and messages[0] is not None
    said = messages[0]
    assert said.subject == "A new message for Food Share"
    assert said.push["url"] == f"{BASE}/groups/food/conversations"
    everything = " ".join([said.subject, *map(str, said.paragraphs), *said.push.values()])
    assert SECRET not in everything and "Alice" not in everything

    http = await browser(instance)
    try:
        # And the navigation counts it; the notifications page leads to it
        notes = await http.get("/notifications")
        assert "/groups/food/conversations" in notes.text
        listing = await http.get("/groups/food/conversations")
        assert listing.status_code == 200 and "Alice" in listing.text
        assert "/groups/food/conversations" in (await http.get("/groups/food/moderation")).text

        # When ana reads it and answers
        page = await http.get(f"/groups/food/conversations/{conversation.id}")
        assert SECRET in page.text
        await answer(http, conversation, "We can help: come **Tuesday**.")
        page = await http.get(f"/groups/food/conversations/{conversation.id}")
        assert page.text.index(SECRET) < page.text.index("<strong>Tuesday</strong>")
        # Public pages never show it
        for path in ("/@food", "/actors/food/outbox", "/"):
            assert SECRET not in (await http.get(path)).text
    finally:
        await http.aclose()

    # Then the peer gets a direct Note from the group, mentioning it, in reply to its DM
    await DeliveryWorker(instance.runtime).run_once()
    assert peer.refused == []
    (create,) = [a for a in peer.received if a["type"] == "Create"]
    note = create["object"]
    assert create["actor"] == GROUP and create["to"] == [peer.actor_uri] and create["cc"] == []
    assert note["type"] == "Note" and note["inReplyTo"] == dm["object"]["id"]
    assert note["tag"] == [
        {"type": "Mention", "href": peer.actor_uri, "name": "@alice@127.0.0.1:8201"}
    ]
    assert "Ana" not in str(note)  # from the group, not from the member who wrote it
    # A second message from the same person joins the same conversation, and is unread again
    await deliver(world, peer, peer.note("<p>Thanks!</p>", to=[GROUP], mention=GROUP))
    (again,) = await conversations(world)
    assert again.id == conversation.id and again.read_at is not None
    assert again.read_at < again.last_received_at
    assert SECRET not in caplog.text


async def test_a_private_message_to_the_group_and_someone_else_is_a_conversation_too(
    world: World,
) -> None:
    peer, other = world.mastodon, "http://127.0.0.1:8209/users/bob"
    dm = peer.note(f"<p>{SECRET}</p>", to=[GROUP, other], mention=GROUP)
    await deliver(world, peer, dm)
    assert len(await conversations(world)) == 1
    async with world.instance.runtime.sessions() as session:
        stored = await session.scalar(select(RemoteObject))
    assert stored is not None and stored.kind == "private" and SECRET in stored.content_html

    # while a followers-only post that mentions the group is no private message
    post = peer.note("<p>For my followers</p>", to=[f"{peer.actor_uri}/followers"], cc=[GROUP])
    await deliver(world, peer, post)
    assert len(await conversations(world)) == 1


@pytest.mark.parametrize("kind", ["ChatMessage", "Note"])
async def test_a_lemmy_private_message_is_a_conversation_answered_as_lemmy_takes_it(
    world: World, kind: str
) -> None:
    peer = world.lemmy
    await deliver(world, peer, lemmy_message(peer, SECRET, kind))
    (conversation,) = await conversations(world)
    assert conversation.answer_type == kind

    http = await browser(world.instance)
    try:
        page = await http.get(f"/groups/food/conversations/{conversation.id}")
        assert SECRET in page.text
        await answer(http, conversation, "Hi *there*")
    finally:
        await http.aclose()

    await DeliveryWorker(world.instance.runtime).run_once()
    assert peer.refused == []
    (create,) = [a for a in peer.received if a["type"] == "Create"]
    sent = create["object"]
    # What Lemmy's CreateOrUpdatePrivateMessage checks: one `to`, the same on the object, the
    # actor is the object's author, on the object's host
    assert create["to"] == [peer.actor_uri] and sent["to"] == [peer.actor_uri]
    assert create["actor"] == sent["attributedTo"] == GROUP
    assert sent["type"] == kind and vocab.same_origin(sent["id"], GROUP)
    assert sent["content"] == "<p>Hi <em>there</em></p>"
    if kind == "ChatMessage":
        assert sent["mediaType"] == "text/html"
        assert sent["source"] == {"content": "Hi *there*", "mediaType": "text/markdown"}


async def test_a_lemmy_message_to_the_groups_service_is_answered_by_the_service(
    world: World,
) -> None:
    """Lemmy takes private messages only from a Person, Service or Organization: someone who
    wrote to the group's companion Service is answered by it, signed under its own key id."""
    peer, service = world.lemmy, f"{GROUP}/service"
    await deliver(world, peer, lemmy_message(peer, SECRET, "Note", to=service))
    (conversation,) = await conversations(world)
    http = await browser(world.instance)
    try:
        await answer(http, conversation, "We will call you")
    finally:
        await http.aclose()

    await DeliveryWorker(world.instance.runtime).run_once()
    # the peer checks, as Mastodon and Lemmy do, that the key's owner is the activity's actor
    assert peer.refused == []
    (create,) = [a for a in peer.received if a["type"] == "Create"]
    assert create["actor"] == create["object"]["attributedTo"] == service
    assert create["to"] == create["object"]["to"] == [peer.actor_uri]
    service_document = (
        await world.instance.http.get(service, headers={"Accept": vocab.ACTIVITY_JSON})
    ).json()
    assert service_document["type"] == "Service"
    assert service_document["publicKey"]["id"] == f"{service}#main-key"


async def test_a_pleroma_chat_message_is_answered_by_a_chat_message(world: World) -> None:
    peer = world.pleroma
    await deliver(world, peer, pleroma_chat(peer, SECRET))
    (conversation,) = await conversations(world)
    assert conversation.answer_type == "ChatMessage"

    http = await browser(world.instance)
    try:
        await answer(http, conversation, "Of course.")
    finally:
        await http.aclose()
    await DeliveryWorker(world.instance.runtime).run_once()
    (create,) = [a for a in peer.received if a["type"] == "Create"]
    chat = create["object"]
    # Pleroma's validators: one recipient, the activity's `to` equal to the object's, the
    # activity's actor the object's, `published` and `content` present
    assert chat["type"] == "ChatMessage" and chat["to"] == [peer.actor_uri]
    assert set(create["to"]) == set(chat["to"]) and create["actor"] == chat["attributedTo"]
    assert chat["published"] and chat["content"] == "<p>Of course.</p>"


async def test_a_dm_about_an_item_stays_its_response_and_no_conversation(world: World) -> None:
    from tests.calls import post_call

    item = await post_call(world.instance)
    peer = world.mastodon
    dm = peer.note(f"<p>About {item.uri}</p>", to=[GROUP], mention=GROUP)
    await deliver(world, peer, dm)
    assert await conversations(world) == []


async def test_an_outsider_cannot_read_a_conversation(world: World) -> None:
    await deliver(world, world.mastodon, world.mastodon.note(SECRET, to=[GROUP], mention=GROUP))
    (conversation,) = await conversations(world)
    async with world.instance.runtime.sessions() as session, session.begin():
        await actors.create_member(session, "ben", None, "Ben")
    await set_password(world.instance, "ben")
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.instance.app),
        base_url=world.instance.settings.base_url,
    )
    try:
        assert (await sign_in(http, "ben", PASSWORD)).status_code == 303
        page = await http.get(f"/groups/food/conversations/{conversation.id}")
        assert page.status_code == 403 and SECRET not in page.text
        assert (await http.post(f"/groups/food/conversations/{conversation.id}")).status_code == 403
    finally:
        await http.aclose()


async def test_a_read_conversation_is_forgotten_after_the_groups_retention(world: World) -> None:
    peer, runtime = world.mastodon, world.instance.runtime
    await deliver(world, peer, peer.note(SECRET, to=[GROUP], mention=GROUP))
    (conversation,) = await conversations(world)
    later = utcnow() + timedelta(days=31)
    # Unread, it waits for the moderators
    async with runtime.sessions() as session, session.begin():
        assert await retention.forget_due(session, runtime, later) == []
    http = await browser(world.instance)
    try:
        await answer(http, conversation, "Answered.")
    finally:
        await http.aclose()
    async with runtime.sessions() as session, session.begin():
        lines = await retention.forget_due(session, runtime, later)
    assert lines == [f"deleted conversation {conversation.id} (group {conversation.group_id})"]
    assert await conversations(world) == []
    async with runtime.sessions() as session:
        assert list(await session.scalars(select(RemoteObject))) == []
        answers = list(
            await session.scalars(select(Activity).where(Activity.type.in_(["Create", "Delete"])))
        )
    (create,) = [a for a in answers if a.type == "Create"]
    assert "Answered" not in str(create.document)  # a stub: the text is gone
    # and the person is asked to delete our answer
    await DeliveryWorker(runtime).run_once()
    deletes = [a for a in peer.received if a["type"] == "Delete"]
    assert [d["object"]["id"] for d in deletes] == [create.document["object"]]
