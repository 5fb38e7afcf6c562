"""Actor documents and collections as AS2 JSON, built from plain values."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from federation.places import Area, area_to_ap
from federation.vocab import AS_CONTEXT, SECURITY_CONTEXT

# Mastodon reads these terms by their compacted names; it does not fetch contexts.
ACTOR_CONTEXT: list[Any] = [
    AS_CONTEXT,
    SECURITY_CONTEXT,
    {
        "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
        "toot": "http://joinmastodon.org/ns#",
        "discoverable": "toot:discoverable",
        "featured": {"@id": "toot:featured", "@type": "@id"},
    },
]


@dataclass(frozen=True)
class Picture:
    """An avatar (`icon`) or banner (`image`): Mastodon shows an Image with a url and mediaType."""

    url: str
    media_type: str
    name: str  # the alt text

    def to_ap(self) -> dict[str, Any]:
        return {"type": "Image", "mediaType": self.media_type, "url": self.url, "name": self.name}


@dataclass(frozen=True)
class ActorValues:
    uri: str
    type: str  # Group, Person or Application
    username: str
    name: str
    summary_html: str
    profile_url: str
    inbox_uri: str
    outbox_uri: str
    followers_uri: str
    following_uri: str
    featured_uri: str
    shared_inbox_uri: str
    public_key_pem: str
    manually_approves_followers: bool
    published: datetime
    icon: Picture | None = None
    image: Picture | None = None
    area: Area | None = None  # a group's service area, published as its `location`


def actor_to_ap(actor: ActorValues) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": ACTOR_CONTEXT,
        "id": actor.uri,
        "type": actor.type,
        "preferredUsername": actor.username,
        "name": actor.name,
        "summary": actor.summary_html,
        "url": actor.profile_url,
        "inbox": actor.inbox_uri,
        "outbox": actor.outbox_uri,
        "followers": actor.followers_uri,
        "following": actor.following_uri,
        "featured": actor.featured_uri,
        "endpoints": {"sharedInbox": actor.shared_inbox_uri},
        "publicKey": {
            "id": f"{actor.uri}#main-key",
            "owner": actor.uri,
            "publicKeyPem": actor.public_key_pem,
        },
        "manuallyApprovesFollowers": actor.manually_approves_followers,
        "discoverable": actor.type != "Application",
        "published": iso(actor.published),
    }
    if actor.icon:
        document["icon"] = actor.icon.to_ap()
    if actor.image:
        document["image"] = actor.image.to_ap()
    if actor.area is not None:
        document["location"] = area_to_ap(actor.area)
    return document


def service_to_ap(group: ActorValues, service_uri: str) -> dict[str, Any]:
    """A group's companion `Service`: the author Lemmy needs for what the group posts as itself
    (Lemmy takes a post's creator for a Person, Service or Organization, never a Group, and its
    community from `to`/`cc`/`audience`). It speaks for nobody else: its inbox is the group's,
    its key the group's under its own key id, and it follows and is followed by no one."""
    document = {
        key: value
        for key, value in actor_to_ap(group).items()
        if key not in ("followers", "following", "featured", "manuallyApprovesFollowers")
    }
    document.update(
        id=service_uri,
        type="Service",
        publicKey={
            "id": f"{service_uri}#main-key",
            "owner": service_uri,
            "publicKeyPem": group.public_key_pem,
        },
        discoverable=False,
    )
    return document


# What a peer needs to verify our signatures and deliver to us, and nothing about the actor
# itself: served to unsigned GETs under authorized fetch (Mastodon serves the same fields).
MINIMAL_FIELDS = (
    "@context",
    "id",
    "type",
    "preferredUsername",
    "inbox",
    "outbox",
    "endpoints",
    "publicKey",
)


def minimal_actor_to_ap(actor: ActorValues) -> dict[str, Any]:
    return minimal(actor_to_ap(actor))


def minimal(document: dict[str, Any]) -> dict[str, Any]:
    return {key: document[key] for key in MINIMAL_FIELDS}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def collection(uri: str, total: int, first_page_uri: str | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": uri,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if first_page_uri:
        document["first"] = first_page_uri
    return document


def collection_page(
    uri: str, part_of: str, items: list[Any], next_uri: str | None, prev_uri: str | None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": uri,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": items,
    }
    if next_uri:
        document["next"] = next_uri
    if prev_uri:
        document["prev"] = prev_uri
    return document
