"""Events from Mobilizon, Gancio and Gathio accounts a group follows reach the network board as
calls, and GoToSocial's signatures, over real signed HTTP on both databases. Fixtures follow
each server's code: Mobilizon's lib/federation/activity_stream/converter/event.ex and
address.ex (Place with a PostalAddress, `joinMode`, `ical:status`, `category`,
`maximumAttendeeCapacity`, `anonymousParticipationEnabled`), Gancio's Event (a Place whose
`address` is a string), Gathio's FEDERATION.md (the Event sent to each follower directly),
GoToSocial's go-fed httpsig (`algorithm="hs2019"`, no `(created)`)."""

from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import select

from federation import cavage, keys, vocab
from inbox import worker
from models import actors, joins, remote_actors
from models.conversations import Conversation
from models.follows import Direction, Follow, FollowState
from models.items import RemoteItem
from tests.instances import Instance
from tests.integration.conftest import Net
from tests.peers import MastodonPeer
from tests.shaped_peers import shaped

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
INBOX = f"{BASE}/inbox"


async def followed(instance: Instance, peer: MastodonPeer) -> None:
    """The group follows the peer's account, and the peer accepted."""
    remote = await remote_actors.remote_actor(instance.runtime, peer.actor_uri)
    async with instance.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        session.add(
            Follow(
                direction=Direction.OUTBOUND,
                state=FollowState.ACCEPTED,
                local_actor_id=group.id,
                remote_actor_id=remote.id,
                activity_uri=f"{BASE}/activities/{uuid4().hex}",
            )
        )


async def board(instance: Instance) -> list[RemoteItem]:
    async with instance.runtime.sessions() as session:
        return list(await session.scalars(select(RemoteItem).order_by(RemoteItem.id)))


async def deliver(instance: Instance, peer: MastodonPeer, activity: dict[str, Any]) -> None:
    assert (await peer.send(INBOX, activity)).status_code == 202
    assert await worker.run_once(instance.runtime) == 1


def create(peer: MastodonPeer, event: dict[str, Any], to: list[str]) -> dict[str, Any]:
    return {
        "@context": event.pop("@context"),
        "id": f"{event['id']}/activity",
        "type": "Create",
        "actor": peer.actor_uri,
        "to": to,
        "cc": event.get("cc", []),
        "object": event,
    }


def mobilizon_event(peer: MastodonPeer, join_mode: str = "restricted") -> dict[str, Any]:
    uri = f"{peer.base_url}/events/{uuid4()}"
    return {
        "@context": [
            vocab.AS_CONTEXT,
            "https://litepub.social/litepub/context.jsonld",
            {
                "mz": "https://joinmobilizon.org/ns#",
                "sc": "http://schema.org#",
                "ical": "http://www.w3.org/2002/12/cal/ical#",
                "joinMode": {"@id": "mz:joinMode", "@type": "mz:joinModeType"},
                "anonymousParticipationEnabled": {"@id": "mz:anonymousParticipationEnabled"},
                "maximumAttendeeCapacity": "sc:maximumAttendeeCapacity",
                "participantCount": {"@id": "mz:participantCount", "@type": "sc:Number"},
                "category": "sc:category",
                "address": {"@id": "sc:address", "@type": "sc:address"},
                "PostalAddress": "sc:PostalAddress",
            },
        ],
        "type": "Event",
        "to": [vocab.PUBLIC],
        "cc": [],
        "attributedTo": peer.actor_uri,
        "actor": peer.actor_uri,
        "name": "Repair café",
        "uuid": uri.rsplit("/", 1)[1],
        "category": "WORKSHOP",
        "content": "<p>Bring what is broken.</p>",
        "published": "2026-11-20T09:00:00Z",
        "updated": "2026-11-20T09:00:00Z",
        "mediaType": "text/html",
        "startTime": "2026-12-12T15:00:00+01:00",
        "endTime": "2026-12-12T18:00:00+01:00",
        "joinMode": join_mode,
        "tag": [],
        "maximumAttendeeCapacity": 20,
        "repliesModerationOption": "allow_all",
        "commentsEnabled": True,
        "anonymousParticipationEnabled": True,
        "participantCount": 3,
        "attachment": [],
        "ical:status": "CONFIRMED",
        "id": uri,
        "url": uri,
        "location": {
            "type": "Place",
            "name": "Centre social",
            "id": f"{peer.base_url}/address/{uuid4()}",
            "address": {
                "type": "PostalAddress",
                "streetAddress": "10 Rue des Lilas",
                "postalCode": "69001",
                "addressLocality": "Lyon",
                "addressRegion": "Auvergne-Rhône-Alpes",
                "addressCountry": "France",
            },
            "latitude": 45.767123,
            "longitude": 4.834321,
        },
    }


