"""A group's allies: the groups it follows that follow it back (both accepted), plus those it
marks as allies, minus those it marks off. The mark is `Ally.allied`, one row per pair; the
relay rules in the same table (`allied` None) say nothing about it.

Escalation's relay requests, the relay requests we answer and overflow all ask here: one
definition, read the same way by the group that asks and by the group that is asked.
"""

from sqlalchemy import ColumnElement, and_, exists, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from federation.places import Area
from models.actors import ActorType, LocalActor
from models.follows import Direction, Follow, FollowState
from models.moderation import Ally
from models.remote import RemoteActor


class NotAGroup(ValueError):
    """Only a group can be an ally."""


def _allied(group: LocalActor) -> ColumnElement[bool]:
    """Whether `RemoteActor` (in the enclosing query) is the group's ally."""
    out, back = aliased(Follow), aliased(Follow)

    def follow(row: type[Follow], direction: Direction) -> ColumnElement[bool]:
        return exists().where(
            row.local_actor_id == group.id,
            row.remote_actor_id == RemoteActor.id,
            row.direction == direction,
            row.state == FollowState.ACCEPTED,
        )

    def marked(on: bool) -> ColumnElement[bool]:
        return exists().where(
            Ally.group_id == group.id,
            Ally.remote_actor_id == RemoteActor.id,
            Ally.allied.is_(on),
        )

    mutual = and_(follow(out, Direction.OUTBOUND), follow(back, Direction.INBOUND))
    return and_(
        RemoteActor.type == "Group",
        RemoteActor.gone.is_(False),
        or_(marked(True), and_(mutual, not_(marked(False)))),
    )


async def allies(session: AsyncSession, group: LocalActor) -> list[RemoteActor]:
    return list(
        await session.scalars(select(RemoteActor).where(_allied(group)).order_by(RemoteActor.id))
    )


async def is_ally(session: AsyncSession, group: LocalActor, remote: RemoteActor) -> bool:
    found = await session.scalar(
        select(RemoteActor.id).where(RemoteActor.id == remote.id, _allied(group))
    )
    return found is not None


async def mark(session: AsyncSession, group: LocalActor, remote: RemoteActor, on: bool) -> None:
    """The group's own word: `on`, an ally even without mutual follows; off, never one, even
    with them."""
    if group.type != ActorType.GROUP:
        raise NotAGroup(f"@{group.username} is not a group")
    if remote.type != "Group":
        raise NotAGroup(f"{remote.uri} is a {remote.type}, not a group: only groups are allies")
    row = await session.scalar(
        select(Ally).where(
            Ally.group_id == group.id,
            Ally.remote_actor_id == remote.id,
            Ally.allied.is_not(None),
        )
    )
    if row is None:
        row = Ally(group_id=group.id, remote_actor_id=remote.id)
        session.add(row)
    row.allied = on
    await session.flush()


async def marks(session: AsyncSession, group: LocalActor) -> dict[int, bool]:
    """The group's explicit marks, by remote actor id."""
    rows = await session.execute(
        select(Ally.remote_actor_id, Ally.allied).where(
            Ally.group_id == group.id, Ally.allied.is_not(None)
        )
    )
    return {actor_id: bool(on) for actor_id, on in rows}


def area_of(remote: RemoteActor) -> Area | None:
    if remote.area_latitude is None or remote.area_longitude is None or not remote.area_radius_km:
        return None
    return Area(remote.area_latitude, remote.area_longitude, remote.area_radius_km)
