"""Who may like, reply to, boost or quote an object: GoToSocial's `interactionPolicy`.

GoToSocial reads `canLike`, `canReply` and `canAnnounce`; Mastodon 4.5 reads `canQuote` (FEP-044f)
and asks with a `QuoteRequest`. Each sub-policy lists, in `automaticApproval`, who may do it
without asking and, in `manualApproval`, who may ask. A server that writes a sub-policy says it
enforces it, so we write only what Ayni holds to. `permission` reads other servers' policies.
"""

from collections.abc import Collection
from enum import StrEnum
from typing import Any

from federation.vocab import PUBLIC, as_list, id_of, is_public

__all__ = [
    "GTS_NAMESPACE",
    "POLICY_TERMS",
    "Permission",
    "permission",
    "published_policy",
]

GTS_NAMESPACE = "https://gotosocial.org/ns#"

# Inline, as Mastodon defines them (it never fetches a context); GoToSocial's own terms alike.
POLICY_TERMS: dict[str, Any] = {
    "gts": GTS_NAMESPACE,
    "interactionPolicy": {"@id": "gts:interactionPolicy", "@type": "@id"},
    "canLike": {"@id": "gts:canLike", "@type": "@id"},
    "canReply": {"@id": "gts:canReply", "@type": "@id"},
    "canAnnounce": {"@id": "gts:canAnnounce", "@type": "@id"},
    "canQuote": {"@id": "gts:canQuote", "@type": "@id"},
    "automaticApproval": {"@id": "gts:automaticApproval", "@type": "@id"},
    "manualApproval": {"@id": "gts:manualApproval", "@type": "@id"},
}


def published_policy(*, author_uri: str, group_uri: str, audience: list[str]) -> dict[str, Any]:
    """The policy of everything Ayni publishes about an item addressed to `audience` (Public,
    or the group's followers).

    - Quoting: the group only. A quote carries an ask (housing, health, papers) into timelines
      and threads its author never chose, and the quote outlives our retention: a `Delete` of
      the ask does not remove the words quoted. Nobody may ask for approval (no
      `manualApproval`): `QuoteRequest`s are answered with `Reject`.
    - Liking and replying: anyone who can see it. Replies are how people answer an ask, and a
      like is accepted and forgotten (`inbox/handlers/like.py`). For a followers-only item that
      is its audience, as GoToSocial's default for followers-only posts (author and followers),
      so Public appears nowhere in a document that is not public.
    - Boosting a public item: anyone; spreading it is the point. A followers-only item: only
      the group (it Announces a member's item to its followers, FEP-1b12). GoToSocial's own
      default for followers-only posts is "the author only", and its docs advise limiting boosts
      of followers-only posts to the author: a boost would carry the item past the audience
      the group chose.
    GoToSocial always lists the post's author among those approved unless Public covers her; we
    do the same, so a member who posted in her own name is named too.
    """
    owners = _unique(author_uri, group_uri)
    public = PUBLIC in audience
    seen_by = [PUBLIC] if public else _unique(*owners, *audience)
    return {
        "canLike": {"automaticApproval": list(seen_by)},
        "canReply": {"automaticApproval": list(seen_by)},
        "canAnnounce": {"automaticApproval": [PUBLIC] if public else owners},
        "canQuote": {"automaticApproval": [group_uri]},
    }


class Permission(StrEnum):
    ALLOWED = "allowed"
    NEEDS_APPROVAL = "needs approval"  # the author's server would have to Accept it first
    DENIED = "denied"


def permission(
    document: object,
    interaction: str,
    actor_uri: str,
    *,
    member_of: Collection[str] = (),
) -> Permission:
    """May `actor_uri` do `interaction` ("canAnnounce", "canQuote"...) to this object?

    `member_of` are the collections the actor is known to be in (the author's followers, when
    it follows the author). As GoToSocial reads it: no policy, or no such sub-policy, allows
    everyone; the more specific entry wins (the actor itself over a collection), and an entry
    in both lists is approved automatically. The deprecated `always`/`approvalRequired` count
    when the new names are absent. The author may always interact with her own object.
    """
    rules = _rules(document, interaction)
    if rules is None:
        return Permission.ALLOWED
    if actor_uri in _authors(document):
        return Permission.ALLOWED
    automatic, manual = rules
    if actor_uri in automatic:
        return Permission.ALLOWED
    if actor_uri in manual:
        return Permission.NEEDS_APPROVAL
    groups = {PUBLIC, *member_of}
    if not groups.isdisjoint(automatic):
        return Permission.ALLOWED
    if not groups.isdisjoint(manual):
        return Permission.NEEDS_APPROVAL
    return Permission.DENIED


def _rules(document: object, interaction: str) -> tuple[set[str], set[str]] | None:
    if not isinstance(document, dict):
        return None
    policy = document.get("interactionPolicy")
    if not isinstance(policy, dict) or not policy:
        return None
    rules = policy.get(interaction)
    if not isinstance(rules, dict) or not rules:
        return None
    automatic, manual = _uris(rules.get("automaticApproval")), _uris(rules.get("manualApproval"))
    if not automatic and not manual:
        automatic, manual = _uris(rules.get("always")), _uris(rules.get("approvalRequired"))
    return automatic, manual


def _uris(value: object) -> set[str]:
    found = set()
    for entry in as_list(value):
        uri = id_of(entry)
        if uri is not None:
            found.add(PUBLIC if is_public(uri) else uri)
    return found


def _authors(document: object) -> set[str]:
    if not isinstance(document, dict):
        return set()
    return {uri for uri in map(id_of, as_list(document.get("attributedTo"))) if uri}


def _unique(*uris: str) -> list[str]:
    return list(dict.fromkeys(uris))