@pytest.fixture
async def instance(net: Net) -> Instance:
    return await net.instance(BASE)


async def test_a_mobilizon_event_is_a_call_with_a_coarse_place_and_its_join_mode(
    net: Net, instance: Instance
) -> None:
    peer = net.peer("http://127.0.0.1:8204", "tenants", "Group", kind=shaped("/@"))
    await followed(instance, peer)
    event = mobilizon_event(peer)
    await deliver(instance, peer, create(peer, event, [vocab.PUBLIC]))

    (call,) = await board(instance)
    assert (call.kind, call.title, call.status) == ("call", "Repair café", "scheduled")
    assert call.starts_at is not None and call.starts_at.isoformat() == "2026-12-12T14:00:00+00:00"
    assert (call.people_wanted, call.people_coming) == (20, 3)
    assert call.place_name == "Centre social"
    # coarse: not the five-decimal point Mobilizon sent, and never the street
    assert call.latitude is not None and round(call.latitude, 5) != 45.76712
    assert "Lilas" not in str(call.__dict__.get("place_name"))
    assert joins.joinable(call)  # restricted: the organisers accept each Join

    invite_only = mobilizon_event(peer, "invite")
    await deliver(instance, peer, create(peer, invite_only, [vocab.PUBLIC]))
    assert [joins.joinable(c) for c in await board(instance)] == [True, False]


async def test_a_gancio_event_is_a_call(net: Net, instance: Instance) -> None:
    peer = net.peer("http://127.0.0.1:8205", "gancio", "Application", kind=shaped("/federation/u"))
    await followed(instance, peer)
    uri = f"{peer.base_url}/federation/m/42"
    event = {
        "@context": [vocab.AS_CONTEXT, vocab.SECURITY_CONTEXT],
        "id": uri,
        "url": f"{peer.base_url}/event/community-dinner",
        "type": "Event",
        "name": "Community dinner",
        "summary": "Saturday 12 December 19:00, Casa del Popolo",
        "content": "<p>Everyone welcome.</p>",
        "startTime": "2026-12-12T19:00:00+01:00",
        "endTime": "2026-12-12T22:00:00+01:00",
        "location": {
            "type": "Place",
            "name": "Casa del Popolo",
            "address": "Via Roma 1, Torino",
            "latitude": 45.07,
            "longitude": 7.68,
        },
        "attachment": [],
        "tag": [{"type": "Hashtag", "name": "#food", "href": f"{peer.base_url}/tag/food"}],
        "published": "2026-11-20T09:00:00.000Z",
        "attributedTo": peer.actor_uri,
        "to": [vocab.PUBLIC],
        "cc": [f"{peer.actor_uri}/followers"],
    }
    await deliver(instance, peer, create(peer, event, [vocab.PUBLIC]))
    (call,) = await board(instance)
    assert (call.kind, call.title, call.place_name) == (
        "call",
        "Community dinner",
        "Casa del Popolo",
    )


