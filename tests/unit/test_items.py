"""Asks, offers and calls as peers receive them: golden documents, privacy, what Mastodon shows."""

import dataclasses
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from federation.items import (
    ITEM_CONTEXT,
    Category,
    Item,
    Kind,
    Status,
    Visibility,
    action_for,
    from_ap,
    item_tombstone,
    to_ap,
)
from federation.places import Place
from federation.privacy import coarsen
from federation.sanitize import html_to_text, sanitize_html
from federation.vocab import AS_CONTEXT, PUBLIC

FIXTURES = Path(__file__).parent / "fixtures" / "items"
HOST = "https://ayni.example"
GROUP = f"{HOST}/groups/lavapies"
FOLLOWERS = f"{GROUP}/followers"
HANDLE = "@lavapies@ayni.example"
ALICE = f"{HOST}/members/alice"
BOB = f"{HOST}/members/bob"
# Carmen posts the call as the group: nothing about her may leave.
CARMEN = {"uri": f"{HOST}/members/carmen", "username": "carmen", "name": "Carmen Quispe"}
EXACT = (40.408772, -3.700837)  # a doorstep in Lavapiés

GOODS = Category("goods", "Goods", f"{HOST}/categories/goods")
TRANSPORT = Category("transport", "Transport", f"{HOST}/categories/transport")
FOOD = Category("food", "Food", f"{HOST}/categories/food")

ASK = Item(
    uri=f"{GROUP}/items/4k2p9x",
    url=f"{HOST}/@lavapies/items/4k2p9x",
    kind=Kind.ASK,
    title="Nappies (size 3) for a newborn",
    body_markdown="Our neighbour had twins last week.\nAny **unopened** packs help.",
    category=GOODS,
    status=Status.OPEN,
    visibility=Visibility.PUBLIC,
    author_uri=ALICE,
    group_uri=GROUP,
    group_handle=HANDLE,
    group_followers_uri=FOLLOWERS,
    published=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    quantity=4,
    place=Place("Lavapiés, Madrid", *EXACT, radius_m=1000),
    needed_by=datetime(2026, 11, 27, 17, 0, tzinfo=UTC),
    timezone="Europe/Madrid",
)
OFFER = Item(
    uri=f"{GROUP}/items/8m3q1z",
    url=f"{HOST}/@lavapies/items/8m3q1z",
    kind=Kind.OFFER,
    title="Lifts to the hospital on weekday mornings",
    body_markdown="I drive to La Paz most mornings and have room for three.",
    category=TRANSPORT,
    status=Status.OPEN,
    visibility=Visibility.FOLLOWERS,
    author_uri=BOB,
    group_uri=GROUP,
    group_handle=HANDLE,
    group_followers_uri=FOLLOWERS,
    published=datetime(2026, 11, 21, 8, 0, tzinfo=UTC),
    quantity=3,
    place=Place("Embajadores, Madrid"),
    needed_by=datetime(2026, 12, 31, 23, 0, tzinfo=UTC),
    timezone="Europe/Madrid",
)
CALL = Item(
    uri=f"{GROUP}/items/2c7w5v",
    url=f"{HOST}/@lavapies/items/2c7w5v",
    kind=Kind.CALL,
    title="Unload the food bank van",
    body_markdown="The van brings two tonnes of food.\n\nBring gloves; we finish with coffee.",
    category=FOOD,
    status=Status.SCHEDULED,
    visibility=Visibility.PUBLIC,
    author_uri=GROUP,
    group_uri=GROUP,
    group_handle=HANDLE,
    group_followers_uri=FOLLOWERS,
    published=datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
    place=Place("Plaza de Lavapiés, Madrid", *EXACT),
    starts_at=datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
    ends_at=datetime(2026, 12, 5, 12, 0, tzinfo=UTC),
    timezone="Europe/Madrid",
    people_wanted=20,
    people_coming=12,
)
CHANGED = datetime(2026, 11, 25, 18, 45, tzinfo=UTC)
FULFILLED_ASK = dataclasses.replace(ASK, status=Status.FULFILLED, updated=CHANGED)
CANCELLED_CALL = dataclasses.replace(CALL, status=Status.CANCELLED, updated=CHANGED)

EXAMPLES = {
    "ask_public": ASK,
    "offer_followers": OFFER,
    "call_as_group": CALL,
    "ask_fulfilled": FULFILLED_ASK,
    "call_cancelled": CANCELLED_CALL,
}


def mastodon_shows(document: dict[str, Any]) -> str:
    """The text a Mastodon user reads: a Note's content; for an Event, name + summary + link."""
    if document["type"] == "Note":
        return html_to_text(sanitize_html(document["content"]))
    return "\n\n".join([document["name"], document["summary"], document["url"]])


