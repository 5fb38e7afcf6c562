"""Items from other servers: structured when they are items, plain posts otherwise, never a
crash."""

import copy
import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.errors import InvalidDocument
from federation.items import Kind, RemoteItem, Status, Visibility, from_ap, post_from_ap, to_ap
from federation.privacy import coarsen
from tests.unit.test_items import ASK, CALL, OFFER

MASTODON_NOTE = {
    "@context": [
        "https://www.w3.org/ns/activitystreams",
        {"Hashtag": "as:Hashtag", "sensitive": "as:sensitive"},
    ],
    "id": "https://mastodon.example/users/rosa/statuses/113",
    "type": "Note",
    "summary": None,
    "inReplyTo": None,
    "published": "2026-11-20T10:00:00Z",
    "url": "https://mastodon.example/@rosa/113",
    "attributedTo": "https://mastodon.example/users/rosa",
    "to": ["https://www.w3.org/ns/activitystreams#Public"],
    "cc": ["https://mastodon.example/users/rosa/followers"],
    "sensitive": False,
    "content": (
        '<p>Anyone need a pram? <a href="https://mastodon.example/tags/mutualaid" '
        'class="mention hashtag" rel="tag">#<span>MutualAid</span></a></p>'
    ),
    "tag": [
        {"type": "Hashtag", "href": "https://mastodon.example/tags/mutualaid", "name": "#mutualaid"}
    ],
    "attachment": [],
}
# FEP-0837's own shape, as Mitra publishes it.
PROPOSAL = {
    "@context": [
        "https://www.w3.org/ns/activitystreams",
        {"vf": "https://w3id.org/valueflows/ont/vf#"},
    ],
    "id": "https://market.example/objects/1",
    "type": "Proposal",
    "attributedTo": "https://market.example/users/alice",
    "name": "Used bicycle",
    "content": "<p>Old but it rolls.</p>",
    "publishes": {
        "id": "https://market.example/objects/1#primary",
        "type": "Intent",
        "action": "transfer",
        "resourceConformsTo": "https://www.wikidata.org/wiki/Q11442",
        "resourceQuantity": {"hasUnit": "one", "hasNumericalValue": "1"},
        "availableQuantity": {"hasUnit": "one", "hasNumericalValue": "1"},
    },
    "reciprocal": {"type": "Intent", "action": "transfer"},
    "purpose": "offer",
    "location": {
        "type": "Place",
        "name": "Kreuzberg",
        "latitude": 52.4987654,
        "longitude": 13.4034567,
        "radius": 0.2,
        "units": "km",
    },
    "to": "as:Public",
}
# A Mobilizon event: no ValueFlows terms, still a call.
MOBILIZON_EVENT = {
    "id": "https://mobilizon.example/events/3d1c",
    "type": "Event",
    "name": "Community kitchen",
    "attributedTo": [{"type": "Group", "id": "https://mobilizon.example/@kitchen"}],
    "startTime": "2026-12-06T17:00:00+01:00",
    "endTime": "2026-12-06T20:00:00+01:00",
    "timezone": "Europe/Berlin",
    "ical:status": "CANCELLED",
    "participantCount": 8,
    "content": "<p>Cook with us</p>",
    "location": {
        "type": "Place",
        "name": "Nachbarschaftshaus",
        "address": {"type": "PostalAddress"},
    },
    "to": ["https://www.w3.org/ns/activitystreams#Public"],
}


def test_a_mastodon_post_stays_a_plain_post() -> None:
    assert from_ap(MASTODON_NOTE) is None


@pytest.mark.parametrize(
    "document",
    [
        {**MASTODON_NOTE, "purpose": "gossip"},
        {**MASTODON_NOTE, "publishes": {"type": "Intent"}},
        {**MASTODON_NOTE, "type": "Question"},
        {"type": "Person", "purpose": "request", "id": "https://x.example/u", "attributedTo": "x"},
        {},
    ],
)
def test_things_that_are_not_items_stay_what_they_are(document: dict[str, Any]) -> None:
    assert from_ap(document) is None


@pytest.mark.parametrize("document", [None, [], "https://x.example/1", 3, True])
def test_a_document_that_is_not_an_object_is_invalid(document: Any) -> None:
    with pytest.raises(InvalidDocument):
        from_ap(document)


@pytest.mark.parametrize("missing", ["id", "attributedTo"])
def test_an_item_without_an_id_or_author_is_invalid(missing: str) -> None:
    document = to_ap(ASK)
    del document[missing]

    with pytest.raises(InvalidDocument):
        from_ap(document)


