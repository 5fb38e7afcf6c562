"""Quoting an ask from Mastodon 4.5: its QuoteRequest is answered with a signed Reject from the
item's author, over real signed HTTP, on both databases; requests for what is not ours are
ignored and answered with nothing."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from federation.itemterms import Kind
from federation.visibility import Visibility
from models import actors, posting
from models.items import Item
from models.posting import Draft
from models.queue import Incoming
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import AS, MastodonPeer

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
ANA = f"{BASE}/actors/ana"
INBOX = f"{BASE}/inbox"
FEP_044F = "https://w3id.org/fep/044f#QuoteRequest"


@dataclass
class World:
    instance: Instance
    alice: MastodonPeer

    async def post(self, draft: Draft) -> Item:
        async with self.instance.runtime.sessions() as session, session.begin():
            group = await actors.find_actor(session, "food")
            ana = await actors.find_actor(session, "ana")
            assert group is not None and ana is not None
            return await posting.create_item(
                session, self.instance.runtime.uris, group, ana, draft, confirm=True
            )

    async def run(self, activity: dict[str, Any]) -> tuple[str, str | None]:
        assert (await self.alice.send(INBOX, activity)).status_code == 202
        await settle(self.instance)
        async with self.instance.runtime.sessions() as session:
            row = (
                await session.execute(
                    select(Incoming.state, Incoming.last_error).where(
                        Incoming.activity_uri == activity["id"]
                    )
                )
            ).one()
        return row.state, row.last_error

    def rejects(self) -> list[dict[str, Any]]:
        return [a for a in self.alice.received if a["type"] == "Reject"]


@pytest.fixture
async def world(net: Net) -> World:
    return World(await net.instance(BASE), net.peer("http://127.0.0.1:8201"))


def quote_request(peer: MastodonPeer, quoted: str) -> dict[str, Any]:
    """What Mastodon 4.5 sends when a user quotes a post whose policy it cannot read as allowed:
    the quoting status is the instrument."""
    status = f"{peer.actor_uri}/statuses/115"
    return {
        "@context": [AS, {"QuoteRequest": FEP_044F}],
        "id": f"{peer.actor_uri}#quote_requests/{len(peer.received) + 1}",
        "type": "QuoteRequest",
        "actor": peer.actor_uri,
        "object": quoted,
        "instrument": {
            "id": status,
            "type": "Note",
            "attributedTo": peer.actor_uri,
            "content": "<p>look at this</p>",
            "quote": quoted,
        },
    }


ASK = Draft(Kind.ASK, "A fridge for a family of five", "Ours broke.", "goods")


async def test_a_quote_request_for_a_members_ask_is_rejected_by_her(world: World) -> None:
    item = await world.post(ASK)
    request = quote_request(world.alice, item.uri)

    state, _ = await world.run(request)

    assert state == "done"
    (reject,) = world.rejects()  # signed: the peer verified it before keeping it
    assert reject["actor"] == ANA  # the quoted post's author, as Mastodon checks
    assert reject["to"] == [world.alice.actor_uri]
    assert reject["object"] == {
        "id": request["id"],
        "type": "QuoteRequest",
        "actor": world.alice.actor_uri,
        "object": item.uri,
        "instrument": request["instrument"]["id"],
    }
    assert {"QuoteRequest": FEP_044F} in reject["@context"]
    assert world.alice.refused == []


async def test_a_quote_request_for_an_as_group_item_or_a_poll_is_rejected_by_the_group(
    world: World,
) -> None:
    starts = datetime(2030, 12, 5, 9, 0, tzinfo=UTC)
    call = await world.post(
        Draft(
            Kind.CALL,
            "Stop the eviction",
            "Bring a thermos.",
            "housing",
            as_group=True,
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            people_wanted=10,
        )
    )
    ask = await world.post(Draft(Kind.ASK, "Rice", "", "food", visibility=Visibility.FOLLOWERS))

    for quoted in (call.uri, call.poll_uri):
        assert (await world.run(quote_request(world.alice, quoted)))[0] == "done"
    ours = await world.post(Draft(Kind.OFFER, "Lentils", "", "food", as_group=True))
    assert (await world.run(quote_request(world.alice, ours.uri)))[0] == "done"
    assert (await world.run(quote_request(world.alice, ask.uri)))[0] == "done"

    rejects = world.rejects()
    assert [(r["actor"], r["object"]["object"]) for r in rejects] == [
        (GROUP, call.uri),
        (GROUP, call.poll_uri),
        (GROUP, ours.uri),
        (ANA, ask.uri),
    ]


@pytest.mark.parametrize(
    "quoted",
    [
        "http://127.0.0.1:8201/users/alice/statuses/1",  # somebody else's post
        GROUP,  # ours, but not an item
        f"{BASE}/items/0123456789abcdef",  # no such item
    ],
)
async def test_a_quote_request_for_something_not_ours_is_ignored(world: World, quoted: str) -> None:
    state, reason = await world.run(quote_request(world.alice, quoted))

    assert state == "ignored" and quoted in (reason or "")
    assert world.rejects() == []
