"""A remote actor document read into plain values: what the inbox caches about an actor."""

from dataclasses import dataclass, field
from typing import Any

from federation import vocab
from federation.errors import InvalidDocument
from federation.places import Area, area_from_ap

_MAX_FIELD = 2048


@dataclass(frozen=True)
class RemoteActorValues:
    uri: str
    type: str
    host: str
    username: str
    name: str
    inbox_uri: str
    shared_inbox_uri: str | None
    followers_uri: str | None
    also_known_as: list[str] = field(default_factory=list)
    area: Area | None = None  # a Group's service area (its `location`)


def actor_from_ap(document: dict[str, Any]) -> RemoteActorValues:
    """Read an actor document; InvalidDocument when it is not one we can talk to."""
    uri = vocab.id_of(document)
    if uri is None or len(uri) > _MAX_FIELD:
        raise InvalidDocument("the actor document has no usable id")
    types = [t for t in vocab.types_of(document) if t in vocab.ACTOR_TYPES]
    if not types:
        raise InvalidDocument(f"{uri} is not an actor ({vocab.types_of(document) or 'no type'})")
    host = vocab.host_of(uri)
    inbox = vocab.id_of(document.get("inbox"))
    if (
        host is None
        or inbox is None
        or len(inbox) > _MAX_FIELD
        or not vocab.same_origin(inbox, uri)
    ):
        raise InvalidDocument(f"the actor {uri} has no inbox on its own server")
    endpoints = document.get("endpoints")
    shared = vocab.id_of(endpoints.get("sharedInbox")) if isinstance(endpoints, dict) else None
    followers = vocab.id_of(document.get("followers"))
    return RemoteActorValues(
        uri=uri,
        type=types[0],
        host=host,
        username=_text(document.get("preferredUsername"), 255),
        name=_text(document.get("name"), 255),
        inbox_uri=inbox,
        shared_inbox_uri=shared if shared and len(shared) <= _MAX_FIELD else None,
        followers_uri=followers if followers and len(followers) <= _MAX_FIELD else None,
        also_known_as=vocab.ids_of(document.get("alsoKnownAs")),
        area=area_from_ap(document.get("location")) if types[0] == "Group" else None,
    )


def _text(value: object, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""