def test_a_fep_0837_proposal_is_an_offer() -> None:
    remote = from_ap(PROPOSAL)

    assert isinstance(remote, RemoteItem)
    assert (remote.kind, remote.title, remote.status) == (Kind.OFFER, "Used bicycle", Status.OPEN)
    assert (remote.quantity, remote.available_quantity, remote.action) == (1, 1, "transfer")
    assert remote.category_uri == "https://www.wikidata.org/wiki/Q11442"
    assert remote.visibility == Visibility.PUBLIC
    assert remote.body_text == "Old but it rolls."


def test_remote_coordinates_are_coarsened_before_anyone_stores_them() -> None:
    remote = from_ap(PROPOSAL)

    assert remote is not None and remote.place is not None
    assert remote.place.radius_m == 500  # 200 m asked for; 500 m is the floor
    assert (remote.place.latitude, remote.place.longitude) == coarsen(52.4987654, 13.4034567)


def test_a_mobilizon_event_is_a_call_and_its_cancellation_is_read() -> None:
    remote = from_ap(MOBILIZON_EVENT)

    assert remote is not None
    assert (remote.kind, remote.status, remote.title) == (
        Kind.CALL,
        Status.CANCELLED,
        "Community kitchen",
    )
    assert remote.author_uri == "https://mobilizon.example/@kitchen"
    assert remote.starts_at == datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert (remote.timezone, remote.people_coming, remote.people_wanted) == (
        "Europe/Berlin",
        8,
        None,
    )
    assert remote.place is not None and remote.place.name == "Nachbarschaftshaus"


def test_without_a_name_the_title_is_the_first_line_without_labels() -> None:
    document = to_ap(
        dataclasses.replace(ASK, status=Status.EXPIRED, updated=datetime(2026, 11, 25, tzinfo=UTC))
    )
    del document["name"]

    remote = from_ap(document)

    assert remote is not None
    assert (remote.title, remote.status) == ("Nappies (size 3) for a newborn", Status.EXPIRED)


def test_a_finished_intent_without_a_stated_reason_is_fulfilled() -> None:
    document = {**PROPOSAL, "publishes": {**PROPOSAL["publishes"], "finished": True}}  # type: ignore[dict-item]

    remote = from_ap(document)

    assert remote is not None and remote.status == Status.FULFILLED


def test_a_followers_only_item_is_read_as_followers_only() -> None:
    remote = from_ap(to_ap(OFFER))

    assert remote is not None and remote.visibility == Visibility.FOLLOWERS


def test_an_item_sent_to_one_person_is_direct() -> None:
    document = {**PROPOSAL, "to": ["https://other.example/users/bob"]}

    remote = from_ap(document)

    assert remote is not None and remote.visibility == Visibility.DIRECT


# --- the shapes AS2 allows ---


def _reshaped(document: dict[str, Any]) -> dict[str, Any]:
    """The same call as another server might spell it: arrays, embedded objects, prefixes,
    numbers."""
    d = copy.deepcopy(document)
    d["type"] = ["as:Event"]
    d["attributedTo"] = [{"type": "Group", "id": d["attributedTo"]}, {"type": "Link", "href": "x"}]
    d["purpose"] = ["vf:request"]
    d["publishes"] = [d["publishes"]]
    d["publishes"][0]["resourceConformsTo"] = {"id": d["publishes"][0]["resourceConformsTo"]}
    d["publishes"][0]["resourceQuantity"] = [{"hasUnit": "one", "hasNumericalValue": 20.0}]
    d["location"] = [d["location"]]
    d["location"][0]["latitude"] = str(d["location"][0]["latitude"])
    d["to"] = "Public"
    d["url"] = [{"type": "Link", "href": d["url"], "mediaType": "text/html"}]
    d["startTime"] = "2026-12-05T10:00:00+01:00"
    d["participantCount"] = "12"
    return d


def test_the_same_call_in_any_as2_spelling_reads_the_same() -> None:
    plain = from_ap(to_ap(CALL))
    reshaped = from_ap(_reshaped(to_ap(CALL)))

    assert reshaped == plain


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3),
        (3, 3),
        (3.0, 3),
        ("3.0", 3),
        ("3.5", None),
        ("three", None),
        (True, None),
        (-1, None),
        (None, None),
        ([], None),
        ({"@value": "3"}, None),
        ("9" * 5000, None),
        (float("inf"), None),
        ("1e400", None),
    ],
)
def test_quantities_are_whole_numbers_or_nothing(value: Any, expected: int | None) -> None:
    document = to_ap(OFFER)
    document["publishes"]["resourceQuantity"]["hasNumericalValue"] = value

    remote = from_ap(document)

    assert remote is not None and remote.quantity == expected


