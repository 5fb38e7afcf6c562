"""Stored activities at their ids and in the outbox, each visible only to whom it may be."""

from collections.abc import AsyncIterator

import httpx
import pytest

from federation import keys, vocab
from federation.cavage import sign_cavage
from federation.keys import SigningKey, VerificationKey
from federation.visibility import Visibility
from models.remote import KeyStore
from tests.integration.delivery_setup import BASE_URL, Sender, start_sender

AS2 = {"Accept": "application/activity+json"}


@pytest.fixture
async def sender(database_url: str) -> AsyncIterator[Sender]:
    async with start_sender(database_url) as running:
        yield running


async def get(sender: Sender, url: str, signer: SigningKey | None = None) -> httpx.Response:
    headers = dict(AS2)
    if signer is not None:
        headers.update(sign_cavage("GET", url, signer))
    transport = httpx.ASGITransport(app=sender.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        return await http.get(url, headers=headers)


async def remote_signer(sender: Sender, actor_uri: str) -> SigningKey:
    """A remote actor whose key our resolver already knows (no fetch needed)."""
    private = keys.generate_private_key()
    key_id = f"{actor_uri}#main-key"
    await KeyStore(sender.runtime.sessions).save(
        VerificationKey(key_id, actor_uri, private.public_key())
    )
    return SigningKey(key_id, private)


async def test_a_public_activity_and_its_object_are_served_to_anyone_with_addressing(
    sender: Sender,
) -> None:
    activity = await sender.publish_note(Visibility.PUBLIC)
    served = await get(sender, activity["id"])
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/activity+json")
    document = served.json()
    assert document["to"] == [vocab.PUBLIC]
    assert document["cc"] == [f"{sender.runtime.uris.actor('food')}/followers"]
    note = (await get(sender, activity["object"]["id"])).json()
    assert note["id"] == activity["object"]["id"] and note["to"] == [vocab.PUBLIC]


async def test_followers_only_is_hidden_from_strangers_and_shown_to_followers(
    sender: Sender,
) -> None:
    follower = await sender.add_follower("127.0.0.2:9000", "ann")
    activity = await sender.publish_note(Visibility.FOLLOWERS)
    stranger = await remote_signer(sender, "http://127.0.0.9:9000/users/eve")
    assert (await get(sender, activity["id"])).status_code == 404
    assert (await get(sender, activity["object"]["id"])).status_code == 404
    assert (await get(sender, activity["id"], stranger)).status_code == 404
    key = await remote_signer(sender, follower)
    assert (await get(sender, activity["id"], key)).status_code == 200
    assert (await get(sender, activity["object"]["id"], key)).json()["to"] == [
        f"{sender.runtime.uris.actor('food')}/followers"
    ]


async def test_direct_is_shown_only_to_the_addressed_actor(sender: Sender) -> None:
    follower = await sender.add_follower("127.0.0.2:9000", "ann")
    bob = "http://127.0.0.3:9000/users/bob"
    activity = await sender.publish_note(Visibility.DIRECT, to_actors=[bob])
    assert (
        await get(sender, activity["id"], await remote_signer(sender, follower))
    ).status_code == 404
    assert (await get(sender, activity["id"], await remote_signer(sender, bob))).status_code == 200


async def test_members_only_is_never_served_outside(sender: Sender) -> None:
    follower = await sender.add_follower("127.0.0.2:9000", "ann")
    activity = await sender.publish_note(Visibility.MEMBERS)
    assert (await get(sender, activity["id"])).status_code == 404
    assert (
        await get(sender, activity["id"], await remote_signer(sender, follower))
    ).status_code == 404


async def test_a_forged_signature_gets_nothing(sender: Sender) -> None:
    follower = await sender.add_follower("127.0.0.2:9000", "ann")
    activity = await sender.publish_note(Visibility.FOLLOWERS)
    await remote_signer(sender, follower)
    forged = SigningKey(f"{follower}#main-key", keys.generate_private_key())
    assert (await get(sender, activity["id"], forged)).status_code == 404


async def test_the_outbox_lists_public_activities_newest_first_in_pages(sender: Sender) -> None:
    public = [await sender.publish_note(Visibility.PUBLIC) for _ in range(42)]
    await sender.publish_note(Visibility.FOLLOWERS)
    await sender.publish_note(Visibility.MEMBERS)
    outbox = sender.runtime.uris.outbox(sender.runtime.uris.actor("food"))
    collection = (await get(sender, outbox)).json()
    assert collection["totalItems"] == 42
    first = (await get(sender, collection["first"])).json()
    assert [a["id"] for a in first["orderedItems"]] == [a["id"] for a in reversed(public)][:40]
    second = (await get(sender, first["next"])).json()
    assert [a["id"] for a in second["orderedItems"]] == [public[1]["id"], public[0]["id"]]
    assert "next" not in second
