"""The `interactionPolicy` we publish as GoToSocial and Mastodon 4.5 read it, and the one we read
from GoToSocial posts before our groups boost them."""

from datetime import UTC, datetime
from typing import Any

import pytest

from federation import calls
from federation.interaction_policy import Permission, permission
from federation.items import ITEM_CONTEXT, to_ap
from federation.vocab import PUBLIC
from tests.unit.test_items import ALICE, ASK, BOB, CALL, EXAMPLES, FOLLOWERS, GROUP, OFFER

GTS = "https://gotosocial.org/ns#"
# The terms exactly as Mastodon 4.5 defines them inline (ActivityPub::Adapter,
# `interaction_policies`), plus GoToSocial's three other sub-policies in the same namespace.
EXPECTED_TERMS = {
    "gts": GTS,
    "interactionPolicy": {"@id": "gts:interactionPolicy", "@type": "@id"},
    "canQuote": {"@id": "gts:canQuote", "@type": "@id"},
    "canLike": {"@id": "gts:canLike", "@type": "@id"},
    "canReply": {"@id": "gts:canReply", "@type": "@id"},
    "canAnnounce": {"@id": "gts:canAnnounce", "@type": "@id"},
    "automaticApproval": {"@id": "gts:automaticApproval", "@type": "@id"},
    "manualApproval": {"@id": "gts:manualApproval", "@type": "@id"},
}


def test_the_item_context_defines_every_policy_term_as_mastodon_does() -> None:
    terms = ITEM_CONTEXT[1]

    for name, definition in EXPECTED_TERMS.items():
        assert terms[name] == definition


def test_a_public_ask_may_be_liked_replied_to_and_boosted_by_anyone_quoted_by_its_group() -> None:
    policy = to_ap(ASK)["interactionPolicy"]

    assert policy == {
        "canLike": {"automaticApproval": [PUBLIC]},
        "canReply": {"automaticApproval": [PUBLIC]},
        "canAnnounce": {"automaticApproval": [PUBLIC]},
        "canQuote": {"automaticApproval": [GROUP]},
    }


def test_a_followers_only_offer_is_boosted_only_by_author_and_group_answered_by_audience() -> None:
    policy = to_ap(OFFER)["interactionPolicy"]

    assert OFFER.author_uri == BOB
    assert policy["canAnnounce"] == {"automaticApproval": [BOB, GROUP]}
    assert policy["canQuote"] == {"automaticApproval": [GROUP]}
    assert policy["canReply"] == {"automaticApproval": [BOB, GROUP, FOLLOWERS]}
    assert policy["canLike"] == {"automaticApproval": [BOB, GROUP, FOLLOWERS]}


def test_an_as_group_call_names_the_group_alone_which_mastodon_reads_as_nobody_may_quote() -> None:
    # Mastodon's "nobody" is automaticApproval holding just the author (NoteSerializer).
    document = to_ap(CALL)

    assert document["attributedTo"] == GROUP
    assert document["interactionPolicy"]["canQuote"] == {"automaticApproval": [GROUP]}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_sub_policy_has_the_shape_gotosocial_and_mastodon_parse(name: str) -> None:
    policy = to_ap(EXAMPLES[name])["interactionPolicy"]

    assert set(policy) == {"canLike", "canReply", "canAnnounce", "canQuote"}
    for rules in policy.values():
        # No manualApproval anywhere: we never approve by hand, so we do not invite requests.
        assert set(rules) == {"automaticApproval"}
        approved = rules["automaticApproval"]
        assert approved and all(isinstance(u, str) and u.startswith("https://") for u in approved)


