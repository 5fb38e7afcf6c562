"""GoToSocial members say who may boost their posts (`interactionPolicy.canAnnounce`); our
groups never boost what its author did not allow them to: not by a moderator's relay, not by an
alliance's automatic relay, not by approving a submission. Over real signed HTTP, on both
databases."""

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select, update

from federation import vocab
from models import actors, group_moderation, relays, remote_actors
from models.actors import LocalActor
from models.following import follow
from models.follows import Direction, Follow, FollowState
from models.moderation import Relay, Review
from models.queue import Activity
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

BASE = "http://127.0.0.1:8101"
GROUP = f"{BASE}/actors/food"
GTS_CONTEXT = ["https://www.w3.org/ns/activitystreams", "https://gotosocial.org/ns"]


@dataclass
class World:
    instance: Instance
    marta: MastodonPeer  # a GoToSocial account the group follows and relays
    lena: MastodonPeer  # a GoToSocial account that mentions the group

    async def group(self) -> LocalActor:
        async with self.instance.runtime.sessions() as session:
            found = await actors.find_actor(session, "food")
        assert found is not None
        return found

    async def count(self, query: Any) -> int:
        async with self.instance.runtime.sessions() as session:
            return int(await session.scalar(query) or 0)


@pytest.fixture
async def world(net: Net) -> World:
    world = World(
        await net.instance(BASE),
        net.peer("http://127.0.0.1:8231", "marta"),
        net.peer("http://127.0.0.1:8232", "lena"),
    )
    # The group follows Marta (her server accepted) and relays everything she posts.
    runtime = world.instance.runtime
    marta = await remote_actors.remote_actor(runtime, world.marta.actor_uri)
    async with runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        assert group is not None
        await follow(session, runtime.uris, group, marta)
        await session.execute(
            update(Follow)
            .where(Follow.direction == Direction.OUTBOUND)
            .values(state=FollowState.ACCEPTED)
        )
        await relays.add_ally(session, group, marta)
    await settle(world.instance)
    return world


def gts_ask(peer: MastodonPeer, title: str, can_announce: list[str]) -> dict[str, Any]:
    """A public post in GoToSocial's shape (its context, the policy it writes on every post),
    carrying an ask's ValueFlows purpose so that our board takes it as an item."""
    create = peer.note(f"<p>{title}</p>", to=[vocab.PUBLIC], cc=[f"{peer.actor_uri}/followers"])
    note = create["object"]
    note["name"] = title
    note["purpose"] = "request"
    note["interactionPolicy"] = {
        "canLike": {"automaticApproval": [vocab.PUBLIC], "always": [vocab.PUBLIC]},
        "canReply": {"automaticApproval": [vocab.PUBLIC], "always": [vocab.PUBLIC]},
        "canAnnounce": {"automaticApproval": can_announce, "always": can_announce},
    }
    create["@context"] = note["@context"] = GTS_CONTEXT
    return create


def announces_of(uri: str) -> Any:
    return (
        select(func.count())
        .select_from(Activity)
        .where(Activity.type == "Announce", Activity.object_uri == uri)
    )


async def test_an_ally_relays_only_the_posts_whose_author_lets_the_group_boost_them(
    world: World,
) -> None:
    marta = world.marta.actor_uri
    # Given Marta posts three asks: one nobody but she may boost, one anyone may, one her
    # followers may (the group follows her)
    mine = gts_ask(world.marta, "A wheelchair ramp", [marta])
    anyone = gts_ask(world.marta, "Winter coats", [vocab.PUBLIC])
    followers = gts_ask(world.marta, "Bread flour", [marta, f"{marta}/followers"])

    # When they reach the group
    for create in (mine, anyone, followers):
        assert (await world.marta.send(f"{BASE}/inbox", create)).status_code == 202
    await settle(world.instance)

    # Then the alliance relayed the two she allowed, never the first
    async with world.instance.runtime.sessions() as session:
        relayed = sorted(r.object_uri for r in await session.scalars(select(Relay)))
    assert relayed == sorted([anyone["object"]["id"], followers["object"]["id"]])
    assert await world.count(announces_of(mine["object"]["id"])) == 0

    # And a moderator relaying it by hand is refused, with the reason
    async with world.instance.runtime.sessions() as session, session.begin():
        with pytest.raises(relays.ForbiddenByAuthor, match="does not let @food boost it"):
            await relays.relay_item(
                session, world.instance.runtime.uris, await world.group(), mine["object"]["id"]
            )
    assert await world.count(announces_of(mine["object"]["id"])) == 0


async def test_a_post_that_asks_for_approval_to_boost_is_not_boosted(world: World) -> None:
    marta = world.marta.actor_uri
    create = gts_ask(world.marta, "A lift to the clinic", [marta])
    create["object"]["interactionPolicy"]["canAnnounce"]["manualApproval"] = [vocab.PUBLIC]
    assert (await world.marta.send(f"{BASE}/inbox", create)).status_code == 202
    await settle(world.instance)

    async with world.instance.runtime.sessions() as session, session.begin():
        with pytest.raises(relays.ForbiddenByAuthor, match="only with her approval"):
            await relays.relay_item(
                session, world.instance.runtime.uris, await world.group(), create["object"]["id"]
            )
    assert await world.count(announces_of(create["object"]["id"])) == 0


async def test_approving_a_submission_its_author_forbids_boosting_is_refused(
    world: World,
) -> None:
    lena = world.lena.actor_uri
    # Given Lena, whom the group does not follow, mentions the group in a post only she may boost
    create = gts_ask(world.lena, "Free bread at 7", [lena])
    note = create["object"]
    del note["purpose"]
    note["cc"] = [f"{lena}/followers", GROUP]
    note["tag"] = [{"type": "Mention", "href": GROUP, "name": "@food"}]
    assert (await world.lena.send(f"{BASE}/inbox", create)).status_code == 202
    await settle(world.instance)
    async with world.instance.runtime.sessions() as session:
        (held,) = await group_moderation.submissions(session, await world.group())

    # When a moderator approves it
    async with world.instance.runtime.sessions() as session:
        with pytest.raises(relays.ForbiddenByAuthor, match="does not let @food boost it"):
            async with session.begin():
                await group_moderation.approve_submission(
                    session, world.instance.runtime.uris, await world.group(), held.id
                )

    # Then nothing was announced and it is still waiting for a decision
    assert await world.count(announces_of(note["id"])) == 0
    assert await world.count(select(func.count()).select_from(Review)) == 0
