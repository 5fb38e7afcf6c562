"""Groups follow groups by handle, across two instances over real signed HTTP."""

import pytest

from ayni import following
from tests.instances import Instance, settle

A = "http://127.0.0.1:8101"
B = "http://127.0.0.1:8102"


async def test_a_group_follows_another_by_handle_and_is_accepted(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair

    await following.follow_handle(b.runtime, "food", "@food@127.0.0.1:8101")
    pending = await following.relations(b.runtime, "food")
    await settle(a, b)
    on_b = await following.relations(b.runtime, "food")
    on_a = await following.relations(a.runtime, "food")

    assert [(r.direction, r.state) for r in pending] == [("outbound", "pending")]
    assert [(r.direction, r.state, r.actor_uri) for r in on_b] == [
        ("outbound", "accepted", f"{A}/actors/food")
    ]
    assert [(r.direction, r.state, r.actor_uri) for r in on_a] == [
        ("inbound", "accepted", f"{B}/actors/food")
    ]
    assert on_b[0].handle == "@food@127.0.0.1:8101"


async def test_unfollowing_undoes_the_follow_on_both_sides(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    await following.follow_handle(b.runtime, "food", "@food@127.0.0.1:8101")
    await settle(a, b)

    await following.unfollow_handle(b.runtime, "food", "@food@127.0.0.1:8101")
    await settle(a, b)

    assert await following.relations(b.runtime, "food") == []
    assert await following.relations(a.runtime, "food") == []
    with pytest.raises(following.FollowError, match="does not follow"):
        await following.unfollow_handle(b.runtime, "food", "@food@127.0.0.1:8101")


async def test_following_needs_a_real_group_and_a_real_handle(
    pair: tuple[Instance, Instance],
) -> None:
    _, b = pair

    with pytest.raises(following.FollowError, match="no group named 'nope'"):
        await following.follow_handle(b.runtime, "nope", "@food@127.0.0.1:8101")
    with pytest.raises(following.FollowError, match="not a handle"):
        await following.follow_handle(b.runtime, "food", "not-a-handle")
