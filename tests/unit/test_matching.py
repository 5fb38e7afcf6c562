"""The matching rule, as values: same concept or narrower, nearest first within the distance,
unknown distances last, capped."""

from models.items import Category
from models.matching import Candidate, nearest, same_concept
from models.taxonomy import canonical

HERE = "https://a.example/actors/food/categories"
MADRID = (40.4168, -3.7038)
GETAFE = (40.3083, -3.7327)  # about 12 km south
ALCALA = (40.4818, -3.3643)  # about 29 km east
BARCELONA = (41.3874, 2.1686)


def category(slug: str, broader: str | None = None) -> Category:
    return Category(slug=slug, name=slug, uri=f"{HERE}/{slug}", broader=broader)


def candidate(title: str, point: tuple[float, float] | None) -> Candidate:
    return Candidate(
        uri=f"https://b.example/items/{title}",
        link=f"https://b.example/items/{title}",
        title=title,
        kind="offer",
        group="B",
        local=False,
        point=point,
    )


def test_a_default_category_is_met_by_its_concept_and_any_narrower_one_anywhere() -> None:
    food = category("food")

    assert same_concept(food, f"{HERE}/food", None)  # the very category, concept unknown
    assert same_concept(food, "https://b.example/actors/x/categories/food", canonical("food"))
    # A group's own category narrower than food, on another instance.
    assert same_concept(food, "https://b.example/actors/x/categories/soup", canonical("food"))
    assert not same_concept(food, "https://b.example/categories/bikes", canonical("transport"))
    assert not same_concept(food, "https://b.example/categories/food", None)  # not mapped yet


def test_a_groups_own_category_is_met_only_by_that_very_category() -> None:
    baby_food = category("baby_food", broader="food")

    assert same_concept(baby_food, f"{HERE}/baby_food", canonical("food"))
    # Food in general, or another group's narrower food, is not baby food.
    assert not same_concept(baby_food, "https://b.example/categories/food", canonical("food"))
    assert not same_concept(baby_food, "https://b.example/categories/soup", canonical("food"))


def test_a_category_naming_no_default_concept_matches_nothing_by_concept() -> None:
    odd = category("odd")  # a group's own category with no broader concept

    assert same_concept(odd, f"{HERE}/odd", None)
    assert not same_concept(odd, "https://b.example/categories/odd", None)


def test_nearest_first_within_the_distance_then_the_unplaced_in_their_order() -> None:
    found = nearest(
        [
            candidate("alcala", ALCALA),
            candidate("unplaced-1", None),
            candidate("barcelona", BARCELONA),
            candidate("getafe", GETAFE),
            candidate("madrid", MADRID),
            candidate("unplaced-2", None),
        ],
        MADRID,
        within_km=30,
        cap=20,
    )

    assert [c.title for c in found] == ["madrid", "getafe", "alcala", "unplaced-1", "unplaced-2"]
    assert [c.distance_km for c in found[:3]] == [0.0, 12.3, 29.6]
    assert found[3].distance_km is None


def test_an_item_without_a_place_keeps_every_candidate_unmeasured_and_the_cap_holds() -> None:
    many = [candidate(f"c{n}", MADRID if n % 2 else None) for n in range(30)]

    found = nearest(many, None, within_km=1, cap=20)

    assert [c.title for c in found] == [f"c{n}" for n in range(20)]
    assert all(c.distance_km is None for c in found)
    assert [c.title for c in nearest(many, MADRID, within_km=1, cap=3)] == ["c1", "c3", "c5"]
