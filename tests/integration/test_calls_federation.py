"""Two Ayni instances over real signed HTTP, on both databases: members of group B come to
group A's call (one as herself, one anonymously through her group), A counts them and answers,
B records the answers and tells each member where to meet; a full call refuses; and an allied
group's request to relay a call is honoured only between groups that follow each other."""

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from models import actors, joins, messages, remote_actors
from models.actors import LocalActor, Role
from models.calls import Commitment, OutgoingJoin
from models.following import follow
from models.items import Item, RemoteItem
from models.moderation import Relay
from models.notices import Notice, NoticeKind
from tests.calls import post_call
from tests.instances import Instance
from tests.instances import settle as settle_instances
from tests.integration.conftest import A, B, Net

GROUP_A, GROUP_B = f"{A}/actors/food", f"{B}/actors/food"


@dataclass
class World:
    a: Instance
    b: Instance

    async def settle(self) -> None:
        await settle_instances(self.a, self.b)

    async def follows(self, follower: Instance, followed: str) -> None:
        remote = await remote_actors.remote_actor(follower.runtime, followed)
        async with follower.runtime.sessions() as session, session.begin():
            group = await actors.find_actor(session, "food")
            assert group is not None
            await follow(session, follower.runtime.uris, group, remote)
        await self.settle()

    async def call(self, **changes: Any) -> Item:
        item = await post_call(self.a, **changes)
        await self.settle()
        return item


@pytest.fixture
async def world(net: Net) -> World:
    return World(await net.instance(A), await net.instance(B))


async def member(instance: Instance, name: str) -> LocalActor:
    async with instance.runtime.sessions() as session, session.begin():
        found = await actors.find_actor(session, name)
        if found is None:
            group = await actors.find_actor(session, "food")
            found = await actors.create_member(session, name, None, name.title())
            assert group is not None
            await actors.join_group(session, group, found, Role.MEMBER)
        return found


async def join(b: Instance, item: Item, who: LocalActor, *, anonymous: bool = False) -> str:
    """B's "I'm coming": a Join as the member or, anonymous, as her group."""
    async with b.runtime.sessions() as session, session.begin():
        remote_item = await session.scalar(select(RemoteItem).where(RemoteItem.uri == item.uri))
        group = await actors.find_actor(session, "food")
        assert remote_item is not None and group is not None
        row = await joins.join_remote_call(
            session, b.runtime, who, remote_item, group=group if anonymous else None
        )
        return row.join_uri


async def test_members_of_another_ayni_group_come_and_hear_where_to_meet(world: World) -> None:
    a, b = world.a, world.b
    await world.follows(b, GROUP_A)
    item = await world.call(capacity=2)
    ana, rosa, luz = [await member(b, name) for name in ("ana", "rosa_q", "luz_m")]
    named = await join(b, item, ana)
    anonymous = await join(b, item, rosa, anonymous=True)
    await world.settle()
    # A counts them: Ana as herself, Rosa as one person group B speaks for
    async with a.runtime.sessions() as session:
        counted = list(await session.execute(select(Commitment.person, Commitment.state)))
    assert sorted(counted) == sorted([(f"{B}/actors/ana", "coming"), (anonymous, "coming")])
    # The call is full now: Luz's Join is refused
    refused = await join(b, item, luz)
    await world.settle()
    async with b.runtime.sessions() as session:
        states = {j.join_uri: j.state for j in await session.scalars(select(OutgoingJoin))}
        notices = list(await session.scalars(select(Notice).order_by(Notice.member_id)))
        remote_item = await session.scalar(select(RemoteItem).where(RemoteItem.uri == item.uri))
    assert states == {named: "accepted", anonymous: "accepted", refused: "rejected"}
    # Each who came is told where to meet (by a link, in a DM B keeps); Luz is not.
    assert remote_item is not None
    assert sorted((n.member_id, n.kind, n.remote_item_id) for n in notices) == sorted(
        [
            (ana.id, NoticeKind.MEETING_POINT, remote_item.id),
            (rosa.id, NoticeKind.MEETING_POINT, remote_item.id),
        ]
    )
    assert all(n.remote_object_id is not None for n in notices)


async def test_an_allied_group_relays_a_call_only_when_the_groups_follow_each_other(
    world: World,
) -> None:
    a, b = world.a, world.b
    await world.follows(b, GROUP_A)
    item = await world.call()

    async def ask_to_relay() -> None:
        """What escalation's last step sends (tested in test_call_escalation): a DM from A's
        group to B's, in reply to the call."""
        group_b = await remote_actors.remote_actor(a.runtime, GROUP_B)
        async with a.runtime.sessions() as session, session.begin():
            group_a = await actors.find_actor(session, "food")
            assert group_a is not None
            await messages.direct_message(
                session,
                a.runtime.uris,
                group_a,
                group_b,
                "<p>Still 20 people needed. Could you share it?</p>",
                in_reply_to=item.uri,
            )
        await world.settle()

    async def relays() -> list[str]:
        async with b.runtime.sessions() as session:
            return list(await session.scalars(select(Relay.object_uri)))

    # B follows A, but A does not follow B: not allies, nothing is shared
    await ask_to_relay()
    assert await relays() == []
    # Once they follow each other, B shares it, once however often it is asked
    await world.follows(a, GROUP_B)
    await ask_to_relay()
    await ask_to_relay()
    assert await relays() == [item.uri]