@pytest.mark.parametrize("public", [True, False])
def test_a_calls_poll_carries_the_same_policy_and_defines_its_terms(public: bool) -> None:
    followers = GROUP + "/followers"
    question = calls.question(
        uri=CALL.uri + "/poll",
        call_uri=CALL.uri,
        group_uri=GROUP,
        to=[PUBLIC] if public else [followers],
        cc=[followers] if public else [],
        language="en",
        title=CALL.title,
        when="Saturday",
        starts_at=datetime(2026, 12, 5, 10, tzinfo=UTC),
        published=datetime(2026, 11, 20, tzinfo=UTC),
        coming=3,
        cannot=1,
    )

    assert question["@context"][1] == EXPECTED_TERMS
    assert question["interactionPolicy"]["canQuote"] == {"automaticApproval": [GROUP]}
    policy = question["interactionPolicy"]
    assert policy["canAnnounce"]["automaticApproval"] == ([PUBLIC] if public else [GROUP])
    assert policy["canReply"]["automaticApproval"] == ([PUBLIC] if public else [GROUP, followers])


# --- reading other servers' policies ---

AUTHOR = "https://gts.example/users/marta"
MARTA_FOLLOWERS = AUTHOR + "/followers"


def gts_post(policy: object) -> dict[str, Any]:
    """A public GoToSocial status as it federates it (v0.20: new and deprecated names)."""
    document: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://gotosocial.org/ns"],
        "id": "https://gts.example/users/marta/statuses/01J",
        "type": "Note",
        "attributedTo": AUTHOR,
        "to": PUBLIC,
        "cc": MARTA_FOLLOWERS,
        "content": "<p>Spare bedroom for two weeks</p>",
    }
    if policy is not None:
        document["interactionPolicy"] = policy
    return document


def announce_rules(automatic: object = None, manual: object = None) -> dict[str, Any]:
    rules: dict[str, Any] = {}
    if automatic is not None:
        rules["automaticApproval"] = automatic
    if manual is not None:
        rules["manualApproval"] = manual
    return {"canLike": {"automaticApproval": PUBLIC}, "canAnnounce": rules}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (None, Permission.ALLOWED),  # no policy: GoToSocial's default lets anyone boost
        ({}, Permission.ALLOWED),
        ({"canReply": {"automaticApproval": AUTHOR}}, Permission.ALLOWED),  # no canAnnounce
        (announce_rules(PUBLIC), Permission.ALLOWED),
        (announce_rules("as:Public"), Permission.ALLOWED),
        (announce_rules([AUTHOR]), Permission.DENIED),  # "nobody but the author"
        (announce_rules(AUTHOR, PUBLIC), Permission.NEEDS_APPROVAL),
        (announce_rules([AUTHOR, GROUP]), Permission.ALLOWED),
        (announce_rules(PUBLIC, GROUP), Permission.NEEDS_APPROVAL),  # the specific entry wins
        (announce_rules(GROUP, GROUP), Permission.ALLOWED),  # both lists: automatic wins
        (announce_rules([AUTHOR, MARTA_FOLLOWERS]), Permission.DENIED),  # we do not follow her
        ({"canAnnounce": {"always": [AUTHOR]}}, Permission.DENIED),  # pre-v0.20 names
        ({"canAnnounce": {"always": [PUBLIC]}}, Permission.ALLOWED),
        ({"canAnnounce": {"approvalRequired": [PUBLIC]}}, Permission.NEEDS_APPROVAL),
    ],
)
def test_a_gotosocial_posts_policy_decides_whether_the_group_may_boost_it(
    policy: object, expected: Permission
) -> None:
    assert permission(gts_post(policy), "canAnnounce", GROUP) == expected


def test_a_group_following_the_author_may_boost_what_her_followers_may() -> None:
    post = gts_post(announce_rules([AUTHOR, MARTA_FOLLOWERS]))

    assert permission(post, "canAnnounce", GROUP, member_of={MARTA_FOLLOWERS}) == (
        Permission.ALLOWED
    )


def test_the_author_may_always_boost_her_own_post() -> None:
    assert permission(gts_post(announce_rules([])), "canAnnounce", AUTHOR) == Permission.ALLOWED
    assert permission(gts_post(announce_rules([ALICE])), "canAnnounce", AUTHOR) == (
        Permission.ALLOWED
    )