# --- golden documents ---


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_kind_serialises_exactly_as_the_golden_document(name: str) -> None:
    path = FIXTURES / f"{name}.json"
    document = to_ap(EXAMPLES[name])
    if os.environ.get("AYNI_WRITE_GOLDEN"):
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    assert document == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("item", EXAMPLES.values(), ids=list(EXAMPLES))
def test_documents_have_the_as2_shape_peers_require(item: Item) -> None:
    document = to_ap(item)

    assert document["@context"][0] == AS_CONTEXT
    assert document["id"] == item.uri
    assert document["type"] == ("Event" if item.kind == Kind.CALL else "Note")
    assert document["attributedTo"] == item.author_uri
    assert isinstance(document["to"], list) and document["to"]
    assert document["published"].endswith("Z")
    assert isinstance(document["content"], str) and document["content"].startswith("<p>")
    json.dumps(document)  # plain JSON values only


@pytest.mark.parametrize("item", EXAMPLES.values(), ids=list(EXAMPLES))
def test_documents_carry_the_valueflows_terms_with_their_definitions(item: Item) -> None:
    document = to_ap(item)
    intent = document["publishes"]
    terms = ITEM_CONTEXT[1]

    assert document["purpose"] == ("offer" if item.kind == Kind.OFFER else "request")
    assert intent["type"] == "Intent"
    assert intent["action"] == action_for(item.kind, item.category)
    assert intent["resourceConformsTo"] == item.category.uri
    assert intent["resourceQuantity"]["hasUnit"] == "one"
    for term in (
        "purpose",
        "publishes",
        "Intent",
        "action",
        "resourceConformsTo",
        "resourceQuantity",
        "availableQuantity",
        "hasUnit",
        "hasNumericalValue",
        "hasEnd",
        "finished",
        "Hashtag",
        "timezone",
        "eventStatus",
    ):
        assert term in terms
    assert terms["vf"] == "https://w3id.org/valueflows/ont/vf#"
    assert terms["resourceConformsTo"] == {"@id": "vf:resourceConformsTo", "@type": "@id"}


def test_a_call_is_an_fep_8a8e_event_asking_for_people() -> None:
    document = to_ap(CALL)

    assert document["startTime"] == "2026-12-05T09:00:00Z"
    assert document["endTime"] == "2026-12-05T12:00:00Z"
    assert document["timezone"] == "Europe/Madrid"
    assert document["eventStatus"] == "EventScheduled"
    assert document["location"]["name"] == "Plaza de Lavapiés, Madrid"
    assert document["publishes"]["action"] == "work"
    assert document["publishes"]["resourceQuantity"] == {
        "hasUnit": "one",
        "hasNumericalValue": "20",
    }


@pytest.mark.parametrize(
    ("slug", "action"),
    [
        ("food", "transfer"),
        ("goods", "transfer"),
        ("money", "transfer"),
        ("other", "transfer"),
        ("housing", "use"),
        ("transport", "deliverService"),
        ("childcare", "deliverService"),
        ("health", "deliverService"),
        ("skills", "deliverService"),
        ("care", "deliverService"),
        ("legal", "deliverService"),
        ("bicycles", "transfer"),
    ],
)
def test_each_default_category_maps_to_a_valueflows_action(slug: str, action: str) -> None:
    assert action_for(Kind.ASK, Category(slug, slug, f"{HOST}/categories/{slug}")) == action


def test_an_admin_category_can_name_its_own_action() -> None:
    repairs = Category("repairs", "Repairs", f"{HOST}/categories/repairs", action="deliverService")

    assert action_for(Kind.OFFER, repairs) == "deliverService"


# --- addressing and authorship ---


def test_a_public_item_goes_to_everyone_and_the_group_followers() -> None:
    document = to_ap(CALL)

    assert document["to"] == [PUBLIC]
    assert document["cc"] == [FOLLOWERS, CALL.group_uri]  # Lemmy finds the community in cc


def test_a_followers_only_item_never_addresses_the_public() -> None:
    document = to_ap(OFFER)

    assert document["to"] == [FOLLOWERS]
    assert PUBLIC not in json.dumps(document)


def test_a_member_item_mentions_the_group_so_replies_reach_it() -> None:
    document = to_ap(ASK)

    assert document["attributedTo"] == ALICE
    assert GROUP in document["cc"]
    assert {"type": "Mention", "href": GROUP, "name": HANDLE} in document["tag"]


def test_an_item_posted_as_the_group_names_no_member_anywhere() -> None:
    serialised = json.dumps(to_ap(CALL), ensure_ascii=False).lower()

    assert to_ap(CALL)["attributedTo"] == GROUP
    for trace in CARMEN.values():
        assert trace.lower() not in serialised
    assert "/members/" not in serialised


