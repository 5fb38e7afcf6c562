"""AS2 shape helpers and the JSON body parser, against the shapes real servers send."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation import vocab
from federation.errors import InvalidDocument
from federation.vocab import (
    PUBLIC,
    accepts_activity_json,
    addresses_public,
    as_list,
    attributed_to,
    audience_of,
    first,
    has_type,
    host_of,
    id_of,
    ids_of,
    is_activity_media_type,
    is_public,
    parse_activity,
    same_origin,
    types_of,
)

ALICE = "https://social.example/users/alice"
BOB = "https://other.example/users/bob"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
activity_like = st.dictionaries(
    st.sampled_from(
        ["id", "type", "actor", "object", "to", "cc", "bto", "bcc", "audience", "attributedTo"]
    ),
    json_values,
)


# --- as_list, first, id_of, ids_of ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("a", ["a"]),
        (["a", "b"], ["a", "b"]),
        ({"id": "a"}, [{"id": "a"}]),
        ((1, 2), [1, 2]),
        (0, [0]),
    ],
)
def test_as_list_treats_missing_as_empty_and_scalars_as_one(
    value: Any, expected: list[Any]
) -> None:
    assert as_list(value) == expected


def test_first_is_the_first_entry_or_none() -> None:
    assert first(["a", "b"]) == "a"
    assert first("a") == "a"
    assert first([]) is None
    assert first(None) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (ALICE, ALICE),
        ({"id": ALICE, "type": "Person"}, ALICE),
        ({"type": "Person"}, None),
        (None, None),
        ("", None),
        ("  ", None),
        ({"id": 5}, None),
        ({"id": {"id": ALICE}}, None),
        (42, None),
        ([ALICE], None),
    ],
)
def test_id_of_reads_references_and_embedded_objects(value: Any, expected: str | None) -> None:
    assert id_of(value) == expected


def test_ids_of_skips_entries_without_an_id() -> None:
    assert ids_of([ALICE, {"id": BOB}, {"type": "Link"}, None, 3]) == [ALICE, BOB]
    assert ids_of(ALICE) == [ALICE]
    assert ids_of(None) == []


# --- types ---


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"type": "Note"}, ["Note"]),
        ({"type": ["Note", "Ask"]}, ["Note", "Ask"]),
        ({}, []),
        ({"type": "as:Note"}, ["Note"]),
        ({"type": "https://www.w3.org/ns/activitystreams#Event"}, ["Event"]),
        ({"type": [1, None, "Note"]}, ["Note"]),
        ("Note", []),
        (None, []),
    ],
)
def test_types_of_accepts_strings_arrays_and_expanded_names(obj: Any, expected: list[str]) -> None:
    assert types_of(obj) == expected


def test_has_type_matches_any_of_the_names() -> None:
    assert has_type({"type": ["Page", "Note"]}, "Note")
    assert has_type({"type": "Event"}, "Note", "Event")
    assert not has_type({"type": "Person"}, "Group")
    assert not has_type("Note", "Note")


# --- addressing ---


@pytest.mark.parametrize("uri", [PUBLIC, "as:Public", "Public"])
def test_every_spelling_of_public_is_public(uri: str) -> None:
    assert is_public(uri)


@pytest.mark.parametrize(
    "uri", [ALICE, "https://www.w3.org/ns/activitystreams", "public", None, ["Public"]]
)
def test_other_values_are_not_public(uri: Any) -> None:
    assert not is_public(uri)


@pytest.mark.parametrize(
    "activity",
    [
        {"to": PUBLIC},
        {"to": [PUBLIC]},
        {"cc": "as:Public"},
        {"cc": [ALICE, "Public"]},
        {"to": [{"id": PUBLIC}]},
    ],
)
def test_public_addressing_is_found_in_strings_or_lists(activity: dict[str, Any]) -> None:
    assert addresses_public(activity)


@pytest.mark.parametrize(
    "activity", [{"to": ALICE}, {"to": [ALICE], "cc": [BOB]}, {}, {"to": None}, "Public"]
)
def test_private_addressing_is_not_public(activity: Any) -> None:
    assert not addresses_public(activity)


def test_audience_collects_every_addressing_field_and_normalises_public() -> None:
    note = {
        "to": "as:Public",
        "cc": [ALICE, {"id": BOB}],
        "bto": "https://x.example/a",
        "bcc": ["https://x.example/b"],
        "audience": "https://group.example/g",
        "attributedTo": "https://not.addressed/",
    }

    assert audience_of(note) == {
        PUBLIC,
        ALICE,
        BOB,
        "https://x.example/a",
        "https://x.example/b",
        "https://group.example/g",
    }


def test_audience_of_non_objects_is_empty() -> None:
    assert audience_of([PUBLIC]) == set()
    assert audience_of(None) == set()


# --- attributedTo ---


@pytest.mark.parametrize(
    ("attributed", "expected"),
    [
        (ALICE, [ALICE]),
        ({"id": ALICE, "type": "Person"}, [ALICE]),
        ([ALICE, BOB], [ALICE, BOB]),
        ([{"type": "Person", "id": ALICE}, {"type": "Group", "id": BOB}], [ALICE, BOB]),
        ([{"type": "Link", "id": "https://x.example/l"}, {"type": "Person", "id": ALICE}], [ALICE]),
        ([{"type": "Organization", "id": ALICE}, BOB], [ALICE, BOB]),
        ([{"type": "Link", "id": "https://x.example/l"}], ["https://x.example/l"]),
        ([ALICE, ALICE, {"id": ALICE}], [ALICE]),
        ({"type": "Person"}, []),
        (None, []),
        (7, []),
    ],
)
def test_attributed_to_returns_actor_uris_whatever_the_shape(
    attributed: Any, expected: list[str]
) -> None:
    assert attributed_to({"type": "Note", "attributedTo": attributed}) == expected


def test_attributed_to_prefers_actor_types_in_peertube_videos() -> None:
    video = {
        "attributedTo": [
            {"type": "Person", "id": "https://tube.example/accounts/ana"},
            {"type": "Group", "id": "https://tube.example/video-channels/cooking"},
            {"type": "Image", "id": "https://tube.example/avatar.png"},
        ]
    }

    assert attributed_to(video) == [
        "https://tube.example/accounts/ana",
        "https://tube.example/video-channels/cooking",
    ]


# --- hosts and origins ---


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("https://Social.Example/users/a", "social.example"),
        ("http://127.0.0.1:8101/actors/x", "127.0.0.1:8101"),
        ("https://social.example:443/a", "social.example"),
        ("http://social.example:80/a", "social.example"),
        ("https://social.example:8443/a", "social.example:8443"),
        ("https://user:pw@social.example/", "social.example"),
        ("https://[::1]:8000/a", "[::1]:8000"),
        ("https://social.example./a", "social.example"),
        ("as:Public", None),
        ("/relative", None),
        ("", None),
        (None, None),
        ("http://[oops/", None),
        ("https://x.example:99999/", None),
    ],
)
def test_host_of_is_the_lowercased_host_and_port(uri: Any, expected: str | None) -> None:
    assert host_of(uri) == expected


def test_same_origin_compares_scheme_host_and_port() -> None:
    assert same_origin("https://social.example/users/a", "https://SOCIAL.example/notes/1")
    assert same_origin("https://social.example:443/a", "https://social.example/b")
    assert not same_origin("https://social.example/a", "https://evil.example/a")
    assert not same_origin("https://social.example/a", "https://social.example.evil.example/a")
    assert not same_origin("https://social.example/a", "http://social.example/a")
    assert not same_origin("https://social.example:8443/a", "https://social.example/a")
    assert not same_origin("as:Public", "as:Public")
    assert not same_origin(None, None)


# --- content negotiation ---


@pytest.mark.parametrize(
    "content_type",
    [
        "application/activity+json",
        "Application/Activity+JSON; charset=utf-8",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        "application/ld+json; profile=https://www.w3.org/ns/activitystreams",
        (
            'application/ld+json; profile="https://www.w3.org/ns/activitystreams '
            'https://w3id.org/security/v1"'
        ),
        "application/ld+json",
    ],
)
def test_as2_media_types_are_recognised(content_type: str) -> None:
    assert is_activity_media_type(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "text/html",
        'application/ld+json; profile="https://example.org/other"',
        "",
        None,
    ],
)
def test_other_media_types_are_not_as2(content_type: Any) -> None:
    assert not is_activity_media_type(content_type)


@pytest.mark.parametrize(
    "accept",
    [
        "application/activity+json",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        "application/ld+json",
        # Mastodon's fetcher
        (
            "application/activity+json, "
            'application/ld+json; profile="https://www.w3.org/ns/activitystreams", '
            "text/html;q=0.1"
        ),
        "text/html;q=0.5, application/activity+json",
        "application/activity+json, text/html",
        "application/json, application/activity+json;q=0.9, */*;q=0.1",
    ],
)
def test_fediverse_accept_headers_get_activity_json(accept: str) -> None:
    assert accepts_activity_json(accept)


@pytest.mark.parametrize(
    "accept",
    [
        # Firefox
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        "*/*",
        "",
        "application/json",
        "text/html, application/activity+json",
        "application/activity+json;q=0.5, text/html",
        "application/activity+json;q=0",
        'application/ld+json; profile="https://example.org/other"',
        "application/*",
        "application/activity+json;q=banana",
        None,
    ],
)
def test_browsers_and_wildcards_get_html(accept: Any) -> None:
    assert not accepts_activity_json(accept)


# --- parse_activity ---


def test_parse_activity_returns_the_object() -> None:
    body = json.dumps(
        {"type": "Follow", "actor": ALICE, "object": BOB, "n": [1, 2.5, None, True]}
    ).encode()

    assert parse_activity(body) == {
        "type": "Follow",
        "actor": ALICE,
        "object": BOB,
        "n": [1, 2.5, None, True],
    }


def test_parse_activity_tolerates_a_byte_order_mark_and_brackets_inside_strings() -> None:
    body = b'\xef\xbb\xbf{"content": "' + b"[{" * 100 + b'\\"' + b'"}'

    assert parse_activity(body)["content"].startswith("[{[{")


def test_parse_activity_accepts_nesting_up_to_the_limit() -> None:
    body = b'{"a":' * 31 + b"{}" + b"}" * 31

    assert isinstance(parse_activity(body), dict)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe{}", "UTF-8"),
        (b"", "not JSON"),
        (b"not json", "not JSON"),
        (b'{"a": 1', "not JSON"),
        (b"[]", "object"),
        (b'"text"', "object"),
        (b"null", "object"),
        (b'{"a":' * 32 + b"{}" + b"}" * 32, "deeper"),
        (b"[" * 100_000, "deeper"),
        (b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "deeper"),
        (b'{"id": "a", "id": "b"}', "duplicate"),
        (b'{"n": 1' + b"0" * 30 + b"}", "too large"),
        (b'{"n": 9223372036854775808}', "too large"),
        (b'{"n": 1e400}', "too large"),
        (b'{"n": NaN}', "NaN"),
        (b'{"n": -Infinity}', "Infinity"),
        (b'{"s": "\\ud800"}', "surrogate"),
        (b'{"\\udfff": 1}', "surrogate"),
    ],
)
def test_parse_activity_refuses_unsafe_bodies_with_invalid_document(
    body: bytes, reason: str
) -> None:
    with pytest.raises(InvalidDocument, match=reason):
        parse_activity(body)


def test_parse_activity_keeps_valid_surrogate_pairs_and_big_but_bounded_numbers() -> None:
    parsed = parse_activity(b'{"s": "\\ud83e\\udd1d", "n": 9223372036854775807, "f": 1.5e300}')

    assert parsed == {"s": "\U0001f91d", "n": 2**63 - 1, "f": 1.5e300}


def test_parse_activity_refuses_non_bytes() -> None:
    with pytest.raises(InvalidDocument):
        parse_activity("{}")  # type: ignore[arg-type]


def test_parse_activity_is_exported_by_vocab() -> None:
    assert vocab.parse_activity is parse_activity


@given(st.binary(max_size=2000))
def test_parse_activity_only_ever_raises_invalid_document_on_bytes(body: bytes) -> None:
    try:
        assert isinstance(parse_activity(body), dict)
    except InvalidDocument:
        pass


@given(st.text(alphabet='{}[]":,0123456789.eE-+\\u tfnrl ', max_size=500))
def test_parse_activity_only_ever_raises_invalid_document_on_json_like_text(text: str) -> None:
    try:
        assert isinstance(parse_activity(text.encode()), dict)
    except InvalidDocument:
        pass


@given(st.integers(min_value=0, max_value=3000), st.sampled_from(["[", '{"a":']), st.booleans())
@settings(max_examples=60)
def test_deeply_nested_json_is_refused_exactly_when_too_deep(
    depth: int, opener: str, closed: bool
) -> None:
    closer = "]" if opener == "[" else "}"
    body = ('{"x":' + opener * depth + "1" + (closer * depth if closed else "") + "}").encode()

    if depth >= 32:
        with pytest.raises(InvalidDocument):
            parse_activity(body)
    else:
        try:
            parse_activity(body)
        except InvalidDocument:
            assert not closed


@given(json_values)
def test_parse_activity_round_trips_objects_it_accepts(value: Any) -> None:
    body = json.dumps({"v": value}).encode()
    try:
        assert parse_activity(body) == {"v": value}
    except InvalidDocument:
        pass  # too large, duplicate keys cannot arise from dumps; big ints can


# --- the helpers never raise ---


@given(json_values)
def test_vocab_helpers_never_raise_on_any_json_value(value: Any) -> None:
    as_list(value)
    first(value)
    id_of(value)
    ids_of(value)
    types_of(value)
    has_type(value, "Note")
    is_public(value)
    audience_of(value)
    addresses_public(value)
    attributed_to(value)
    host_of(value)
    same_origin(value, value)
    is_activity_media_type(value)
    accepts_activity_json(value)


@given(activity_like)
def test_vocab_helpers_never_raise_on_activity_shaped_objects(activity: dict[str, Any]) -> None:
    assert isinstance(types_of(activity), list)
    assert id_of(activity.get("actor")) is None or isinstance(id_of(activity.get("actor")), str)
    assert all(isinstance(uri, str) for uri in audience_of(activity))
    assert all(isinstance(uri, str) for uri in attributed_to(activity))
    assert addresses_public(activity) == (PUBLIC in audience_of(activity))


@given(st.text(max_size=200))
def test_url_and_header_helpers_never_raise_on_any_text(text: str) -> None:
    host_of(text)
    same_origin(text, "https://social.example/")
    accepts_activity_json(text)
    is_activity_media_type(text)


def test_content_falls_back_to_misskeys_plain_text_escaped_then_to_the_quoted_link() -> None:
    mfm = {"content": "", "_misskey_content": "a <b>bold</b>\nline", "source": {"content": "x"}}
    source_only = {
        "content": None,
        "source": {"content": "from *source*", "mediaType": "text/x.misskeymarkdown"},
    }
    quote_only = {"content": "", "quoteUrl": "https://misskey.example/notes/9a"}

    assert vocab.content_html(mfm) == "<p>a &lt;b&gt;bold&lt;/b&gt;<br>line</p>"
    assert vocab.content_html(source_only) == "<p>from *source*</p>"
    assert 'href="https://misskey.example/notes/9a"' in vocab.content_html(quote_only)


def test_content_ignores_what_is_not_text() -> None:
    odd = {
        "content": ["", 3],
        "contentMap": [1],
        "source": "https://mbin.example/link",
        "quoteUrl": "javascript:x",
    }

    assert vocab.content_html(odd) == ""
    assert vocab.content_html({"contentMap": {"es": "<p>hola</p>"}}) == "<p>hola</p>"
    assert vocab.content_html("not an object") == ""
