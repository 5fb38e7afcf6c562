"""`publish`: store an activity (dereferenceable at its id) and one fan-out job; return at once.

Called inside the caller's transaction, so the change that caused the activity and the
activity itself commit together or not at all. Delivery happens later, in the workers.
"""

from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from federation import communities, vocab
from federation.visibility import Visibility
from models.actors import LocalActor
from models.queue import Activity
from models.uris import Uris


async def publish(
    session: AsyncSession,
    actor: LocalActor,
    activity: dict[str, Any],
    visibility: Visibility,
    *,
    followers: bool = False,
    to_actors: list[str] | None = None,
    followers_of: list[LocalActor] | None = None,
    to_inboxes: list[str] | None = None,
    about: str | None = None,
) -> Activity:
    """`followers`: deliver to the actor's followers' servers; `to_actors`: to these remote
    actors (a Follow's target, an Accept's follower, a DM's recipients); `followers_of`: also to
    the followers of these local actors (a member's Update of an item its group shared);
    `to_inboxes`: also to these inboxes, as they are (the servers an item reached, asked to
    delete it: some may no longer follow anyone here); `about`: the object it concerns, when its
    object is another activity (a group passing one on, FEP-1b12), so that what is done to the
    object's activities (narrowing, retention) is done to it too. Members-only activities are
    stored and never delivered."""
    if visibility == Visibility.MEMBERS:
        followers, to_actors, followers_of, to_inboxes = False, [], [], []
    activity = addressed(activity, visibility, list(to_actors or []))
    row = Activity(
        uri=activity["id"],
        type=vocab.types_of(activity)[0],
        actor_id=actor.id,
        object_uri=about or vocab.id_of(activity.get("object")),
        document=activity,
        visibility=visibility,
        audience={
            "followers": followers,
            "actors": list(to_actors or []),
            **({"followers_of": [a.id for a in followers_of]} if followers_of else {}),
            **({"inboxes": list(to_inboxes)} if to_inboxes else {}),
        },
    )
    session.add(row)
    await session.flush()
    return row


async def pass_on(
    session: AsyncSession,
    uris: Uris,
    group: LocalActor,
    activity: Activity,
    *,
    to_inboxes: list[str] | None = None,
) -> Activity | None:
    """The group's FEP-1b12 Announce of an activity about one of its items (published just
    before, by the group or the item's author), for Lemmy and Mbin followers
    (`federation.communities`); to the group's followers, and `to_inboxes`."""
    if activity.visibility == Visibility.MEMBERS:
        return None
    group_uri = uris.actor(group.username)
    own = activity.actor_id == group.id
    document = communities.announce(
        activity.document,
        group_uri=group_uri,
        announce_id=uris.activity(uuid4().hex),
        service_uri=uris.service(group_uri) if own else None,
        service_activity_id=uris.activity(uuid4().hex) if own else None,
    )
    return await publish(
        session,
        group,
        document,
        Visibility(activity.visibility),
        followers=True,
        to_inboxes=to_inboxes,
        about=activity.object_uri,
    )


def addressed(
    activity: dict[str, Any], visibility: Visibility, to_actors: list[str]
) -> dict[str, Any]:
    """Fill in `to`/`cc` from the visibility when the caller left them out (its own win):
    public: to Public, cc followers; followers: to followers; direct: to the named actors;
    members: to nobody outside. The embedded object gets the same addressing."""
    if "to" in activity or "cc" in activity:
        return activity
    followers = f"{vocab.id_of(activity.get('actor'))}/followers"  # models.uris.Uris.followers
    to, cc = {
        Visibility.PUBLIC: ([vocab.PUBLIC, *to_actors], [followers]),
        Visibility.FOLLOWERS: ([followers, *to_actors], []),
        Visibility.DIRECT: (to_actors, []),
        Visibility.MEMBERS: ([], []),
    }[visibility]
    addressing = {"to": to, "cc": cc} if cc else {"to": to}
    result = {**activity, **addressing}
    embedded = activity.get("object")
    if isinstance(embedded, dict) and "to" not in embedded and "cc" not in embedded:
        result["object"] = {**embedded, **addressing}
    return result
