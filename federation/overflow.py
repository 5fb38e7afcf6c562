"""Overflow: an open item a group passes to its allies, hop by hop, with the road it took.

The hop, the limit and the path ride on the `Announce` as terms of its inline context (Mastodon
fetches no context and ignores what it does not know); the item is named by its id, never
copied, so replies and "I can help" reach its origin. Everything here is read from untrusted
payloads: a route out of range is refused, never repaired.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from federation.errors import InvalidDocument
from federation.vocab import AS_CONTEXT, id_of

__all__ = ["CONTEXT", "MAX_HOPS", "Route", "announce", "route_of"]

MAX_HOPS = 2
_MAX_URI = 2048

CONTEXT: list[Any] = [
    AS_CONTEXT,
    {
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "ayni": "https://w3id.org/ayni/ns#",
        "overflowHop": {"@id": "ayni:overflowHop", "@type": "xsd:integer"},
        "overflowHops": {"@id": "ayni:overflowHops", "@type": "xsd:integer"},
        "overflowPath": {"@id": "ayni:overflowPath", "@type": "@id", "@container": "@list"},
    },
]


@dataclass(frozen=True, slots=True)
class Route:
    """`hop`: this Announce's (1 from the origin); `hops`: how far the origin lets it go;
    `path`: the origin group first, the group that sent this Announce last."""

    hop: int
    hops: int
    path: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 1 <= self.hop <= self.hops <= MAX_HOPS:
            raise ValueError(f"an overflow travels 1 to {MAX_HOPS} hops")
        if len(self.path) != self.hop or len(set(self.path)) != len(self.path):
            raise ValueError("an overflow's path names each group on it once, one per hop")

    @property
    def origin(self) -> str:
        return self.path[0]

    @property
    def sender(self) -> str:
        return self.path[-1]

    def onward(self, group_uri: str) -> "Route | None":
        """The route of the next hop from this group, or None when the limit is reached."""
        if self.hop >= self.hops or group_uri in self.path:
            return None
        return Route(self.hop + 1, self.hops, (*self.path, group_uri))


def announce(
    *, id: str, actor: str, object_uri: str, ally_uri: str, route: Route, published: datetime
) -> dict[str, Any]:
    """The Announce of an item's id to one ally, addressed to it alone."""
    return {
        "@context": CONTEXT,
        "id": id,
        "type": "Announce",
        "actor": actor,
        "object": object_uri,
        "to": [ally_uri],
        "published": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "overflowHop": route.hop,
        "overflowHops": route.hops,
        "overflowPath": list(route.path),
    }


def route_of(activity: dict[str, Any]) -> Route | None:
    """None when the activity carries no overflow; InvalidDocument when it carries a route that is
    malformed, out of range, or not ending with the activity's own actor."""
    if not any(key in activity for key in ("overflowHop", "overflowHops", "overflowPath")):
        return None
    hop, hops, path = (
        activity.get("overflowHop"),
        activity.get("overflowHops"),
        activity.get("overflowPath"),
    )
    if isinstance(path, dict):  # a JSON-LD list written out in full
        path = path.get("@list")
    if not (_integer(hop) and _integer(hops) and isinstance(path, list) and path):
        raise InvalidDocument("an overflow needs overflowHop, overflowHops and overflowPath")
    uris = [id_of(entry) for entry in path[: MAX_HOPS + 1]]
    if len(path) > MAX_HOPS or any(u is None or len(u) > _MAX_URI for u in uris):
        raise InvalidDocument("an overflow's path is too long or names no group")
    try:
        route = Route(hop, hops, tuple(u for u in uris if u is not None))  # type: ignore[arg-type]
    except ValueError as e:
        raise InvalidDocument(str(e)) from None
    if route.sender != id_of(activity.get("actor")):
        raise InvalidDocument("an overflow's path does not end with the group that sent it")
    return route


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
