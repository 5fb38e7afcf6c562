"""WebFinger, host-meta and NodeInfo documents, and resolving a remote handle."""

import re
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st

from federation import discovery
from federation.discovery import (
    host_meta_xml,
    nodeinfo_document,
    nodeinfo_links,
    parse_handle,
    parse_resource,
    resolve,
    self_link,
    webfinger_document,
)
from federation.errors import InvalidDocument, NotFound

AS2 = "application/activity+json"
ACTOR = "https://aid.example.org/actors/food"
PROFILE = "https://aid.example.org/@food"


# --- webfinger_document ---


def test_webfinger_document_points_to_the_actor_exactly() -> None:
    document = webfinger_document(
        "acct:food@aid.example.org", [ACTOR, PROFILE], ACTOR, PROFILE, "https://aid.example.org"
    )

    assert document["subject"] == "acct:food@aid.example.org"
    assert document["aliases"] == [ACTOR, PROFILE]
    assert {"rel": "self", "type": AS2, "href": ACTOR} in document["links"]
    assert {
        "rel": "http://webfinger.net/rel/profile-page",
        "type": "text/html",
        "href": PROFILE,
    } in document["links"]
    assert {
        "rel": "http://ostatus.org/schema/1.0/subscribe",
        "template": "https://aid.example.org/authorize_interaction?uri={uri}",
    } in document["links"]


def test_webfinger_self_href_is_not_normalised() -> None:
    odd = "HTTP://127.0.0.1:8101/actors/Food/"

    document = webfinger_document("acct:food@127.0.0.1:8101", [odd], odd, None)

    assert self_link(document) == odd


def test_webfinger_subscribe_template_defaults_to_the_actors_origin() -> None:
    document = webfinger_document(
        "acct:food@127.0.0.1:8101", [], "http://127.0.0.1:8101/actors/food", None
    )

    templates = [link["template"] for link in document["links"] if "template" in link]
    assert templates == ["http://127.0.0.1:8101/authorize_interaction?uri={uri}"]
    assert all(link["rel"] != "http://webfinger.net/rel/profile-page" for link in document["links"])


def test_webfinger_aliases_are_deduplicated_in_order() -> None:
    base = "https://aid.example.org"
    document = webfinger_document("acct:x@aid.example.org", [base, ACTOR, base], ACTOR, base)

    assert document["aliases"] == [base, ACTOR]


# --- parse_resource ---


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("acct:food@aid.example.org", ("food", "aid.example.org")),
        ("acct:FOOD@AID.Example.org", ("food", "aid.example.org")),
        ("ACCT:food@aid.example.org", ("food", "aid.example.org")),
        ("food@aid.example.org", ("food", "aid.example.org")),
        ("@food@aid.example.org", ("food", "aid.example.org")),
        ("  acct:food@aid.example.org  ", ("food", "aid.example.org")),
        ("acct:food@127.0.0.1:8101", ("food", "127.0.0.1:8101")),
        ("acct:food@aid.example.org.", ("food", "aid.example.org")),
        ("acct:127.0.0.1:8101@127.0.0.1:8101", ("127.0.0.1:8101", "127.0.0.1:8101")),
        ("acct:aid.example.org@aid.example.org", ("aid.example.org", "aid.example.org")),
        ("acct:food@[::1]:8000", ("food", "[::1]:8000")),
        (
            "https://aid.example.org/actors/Food",
            ("https://aid.example.org/actors/Food", "aid.example.org"),
        ),
        (
            "http://127.0.0.1:8101/actors/food",
            ("http://127.0.0.1:8101/actors/food", "127.0.0.1:8101"),
        ),
    ],
)
def test_parse_resource_accepts_what_mastodon_accepts(
    resource: str, expected: tuple[str, str]
) -> None:
    assert parse_resource(resource) == expected


@pytest.mark.parametrize(
    "resource",
    [
        "",
        "   ",
        "acct:",
        "acct:@@",
        "acct:food",
        "acct:food@",
        "acct:@aid.example.org",
        "mailto:x",
        "mailto:x@aid.example.org",
        "acct:a@b@c",
        "acct:fo od@aid.example.org",
        "acct:food@aid..example.org",
        "acct:food@-aid.example.org",
        "acct:food@aid.example.org/path",
        "acct:food@aid.example.org:port",
        "acct:<script>@aid.example.org",
        "https://",
        "acct:food@aid_example.org",
        "acct:fööd@aid.example.org",
    ],
)
def test_parse_resource_refuses_malformed_resources(resource: str) -> None:
    with pytest.raises(ValueError):
        parse_resource(resource)


def test_parse_resource_refuses_a_missing_resource() -> None:
    with pytest.raises(ValueError):
        parse_resource(None)  # type: ignore[arg-type]