async def test_gathio_sends_its_event_directly_and_it_is_a_call_not_a_message(
    net: Net, instance: Instance
) -> None:
    peer = net.peer("http://127.0.0.1:8206", "c3lmB9kN2", kind=shaped(""))
    await followed(instance, peer)
    event = {
        "@context": [vocab.AS_CONTEXT],
        "id": f"{peer.base_url}/c3lmB9kN2/m/event",
        "name": "Tenants' assembly",
        "type": "Event",
        "startTime": "2026-12-14T18:30:00.000Z",
        "endTime": "2026-12-14T20:30:00.000Z",
        "content": "<p>Agenda: repairs.</p>",
        "location": "Library hall",
        "attributedTo": peer.actor_uri,
        "to": [GROUP],
    }
    await deliver(instance, peer, create(peer, event, [GROUP]))
    (call,) = await board(instance)
    assert (call.kind, call.place_name) == ("call", "Library hall")
    async with instance.runtime.sessions() as session:
        assert list(await session.scalars(select(Conversation))) == []


async def test_an_event_without_a_start_is_not_a_call(net: Net, instance: Instance) -> None:
    peer = net.peer("http://127.0.0.1:8204", "tenants", "Group", kind=shaped("/@"))
    await followed(instance, peer)
    event = mobilizon_event(peer)
    del event["startTime"]
    await deliver(instance, peer, create(peer, event, [vocab.PUBLIC]))
    assert await board(instance) == []


async def test_gotosocial_hs2019_without_created_and_its_signed_get(net: Net) -> None:
    instance = await net.instance(BASE, authorized_fetch=True)
    peer = net.peer("http://127.0.0.1:8207", "gts_user")
    # A DM signed as go-fed httpsig signs it: algorithm="hs2019", no (created) or (expires)
    dm = peer.note("<p>hello</p>", to=[GROUP], mention=GROUP)
    body, headers = peer.signed(INBOX, dm)
    headers["Signature"] = headers["Signature"].replace(
        'algorithm="rsa-sha256"', 'algorithm="hs2019"'
    )
    assert "(created)" not in headers["Signature"] and 'algorithm="hs2019"' in headers["Signature"]
    assert (await peer.http.post(INBOX, content=body, headers=headers)).status_code == 202
    assert await worker.run_once(instance.runtime) == 1
    async with instance.runtime.sessions() as session:
        assert len(list(await session.scalars(select(Conversation)))) == 1
    # GoToSocial signs every GET; with authorized fetch on, a signed GET gets the group
    signed = cavage.sign_cavage("GET", GROUP, keys.SigningKey(peer.key_id, peer.private_key))
    signed["Signature"] = signed["Signature"].replace(
        'algorithm="rsa-sha256"', 'algorithm="hs2019"'
    )
    got = await peer.http.get(GROUP, headers={**signed, "Accept": vocab.ACTIVITY_JSON})
    assert got.status_code == 200 and got.json()["id"] == GROUP
    unsigned = await peer.http.get(
        f"{BASE}/actors/food/outbox", headers={"Accept": vocab.ACTIVITY_JSON}
    )
    assert unsigned.status_code == 401


async def test_a_mobilizon_join_with_its_participation_message_is_answered(
    net: Net, instance: Instance
) -> None:
    from tests.calls import post_call
    from tests.instances import settle

    item = await post_call(instance)
    peer = net.peer("http://127.0.0.1:8204", "camille", kind=shaped("/@"))
    # lib/federation/activity_stream/converter/participant.ex: the participant's url as id
    join = {
        "@context": [vocab.AS_CONTEXT, {"mz": "https://joinmobilizon.org/ns#"}],
        "type": "Join",
        "id": f"{peer.base_url}/join/event/{uuid4()}",
        "actor": peer.actor_uri,
        "object": item.uri,
        "participationMessage": "I can bring a van",
        "to": [GROUP],
    }
    assert (await peer.send(INBOX, join)).status_code == 202
    await settle(instance)
    (accept,) = [a for a in peer.received if a["type"] == "Accept"]
    assert accept["actor"] == GROUP and accept["object"]["id"] == join["id"]