@pytest.mark.parametrize(
    "value",
    [
        "tomorrow",
        "2026-13-45T00:00:00Z",
        "",
        20261205,
        None,
        ["x"],
        "9" * 100,
        "0001-01-01T00:00:00+14:00",
    ],
)
def test_bad_dates_are_left_out(value: Any) -> None:
    document = to_ap(CALL)
    document["published"] = value

    remote = from_ap(document)

    assert remote is not None and remote.starts_at is not None and remote.published is None


@pytest.mark.parametrize("value", ["tomorrow", "", None, "0001-01-01T00:00:00+14:00"])
def test_an_event_without_a_usable_start_is_not_a_call(value: Any) -> None:
    document = to_ap(CALL)
    document["startTime"] = value

    assert from_ap(document) is None


@pytest.mark.parametrize(
    "location",
    [
        "Plaza Mayor",
        {"type": "Place", "latitude": "north", "longitude": 3},
        {"type": "Note", "name": "x"},
        {"type": "Place", "name": "Far", "latitude": 95, "longitude": 0},
        [None, 3, {"name": "Second"}],
        {"type": "Place", "name": "Huge", "radius": 1e308, "units": "miles"},
    ],
)
def test_odd_locations_never_break_an_item(location: Any) -> None:
    document = {**PROPOSAL, "location": location}

    remote = from_ap(document)

    assert remote is not None
    if remote.place is not None and remote.place.latitude is not None:
        assert remote.place.radius_m >= 500


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
_KEYS = [
    "id",
    "type",
    "purpose",
    "publishes",
    "attributedTo",
    "name",
    "nameMap",
    "content",
    "contentMap",
    "summary",
    "location",
    "startTime",
    "endTime",
    "hasEnd",
    "timezone",
    "eventStatus",
    "to",
    "cc",
    "audience",
    "url",
    "source",
    "participantCount",
    "published",
    "updated",
    "inReplyTo",
    "ical:status",
]
item_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["Note", "Event", ["Event", "x"], "Proposal", 3, None])},
    optional={key: json_values for key in _KEYS if key != "type"},
).map(lambda d: {**d, "purpose": d.get("purpose", "request")})
quantities = st.fixed_dictionaries({"hasUnit": json_values, "hasNumericalValue": json_values})


def _outcome(document: object) -> RemoteItem | None:
    try:
        return from_ap(document)
    except InvalidDocument:
        return None


@settings(max_examples=300)
@given(json_values)
def test_any_json_gives_an_item_nothing_or_invalid_document(document: object) -> None:
    _outcome(document)


@settings(max_examples=500)
@given(item_like)
def test_any_item_shaped_json_gives_an_item_nothing_or_invalid_document(
    document: dict[str, Any],
) -> None:
    remote = _outcome(document)
    if remote is not None:
        json.dumps([remote.title, remote.body_html, remote.summary])
        assert remote.place is None or remote.place.radius_m >= 500


@settings(max_examples=300)
@given(json_values, quantities, json_values, json_values)
def test_any_intent_gives_an_item_nothing_or_invalid_document(
    intent: Any, quantity: dict[str, Any], finished: Any, conforms: Any
) -> None:
    document = to_ap(CALL)
    document["publishes"] = intent
    _outcome(document)
    document["publishes"] = {
        "resourceQuantity": quantity,
        "availableQuantity": [quantity],
        "finished": finished,
        "resourceConformsTo": conforms,
        "action": conforms,
    }
    _outcome(document)


def test_a_community_post_is_a_board_post_and_a_comment_is_not() -> None:
    page = {
        "type": "Page",
        "id": "https://lemmy.example/post/1",
        "attributedTo": "https://lemmy.example/u/rosa",
        "to": ["https://lemmy.example/c/tenants", "https://www.w3.org/ns/activitystreams#Public"],
        "name": "Assembly <b>Thursday</b>",
        "content": "<p>Bring a chair</p><script>x()</script>",
        "audience": "https://lemmy.example/c/tenants",
    }
    comment = {**page, "type": "Note", "inReplyTo": page["id"]}

    post = post_from_ap(page, "https://elsewhere.example/c/other")

    assert post is not None
    assert (post.kind, post.title, post.url, post.group_uri) == (
        "post",
        "Assembly Thursday",
        page["id"],
        "https://lemmy.example/c/tenants",
    )
    assert "script" not in post.body_html
    assert post_from_ap(comment) is None
    assert post_from_ap({**page, "audience": None}, "https://g.example/c/x").group_uri == (
        "https://g.example/c/x"
    )