def test_parse_resource_with_our_host_matches_it_case_insensitively_with_port() -> None:
    assert parse_resource("acct:Food@AID.example.org:8443", "aid.example.org:8443") == (
        "food",
        "aid.example.org:8443",
    )
    assert parse_resource("https://AID.example.org/actors/food", "aid.example.org") == (
        "https://AID.example.org/actors/food",
        "aid.example.org",
    )


@pytest.mark.parametrize(
    "resource",
    [
        "acct:food@elsewhere.example",
        "acct:food@aid.example.org:8443",
        "https://elsewhere.example/actors/food",
    ],
)
def test_parse_resource_with_our_host_says_lookup_error_for_other_hosts(resource: str) -> None:
    with pytest.raises(LookupError):
        parse_resource(resource, "aid.example.org")


@given(st.text(max_size=80))
def test_parse_resource_only_ever_raises_value_error(resource: str) -> None:
    try:
        name, host = parse_resource(resource)
    except ValueError:
        return
    assert name and host
    assert host == host.lower()


def test_parse_resource_does_not_backtrack_on_long_hostile_input() -> None:
    with pytest.raises(ValueError):
        parse_resource("acct:a@" + "a" * 50 + "-" * 5000 + "!")


# --- parse_handle ---


@pytest.mark.parametrize(
    ("handle", "expected"),
    [
        ("@ana@Social.Example", ("ana", "social.example")),
        ("ana@social.example", ("ana", "social.example")),
        ("acct:ana@social.example", ("ana", "social.example")),
        ("@Ana.Lopez@social.example:8443", ("Ana.Lopez", "social.example:8443")),
        ("!tenants@lemmy.example", ("tenants", "lemmy.example")),
    ],
)
def test_parse_handle_reads_every_handle_form(handle: str, expected: tuple[str, str]) -> None:
    assert parse_handle(handle) == expected


@pytest.mark.parametrize(
    "handle",
    [
        "",
        "@ana",
        "ana",
        "@@social.example",
        "@ana@",
        "@ana@x@y",
        "https://x.example/a",
        "@ana@social example",
        "!!tenants@lemmy.example",
        "!@tenants@lemmy.example",
    ],
)
def test_parse_handle_refuses_malformed_handles(handle: str) -> None:
    with pytest.raises(ValueError):
        parse_handle(handle)


# --- resolve ---


