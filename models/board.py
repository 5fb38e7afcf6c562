"""The network board's one rule of who sees what, read by the board's page and by matching.

Local items: every group's public ones, and all those of the viewer's own groups (members-only
included). Remote items: public ones of any group we store; followers-only ones only for a group
that follows their author or their group (it is to that group that they were delivered); nothing
from a server the instance refuses (blocked, or not allowed in allowlist mode).
"""

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from federation.visibility import Visibility
from models.actors import LocalActor
from models.follows import Direction, Follow, FollowState
from models.items import Item, RemoteItem
from models.policy import Rules
from models.remote import RemoteActor


async def followed(session: AsyncSession, groups: list[LocalActor]) -> tuple[set[int], set[str]]:
    """Ids and uris of the remote actors that these groups follow (accepted)."""
    if not groups:
        return set(), set()
    rows = await session.execute(
        select(RemoteActor.id, RemoteActor.uri)
        .join(Follow, Follow.remote_actor_id == RemoteActor.id)
        .where(
            Follow.local_actor_id.in_([g.id for g in groups]),
            Follow.direction == Direction.OUTBOUND,
            Follow.state == FollowState.ACCEPTED,
        )
    )
    found = rows.all()
    return {row.id for row in found}, {row.uri for row in found}


def shows_local(groups: list[LocalActor]) -> ColumnElement[bool]:
    """Whether `Item` (in the enclosing query) is seen by members of `groups`."""
    return or_(Item.visibility == Visibility.PUBLIC, Item.group_id.in_([g.id for g in groups]))


def shows_remote(
    row: RemoteItem,
    actor: RemoteActor,
    followed_ids: set[int],
    followed_uris: set[str],
    rules: Rules,
) -> bool:
    """Whether a remote item (posted by `actor`) is seen by the groups that follow
    `followed_ids`/`followed_uris` (`followed`)."""
    if (
        row.visibility != Visibility.PUBLIC
        and row.remote_actor_id not in followed_ids
        and row.group_uri not in followed_uris
    ):
        return False
    return not rules.refuses(actor.host)
