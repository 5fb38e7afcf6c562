"""The overflow route and a group's area, read from untrusted documents: anything out of range
is refused, never repaired; an area is coarsened like an item's place."""

from datetime import UTC, datetime
from typing import Any

import pytest

from federation.errors import InvalidDocument
from federation.overflow import Route, announce, route_of
from federation.places import area, area_from_ap, area_to_ap
from federation.remote_actor import actor_from_ap

A = "https://a.example/actors/food"
B = "https://b.example/actors/food"


def sent(route: Route) -> dict[str, Any]:
    return announce(
        id="https://a.example/activities/1",
        actor=route.sender,
        object_uri="https://a.example/items/1",
        ally_uri=B,
        route=route,
        published=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_a_route_survives_its_own_announce_and_carries_its_terms_inline() -> None:
    route = Route(1, 2, (A,))
    activity = sent(route)
    assert route_of(activity) == route
    assert activity["to"] == [B] and activity["object"] == "https://a.example/items/1"
    assert "overflowPath" in activity["@context"][1]


def test_the_next_hop_extends_the_path_and_stops_at_the_limit_or_on_the_path() -> None:
    onward = Route(1, 2, (A,)).onward(B)
    assert onward == Route(2, 2, (A, B))
    assert onward.onward("https://c.example/actors/food") is None
    assert Route(1, 2, (A,)).onward(A) is None
    assert Route(1, 1, (A,)).onward(B) is None


def test_a_plain_boost_has_no_route() -> None:
    assert route_of({"type": "Announce", "actor": A, "object": "x"}) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"overflowHop": 3, "overflowHops": 3, "overflowPath": [A, B, "https://c.example/g"]},
        {"overflowHop": 0},
        {"overflowHop": True},
        {"overflowHop": 2, "overflowHops": 1},
        {"overflowPath": [B]},  # does not end with the sender
        {"overflowPath": []},
        {"overflowHop": 2, "overflowPath": [A, A]},
        {"overflowPath": "https://a.example/actors/food"},
        {"overflowHops": None},
    ],
)
def test_a_route_out_of_range_or_not_ending_with_its_sender_is_refused(
    changes: dict[str, Any],
) -> None:
    with pytest.raises(InvalidDocument):
        route_of({**sent(Route(1, 1, (A,))), **changes})


def test_an_area_is_coarsened_published_as_a_place_and_read_back() -> None:
    found = area(40.4168, -3.7038, 12)
    assert (found.latitude, found.longitude) != (40.4168, -3.7038)
    assert area_from_ap(area_to_ap(found)) == found
    assert found.covers((40.45, -3.70)) and not found.covers((41.39, 2.17))
    assert not found.covers(None)


def test_a_group_place_without_a_radius_is_no_area_and_people_have_none() -> None:
    assert area_from_ap({"type": "Place", "latitude": 40.4, "longitude": -3.7}) is None
    assert area_from_ap({"type": "Place", "name": "Madrid", "radius": 5}) is None
    assert area_from_ap("Madrid") is None
    group = {
        "id": A,
        "type": "Group",
        "inbox": f"{A}/inbox",
        "location": {"type": "Place", "latitude": 40.4, "longitude": -3.7, "radius": 5000},
    }
    assert actor_from_ap(group).area == area(40.4, -3.7, 5)
    assert actor_from_ap({**group, "type": "Person"}).area is None