class FakeWebFinger:
    """Stands in for the safe HTTP client: records the URL, answers with a canned JRD."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.urls: list[str] = []

    async def __call__(self, url: str) -> Any:
        self.urls.append(url)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


MASTODON_JRD = {
    "subject": "acct:ana@social.example",
    "aliases": ["https://social.example/@ana", "https://social.example/users/ana"],
    "links": [
        {
            "rel": "http://webfinger.net/rel/profile-page",
            "type": "text/html",
            "href": "https://social.example/@ana",
        },
        {
            "rel": "self",
            "type": "application/activity+json",
            "href": "https://social.example/users/ana",
        },
        {
            "rel": "http://ostatus.org/schema/1.0/subscribe",
            "template": "https://social.example/authorize_interaction?uri={uri}",
        },
    ],
}


async def test_resolve_asks_the_handles_host_and_returns_the_self_link() -> None:
    fetch = FakeWebFinger(MASTODON_JRD)

    actor_uri = await resolve("@ana@social.example", fetch)

    assert actor_uri == "https://social.example/users/ana"
    assert fetch.urls == [
        "https://social.example/.well-known/webfinger?resource=acct:ana@social.example"
    ]


async def test_resolve_uses_the_given_scheme_for_loopback_development() -> None:
    fetch = FakeWebFinger(
        {"links": [{"rel": "self", "type": AS2, "href": "http://127.0.0.1:8102/actors/food"}]}
    )

    actor_uri = await resolve("food@127.0.0.1:8102", fetch, scheme="http")

    assert actor_uri == "http://127.0.0.1:8102/actors/food"
    assert fetch.urls == [
        "http://127.0.0.1:8102/.well-known/webfinger?resource=acct:food@127.0.0.1:8102"
    ]


async def test_resolve_refuses_schemes_other_than_http() -> None:
    with pytest.raises(ValueError):
        await resolve("ana@social.example", FakeWebFinger(MASTODON_JRD), scheme="file")


async def test_resolve_accepts_the_ld_json_self_link_and_skips_unusable_ones() -> None:
    fetch = FakeWebFinger(
        {
            "links": [
                {"rel": "self", "type": "text/html", "href": "https://x.example/html"},
                {"rel": "self", "type": AS2, "href": "javascript:alert(1)"},
                {"rel": "self", "type": AS2, "href": 42},
                "garbage",
                {
                    "rel": "self",
                    "type": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
                    "href": "https://x.example/users/ana",
                },
            ]
        }
    )

    assert await resolve("ana@x.example", fetch) == "https://x.example/users/ana"


@pytest.mark.parametrize(
    "answer",
    [
        [],
        "text",
        None,
        {},
        {"links": "nope"},
        {"links": []},
        {
            "links": [
                {
                    "rel": "http://webfinger.net/rel/profile-page",
                    "type": "text/html",
                    "href": "https://x/",
                }
            ]
        },
        {"links": [{"rel": "self", "href": "https://x.example/users/ana"}]},
        {"links": [{"rel": "self", "type": AS2}]},
        {"links": [{"rel": "self", "type": AS2, "href": "/users/ana"}]},
    ],
)
async def test_resolve_raises_invalid_document_for_unusable_answers(answer: Any) -> None:
    with pytest.raises(InvalidDocument):
        await resolve("ana@x.example", FakeWebFinger(answer))


async def test_resolve_lets_fetch_errors_through() -> None:
    with pytest.raises(NotFound):
        await resolve(
            "ana@x.example",
            FakeWebFinger(NotFound("no such account", url="https://x.example/", status=404)),
        )


async def test_resolve_refuses_a_malformed_handle_without_fetching() -> None:
    fetch = FakeWebFinger(MASTODON_JRD)

    with pytest.raises(ValueError):
        await resolve("not a handle", fetch)
    assert fetch.urls == []


# --- host-meta and NodeInfo ---


def test_host_meta_is_an_xrd_with_the_lrdd_template() -> None:
    xml = host_meta_xml("https://aid.example.org/")

    root = ElementTree.fromstring(xml)
    assert root.tag == "{http://docs.oasis-open.org/ns/xri/xrd-1.0}XRD"
    link = root.find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link is not None
    assert link.attrib == {
        "rel": "lrdd",
        "template": "https://aid.example.org/.well-known/webfinger?resource={uri}",
    }


def test_host_meta_escapes_the_base_url() -> None:
    xml = host_meta_xml('http://127.0.0.1:8101/"&<')

    link = ElementTree.fromstring(xml)[0]
    assert (
        link.attrib["template"] == 'http://127.0.0.1:8101/"&</.well-known/webfinger?resource={uri}'
    )


def test_nodeinfo_links_point_to_the_2_1_document() -> None:
    assert nodeinfo_links("https://aid.example.org") == {
        "links": [
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                "href": "https://aid.example.org/nodeinfo/2.1",
            }
        ]
    }


def test_nodeinfo_document_has_the_2_1_schema_shape() -> None:
    document = nodeinfo_document("0.1.0", 12, 5, 9, 40, metadata={"groups": 2})

    assert document == {
        "version": "2.1",
        "software": {"name": "ayni", "version": "0.1.0"},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {"users": {"total": 12, "activeMonth": 5, "activeHalfyear": 9}, "localPosts": 40},
        "metadata": {"groups": 2},
    }
    assert re.fullmatch(r"[a-z0-9-]+", document["software"]["name"])


def test_nodeinfo_document_names_repository_and_homepage_when_given() -> None:
    document = nodeinfo_document(
        "0.1.0",
        0,
        0,
        0,
        0,
        open_registrations=True,
        repository="https://git.example/ayni",
        homepage="https://ayni.example",
    )

    assert document["software"]["repository"] == "https://git.example/ayni"
    assert document["software"]["homepage"] == "https://ayni.example"
    assert document["openRegistrations"] is True
    assert document["metadata"] == {}


@pytest.mark.parametrize(
    "overrides",
    [{"users_total": -1}, {"local_posts": 1.5}, {"users_active_month": True}, {"version": ""}],
)
def test_nodeinfo_document_refuses_values_the_schema_rejects(overrides: dict[str, Any]) -> None:
    values: dict[str, Any] = {
        "version": "0.1.0",
        "users_total": 1,
        "users_active_month": 1,
        "users_active_halfyear": 1,
        "local_posts": 0,
    }
    values.update(overrides)

    with pytest.raises(ValueError):
        nodeinfo_document(**values)


def test_discovery_constants_match_the_specs() -> None:
    assert discovery.NODEINFO_REL == "http://nodeinfo.diaspora.software/ns/schema/2.1"
    assert discovery.PROFILE_PAGE_REL == "http://webfinger.net/rel/profile-page"


def test_a_nodeinfo_index_is_recognised_only_when_it_links_a_schema() -> None:
    mastodon = {
        "links": [
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                "href": "https://mastodon.example/nodeinfo/2.0",
            }
        ]
    }

    assert discovery.lists_nodeinfo(mastodon)
    assert discovery.lists_nodeinfo(discovery.nodeinfo_links("https://aid.example.org"))
    for other in (
        {},
        {"links": []},
        {"links": "x"},
        [],
        "nodeinfo",
        {"links": [{"rel": "http://example.org/ns/schema/2.0", "href": "https://x.example/"}]},
        {"links": [{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.0"}]},
    ):
        assert not discovery.lists_nodeinfo(other)
