"""The taxonomy's pure rules: reading another server's concepts up their `broader` chain to a
shared concept, however the document spells SKOS, and never round a loop or off http(s)."""

from typing import Any

import pytest

from models.taxonomy import (
    MAX_HOPS,
    SKOS,
    Unmapped,
    canonical,
    listed_under,
    resolve,
    slug_of,
)

B = "https://b.example"


class Documents:
    """A fetch over fixed documents, counting what it was asked for."""

    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self.documents, self.asked = documents, []  # type: list[str]

    async def __call__(self, url: str) -> dict[str, Any]:
        self.asked.append(url)
        return self.documents[url]


SCHEME = {
    "id": f"{B}/taxonomy",
    "hasTopConcept": [
        {"id": f"{B}/taxonomy#food", "exactMatch": canonical("food")},
        {"id": f"{B}/taxonomy#care", "exactMatch": {"id": canonical("care")}},
    ],
}


async def test_a_custom_category_maps_through_its_broader_to_the_shared_concept() -> None:
    fetch = Documents(
        {
            f"{B}/g/categories/baby_food": {
                "id": f"{B}/g/categories/baby_food",
                "broader": f"{B}/taxonomy#food",
            },
            f"{B}/taxonomy": SCHEME,
        }
    )

    assert await resolve(f"{B}/g/categories/baby_food", fetch) == canonical("food")
    # The fragment names a node of the document without it
    assert fetch.asked == [f"{B}/g/categories/baby_food", f"{B}/taxonomy"]


async def test_a_concept_of_another_taxonomy_and_the_shared_one_itself_map() -> None:
    fetch = Documents({f"{B}/taxonomy": SCHEME})

    assert await resolve(f"{B}/taxonomy#care", fetch) == canonical("care")
    assert await resolve(canonical("legal"), fetch) == canonical("legal")  # no fetch
    assert fetch.asked == [f"{B}/taxonomy"]


async def test_skos_prefixed_and_full_iri_terms_and_graphs_are_read() -> None:
    fetch = Documents(
        {
            f"{B}/a": {"@id": f"{B}/a", f"{SKOS}broader": {"@id": f"{B}/b#x"}},
            f"{B}/b": {"@graph": [{"@id": f"{B}/b#x", "skos:exactMatch": [canonical("health")]}]},
        }
    )

    assert await resolve(f"{B}/a", fetch) == canonical("health")


def at(path: str, **terms: Any) -> dict[str, dict[str, Any]]:
    """One document at B's `path`, whose node is itself unless `id` says otherwise."""
    return {f"{B}{path}": {"id": f"{B}{path}", **terms}}


@pytest.mark.parametrize(
    ("documents", "reason"),
    [
        (at("/a", broader=f"{B}/b") | at("/b", broader=f"{B}/a"), "loop"),
        (at("/a", broader="ftp://b.example/food"), r"not an http\(s\) URI"),
        (at("/a"), "no broader"),
        (at("/a", id=f"{B}/elsewhere", exactMatch=canonical("food")), "not in the document"),
        # An exact match of something that is not a default concept is no match
        (at("/a", exactMatch=canonical("weapons")), "no broader"),
        (at("/a", broader={"nested": ["junk"]}), "no broader"),
    ],
)
async def test_chains_that_lead_nowhere_are_unmapped(
    documents: dict[str, dict[str, Any]], reason: str
) -> None:
    with pytest.raises(Unmapped, match=reason):
        await resolve(f"{B}/a", Documents(documents))


async def test_a_long_chain_stops_after_max_hops_documents() -> None:
    chain = {f"{B}/{n}": {"id": f"{B}/{n}", "broader": f"{B}/{n + 1}"} for n in range(10)}
    fetch = Documents(chain)

    with pytest.raises(Unmapped, match="within"):
        await resolve(f"{B}/0", fetch)
    assert len(fetch.asked) == MAX_HOPS


def test_a_filter_lists_its_own_slug_and_what_narrows_its_concept() -> None:
    assert listed_under("food", "food", None)
    assert listed_under("food", "baby_food", canonical("food"))
    assert not listed_under("food", "baby_food", None)
    assert not listed_under("food", "housing", canonical("housing"))
    assert slug_of(f"{B}/actors/g/categories/baby_food") == "baby_food"
    assert slug_of(f"{B}/taxonomy#food") == "food"
    assert slug_of(None) is None