def test_members_only_items_cannot_be_built_for_federation() -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(ASK, visibility=Visibility.MEMBERS)
    with pytest.raises(ValueError):
        dataclasses.replace(ASK, visibility=Visibility.DIRECT)


# --- places ---


@pytest.mark.parametrize("item", EXAMPLES.values(), ids=list(EXAMPLES))
def test_exact_coordinates_never_leave(item: Item) -> None:
    document = to_ap(item)
    serialised = json.dumps(document)

    for exact in EXACT:
        assert str(exact) not in serialised
        assert f"{exact:.4f}" not in serialised
    location = document.get("location", {})
    if "latitude" in location:
        assert (location["latitude"], location["longitude"]) == coarsen(*EXACT, location["radius"])
        assert location["radius"] >= 500 and location["units"] == "m"


def test_a_place_finer_than_500_m_cannot_be_made() -> None:
    with pytest.raises(ValueError):
        Place("Somewhere", *EXACT, radius_m=100)
    with pytest.raises(ValueError):
        Place("Half a point", latitude=40.4)


# --- what Mastodon shows ---


def test_mastodon_shows_an_ask_in_full() -> None:
    text = mastodon_shows(to_ap(ASK))

    assert text.startswith("Ask: Nappies (size 3) for a newborn")
    assert "Any unopened packs help." in text
    assert "Quantity: 4" in text
    assert "Where: Lavapiés, Madrid (within 1 km)" in text
    assert "Needed by: Friday 27 November 2026, 18:00 (Europe/Madrid)" in text
    assert "Reply or send a direct message to @lavapies@ayni.example" in text
    assert text.endswith("#MutualAid #Ask #Goods")


def test_mastodon_shows_an_offer_in_full() -> None:
    text = mastodon_shows(to_ap(OFFER))

    assert text.startswith("Offer: Lifts to the hospital on weekday mornings")
    assert "room for three" in text
    assert "Quantity: 3" in text
    assert "Available until:" in text
    assert "Reply or send a direct message to @lavapies@ayni.example" in text
    assert text.endswith("#MutualAid #Offer #Transport")


def test_mastodon_shows_what_when_where_and_how_many_for_a_call() -> None:
    text = mastodon_shows(to_ap(CALL))

    assert text.startswith(
        "Unload the food bank van\n\n12 of 20 coming: 8 more needed\n"
        "Solidarity call: Unload the food bank van"
    )
    assert "When: Saturday 5 December 2026, 10:00–13:00 (Europe/Madrid)" in text
    assert "Where: Plaza de Lavapiés, Madrid" in text
    assert "People needed: 20 (12 of 20 coming)" in text
    assert "Reply or send a direct message to @lavapies@ayni.example" in text
    assert "#MutualAid #SolidarityCall #Food" in text
    assert text.endswith(CALL.url)


def test_a_calls_content_is_the_full_briefing() -> None:
    text = html_to_text(to_ap(CALL)["content"])

    assert text.startswith("Solidarity call: Unload the food bank van")
    assert "Bring gloves; we finish with coffee." in text
    assert "12 of 20 coming" in text


@pytest.mark.parametrize("item", EXAMPLES.values(), ids=list(EXAMPLES))
def test_hashtags_are_links_in_content_and_real_tags(item: Item) -> None:
    document = to_ap(item)
    hashtags = [t for t in document["tag"] if t["type"] == "Hashtag"]

    assert [t["name"] for t in hashtags][:2] == [
        "#MutualAid",
        {"ask": "#Ask", "offer": "#Offer", "call": "#SolidarityCall"}[item.kind],
    ]
    for tag in hashtags:
        assert tag["href"] == f"{HOST}/tags/{tag['name'][1:].lower()}"
        assert (
            f'href="{tag["href"]}" class="mention hashtag" rel="tag">#<span>{tag["name"][1:]}'
            in (document["content"])
        )


def test_category_names_become_camel_case_hashtags() -> None:
    legal_aid = Category("legal", "Legal aid & advice", f"{HOST}/categories/legal")

    names = [t["name"] for t in to_ap(dataclasses.replace(ASK, category=legal_aid))["tag"]]

    assert "#LegalAidAdvice" in names


def test_markdown_is_rendered_and_raw_html_is_not() -> None:
    item = dataclasses.replace(
        ASK, body_markdown="<script>alert(1)</script> [site](javascript:x) *warm*"
    )

    content = to_ap(item)["content"]

    assert "<script" not in content and "javascript:" not in content.replace(
        "[site](javascript:x)", ""
    )
    assert "<em>warm</em>" in content
    assert "&lt;script&gt;" in content


# --- lifecycle ---


