"""What a group sends so that community software (Lemmy, Mbin, PieFed) shows its items.

FEP-1b12: a group passes on each activity about a post in it by announcing the activity itself.
Lemmy takes nothing else from a group: an `Announce` of a bare object id cannot be read as an
activity (crates/apub/activities/src/community/announce.rs), and a `Create` whose actor is a
`Group` is refused, because a post's creator must be a Person, Service or Organization
(crates/apub/objects/src/protocol/person.rs `UserTypes`) and the activity's actor must be that
creator (crates/apub/activities/src/create_or_update/post.rs). Lemmy finds the community in the
object's `to`/`cc` and checks `audience` against it (crates/apub/objects/src/protocol/page.rs).

So what a group posts as itself is passed on as its companion `Service`'s activity
(`federation.actors.service_to_ap`), under an id of its own that nothing serves: Mastodon, which
follows such an Announce by fetching the activity's id, then finds nothing and shows nothing
twice, while it keeps showing the group's own `Create` exactly as before. A member's item is
passed on as the member's own activity, which Mastodon already boosts through the group's
Announce of the object.
"""

import copy
from typing import Any

__all__ = ["announce"]


def announce(
    activity: dict[str, Any],
    *,
    group_uri: str,
    announce_id: str,
    service_uri: str | None = None,
    service_activity_id: str | None = None,
) -> dict[str, Any]:
    """The group's Announce of `activity` (a Create, Update or Delete about one of its items).
    With `service_uri` (the group speaks for itself) the activity inside is the Service's."""
    inner = copy.deepcopy(activity)
    context = inner.pop("@context", None)
    if service_uri is not None:
        if service_activity_id is None:
            raise ValueError("the Service's activity needs an id of its own")
        inner["id"], inner["actor"] = service_activity_id, service_uri
        obj = inner.get("object")
        if isinstance(obj, dict) and "attributedTo" in obj:
            obj["attributedTo"] = service_uri
    document: dict[str, Any] = {"@context": context} if context is not None else {}
    document.update(
        id=announce_id,
        type="Announce",
        actor=group_uri,
        to=list(activity.get("to", [])),
        cc=[uri for uri in activity.get("cc", []) if uri != group_uri],
        object=inner,
    )
    return document
