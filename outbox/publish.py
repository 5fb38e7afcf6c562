"""`publish`: store an activity (dereferenceable at its id) and one fan-out job; return at once.

Called inside the caller's transaction, so the change that caused the activity and the
activity itself commit together or not at all. Delivery happens later, in the workers.
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models.actors import LocalActor
from models.queue import Activity, Visibility
from federation import vocab


async def publish(
    session: AsyncSession,
    actor: LocalActor,
    activity: dict[str, Any],
    visibility: Visibility,
    *,
    followers: bool = False,
    to_actors: list[str] | None = None,
) -> Activity:
    """`followers`: deliver to the actor's followers' servers; `to_actors`: to these remote
    actors (a Follow's target, an Accept's follower, a DM's recipients). Members-only
    activities are stored and never delivered."""
    if visibility == Visibility.MEMBERS:
        followers, to_actors = False, []
    row = Activity(
        uri=activity["id"],
        type=vocab.types_of(activity)[0],
        actor_id=actor.id,
        object_uri=vocab.id_of(activity.get("object")),
        document=activity,
        visibility=visibility,
        audience={"followers": followers, "actors": list(to_actors or [])},
    )
    session.add(row)
    await session.flush()
    return row
