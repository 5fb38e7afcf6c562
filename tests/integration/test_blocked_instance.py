"""A blocks C's domain: C can neither deliver to A nor read A's followers-only items, even with
ids it learned through B, while B (an allowed follower) still can. Three instances over real
signed HTTP: A and B on 127.0.0.1, C and a Mastodon-shaped user on `localhost`."""

import pytest
from sqlalchemy import func, select

from ayni import following
from federation.errors import NotFound
from federation.itemterms import Kind
from federation.visibility import Visibility
from models import actors, policy, posting
from models.follows import Follow
from models.posting import Draft
from models.queue import Activity, Delivery
from tests.instances import Instance, settle
from tests.integration.conftest import Net
from tests.peers import MastodonPeer

A, B, C = "http://127.0.0.1:8121", "http://127.0.0.1:8122", "http://localhost:8123"


@pytest.fixture
async def three(net: Net) -> tuple[Instance, Instance, Instance, MastodonPeer]:
    mallory = net.peer("http://localhost:8223", "mallory")
    return await net.instance(A), await net.instance(B), await net.instance(C), mallory


async def test_a_blocked_domain_cannot_deliver_or_read_followers_only_items(
    three: tuple[Instance, Instance, Instance, MastodonPeer],
) -> None:
    a, b, c, mallory = three
    # Given B and C both follow A's group
    await following.follow_handle(b.runtime, "food", "@food@127.0.0.1:8121")
    await following.follow_handle(c.runtime, "food", "@food@127.0.0.1:8121")
    await settle(a, b, c)
    assert len(await following.relations(a.runtime, "food")) == 2

    # When A blocks C's domain and then posts a followers-only ask
    async with a.runtime.sessions() as session, session.begin():
        await policy.block_domain(session, "localhost", "harassment")
    a.runtime.blocklist.forget()
    async with a.runtime.sessions() as session, session.begin():
        group = await actors.find_actor(session, "food")
        ana = await actors.find_actor(session, "ana")
        assert group is not None and ana is not None
        item = await posting.create_item(
            session,
            a.runtime.uris,
            group,
            ana,
            Draft(
                Kind.ASK,
                "A room for two nights",
                "Quietly, please.",
                "housing",
                visibility=Visibility.FOLLOWERS,
                as_group=True,
            ),
        )
    await settle(a, b, c)

    # Then C's follow is gone and nothing was delivered to C
    async with a.runtime.sessions() as session:
        followers = await session.scalar(select(func.count()).select_from(Follow))
        hosts = set(
            await session.scalars(
                select(Delivery.host)
                .join(Activity, Activity.id == Delivery.activity_id)
                .where(Activity.object_uri == item.uri)
            )
        )
    assert followers == 1
    assert hosts == {"127.0.0.1:8122"}
    # B, an allowed follower's server, can fetch the item by its id; C cannot, though it knows
    # the id
    fetched = await b.runtime.fetch(item.uri)
    assert fetched["id"] == item.uri
    with pytest.raises(NotFound):
        await c.runtime.fetch(item.uri)
    # And anything from C's domain is refused at A's inbox
    response = await mallory.send(f"{A}/inbox", mallory.follow(f"{A}/actors/food"))
    assert response.status_code == 403
