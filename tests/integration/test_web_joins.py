"""A member says she is coming to another server's call from the network board: a Join from her
(or, anonymously, from her group) to the call's group only, one per member per call, and an
Undo{Join} from the same actor when she takes it back."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from federation.itemterms import Kind, Status
from federation.places import Place
from models import actors, remote_actors
from models.calls import OutgoingJoin
from models.items import RemoteItem
from models.posting import Draft
from tests.instances import Instance, settle
from tests.integration.conftest import B, Net
from tests.integration.test_web_my_items import browser, posted
from tests.peers import MastodonPeer
from tests.web import PASSWORD, Page, set_password

SECRET = "Portal 3, Calle del Olivar 12"


async def remote_items(b: Instance, peer: MastodonPeer) -> tuple[RemoteItem, RemoteItem]:
    """A scheduled call and an ask posted by the peer, as B's board has them."""
    author = await remote_actors.remote_actor(b.runtime, peer.actor_uri)
    starts = datetime.now(UTC) + timedelta(days=2)
    rows = []
    async with b.runtime.sessions() as session, session.begin():
        for n, (kind, status, title) in enumerate(
            [(Kind.CALL, Status.SCHEDULED, "Stop the eviction"), (Kind.ASK, Status.OPEN, "Soup")]
        ):
            row = RemoteItem(
                uri=f"{peer.base_url}/items/{n}",
                remote_actor_id=author.id,
                kind=kind,
                title=title,
                status=status,
                visibility="public",
                starts_at=starts if kind == Kind.CALL else None,
                people_wanted=10 if kind == Kind.CALL else None,
                document={},
            )
            session.add(row)
            rows.append(row)
    return rows[0], rows[1]


async def press(http: httpx.AsyncClient, action: str, **fields: str) -> httpx.Response:
    token = Page((await http.get("/board")).text).csrf or ""
    return await http.post(action, data={"csrf_token": token, **fields})


async def joins_of(b: Instance) -> list[OutgoingJoin]:
    async with b.runtime.sessions() as session:
        return list(await session.scalars(select(OutgoingJoin)))


async def test_a_member_joins_another_servers_call_as_herself_or_through_her_group(
    net: Net,
) -> None:
    peer = net.peer("http://127.0.0.1:8201")
    b = await net.instance(B)
    await set_password(b, "ana")
    call, ask = await remote_items(b, peer)
    async with b.runtime.sessions() as session, session.begin():
        await actors.create_member(session, "olga", PASSWORD, "Olga")  # in no group
    await posted(
        b,
        Draft(
            Kind.CALL,
            "Our own call",
            place=Place("Centro"),
            people_wanted=3,
            meeting_point=SECRET,
            starts_at=datetime.now(UTC) + timedelta(days=1),
        ),
        author="ana",
    )

    async with browser(b, "olga") as olga:
        outsider_board = (await olga.get("/board")).text
        refused = await press(olga, f"/board/calls/{call.id}/join", **{"as": "me"})
    async with browser(b, "ana") as ana:
        board = (await ana.get("/board")).text
        as_me = await press(ana, f"/board/calls/{call.id}/join", **{"as": "me"})
        again = await press(ana, f"/board/calls/{call.id}/join", **{"as": "me"})
        not_a_call = await press(ana, f"/board/calls/{ask.id}/join", **{"as": "me"})
        after = (await ana.get("/board")).text
        await settle(b)
        sent_as_me = list(peer.received)
        peer.received.clear()
        await press(ana, f"/board/calls/{call.id}/leave")
        await settle(b)
        undone_as_me = list(peer.received)
        peer.received.clear()
        anonymous = await press(ana, f"/board/calls/{call.id}/join", **{"as": "food"})
        await settle(b)
        sent_as_group = list(peer.received)
        peer.received.clear()
        rows = await joins_of(b)
        await press(ana, f"/board/calls/{call.id}/leave")
        await settle(b)
        undone_as_group = list(peer.received)

    ana_uri, food_uri = b.runtime.uris.actor("ana"), b.runtime.uris.actor("food")
    # The button: on the scheduled remote call only, and only for members of a group here.
    assert f"/board/calls/{call.id}/join" in board and f"/board/calls/{ask.id}/join" not in board
    assert "Anonymously, through Food Share" in board and Page(board).unlabelled() == []
    assert "/join" not in outsider_board and refused.status_code == 403
    assert SECRET not in board and "Our own call" in board
    assert as_me.status_code == 303 and again.status_code == 303
    assert not_a_call.status_code == 404
    assert "You said you are coming." in after and f"/board/calls/{call.id}/leave" in after
    # One Join, from her, to the call's author alone (the call names no group), never public.
    [join] = sent_as_me
    assert (join["type"], join["actor"], join["object"]) == ("Join", ana_uri, call.uri)
    assert join["to"] == [peer.actor_uri] and not join.get("cc")
    [undo] = undone_as_me
    assert (undo["type"], undo["actor"], undo["object"]["id"]) == ("Undo", ana_uri, join["id"])
    # Anonymously: from her group, and still one row for her and this call.
    assert anonymous.status_code == 303
    [group_join] = sent_as_group
    assert (group_join["type"], group_join["actor"]) == ("Join", food_uri)
    assert "ana" not in str(group_join)
    assert len(rows) == 1 and rows[0].anonymous and rows[0].state == "pending"
    assert rows[0].join_uri == group_join["id"]
    [group_undo] = undone_as_group
    assert (group_undo["actor"], group_undo["object"]["id"]) == (food_uri, group_join["id"])
    assert [r.state for r in await joins_of(b)] == ["withdrawn"]
    async with b.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutgoingJoin)) == 1