def test_a_fulfilled_ask_says_so_first_and_finishes_its_intent() -> None:
    document = to_ap(FULFILLED_ASK)

    assert mastodon_shows(document).startswith("Fulfilled: Ask: Nappies (size 3) for a newborn")
    assert document["publishes"]["finished"] is True
    assert document["updated"] == "2026-11-25T18:45:00Z"


@pytest.mark.parametrize(
    ("status", "first"),
    [
        (Status.WITHDRAWN, "Withdrawn: Offer: "),
        (Status.EXPIRED, "Expired: Offer: "),
        (Status.FULFILLED, "Fulfilled: Offer: "),
    ],
)
def test_a_closed_offer_has_nothing_left_to_give(status: Status, first: str) -> None:
    document = to_ap(dataclasses.replace(OFFER, status=status, updated=CHANGED))

    assert mastodon_shows(document).startswith(first)
    assert document["publishes"]["availableQuantity"] == {
        "hasUnit": "one",
        "hasNumericalValue": "0",
    }
    assert document["publishes"]["finished"] is True


def test_an_open_offer_has_all_of_it_available() -> None:
    intent = to_ap(OFFER)["publishes"]

    assert intent["availableQuantity"] == {"hasUnit": "one", "hasNumericalValue": "3"}
    assert intent["finished"] is False


def test_a_cancelled_call_says_so_where_mastodon_shows_it() -> None:
    document = to_ap(CANCELLED_CALL)

    assert document["eventStatus"] == "EventCancelled"
    assert document["summary"].startswith("Cancelled: Solidarity call: Unload the food bank van")
    assert html_to_text(document["content"]).startswith("Cancelled: Solidarity call:")
    assert document["publishes"]["finished"] is True


def test_a_done_call_stays_scheduled_but_finished() -> None:
    document = to_ap(dataclasses.replace(CALL, status=Status.DONE, updated=CHANGED))

    assert document["summary"].startswith("Done: Solidarity call:")
    assert document["eventStatus"] == "EventScheduled"
    assert document["publishes"]["finished"] is True


def test_a_closed_item_must_say_when_it_changed() -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(ASK, status=Status.FULFILLED)


@pytest.mark.parametrize(
    "changes",
    [
        {"status": Status.SCHEDULED},
        {"kind": Kind.CALL},
        {"title": "two\nlines"},
        {"title": " "},
        {"quantity": 0},
        {"published": datetime(2026, 1, 1)},
        {"place": Place("  ")},
    ],
)
def test_items_that_cannot_be_federated_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(ASK, **changes)


def test_a_deleted_item_becomes_a_tombstone() -> None:
    assert item_tombstone(ASK.uri, CHANGED) == {
        "@context": AS_CONTEXT,
        "id": ASK.uri,
        "type": "Tombstone",
        "deleted": "2026-11-25T18:45:00Z",
    }


# --- round trip ---


@pytest.mark.parametrize("item", EXAMPLES.values(), ids=list(EXAMPLES))
def test_another_ayni_reads_back_the_structured_item(item: Item) -> None:
    remote = from_ap(json.loads(json.dumps(to_ap(item))))

    assert remote is not None
    point = item.place.point if item.place else None
    assert (remote.uri, remote.url, remote.kind, remote.title, remote.status) == (
        item.uri,
        item.url,
        item.kind,
        item.title,
        item.status,
    )
    assert (remote.author_uri, remote.group_uri, remote.visibility) == (
        item.author_uri,
        item.group_uri,
        item.visibility,
    )
    assert remote.category_uri == item.category.uri
    assert remote.action == action_for(item.kind, item.category)
    assert remote.body_markdown == item.body_markdown
    assert remote.finished == (item.status not in (Status.OPEN, Status.SCHEDULED))
    assert remote.place is not None and item.place is not None
    assert (remote.place.name, remote.place.point, remote.place.radius_m) == (
        item.place.name,
        point,
        item.place.radius_m,
    )
    assert (remote.published, remote.updated) == (item.published, item.updated)
    if item.kind == Kind.CALL:
        assert (remote.starts_at, remote.ends_at, remote.timezone) == (
            item.starts_at,
            item.ends_at,
            item.timezone,
        )
        assert (remote.people_wanted, remote.people_coming) == (
            item.people_wanted,
            item.people_coming,
        )
    else:
        assert (remote.quantity, remote.needed_by) == (item.quantity, item.needed_by)


def test_another_ayni_reads_an_offers_availability() -> None:
    remote = from_ap(to_ap(dataclasses.replace(OFFER, status=Status.WITHDRAWN, updated=CHANGED)))

    assert remote is not None
    assert (remote.status, remote.quantity, remote.available_quantity) == (Status.WITHDRAWN, 3, 0)
